"""The Debian packages a node, the image build and the local Argo CD need, installed or named
when missing.

The node runs the machine's own container runtime pieces (containerd, runc, the CNI
plugins, iptables) and the image build uses buildah and mmdebstrap: all of them Debian
packages, none a Go module worth building. As root with apt-get (a CI machine, this
project's development machines) a missing one is installed on the spot, with the command
shown; anywhere else the error names the exact ``apt-get install`` line to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class HostDependencyError(RuntimeError):
    """A host package is missing and could not be installed; the message says which."""


@dataclass(frozen=True)
class Need:
    """Something on the host, found by a path or a command, and the package that brings it."""

    package: str
    command: str = ""
    path: str = ""

    def present(self) -> bool:
        if self.path:
            return Path(self.path).exists()
        return shutil.which(self.command) is not None


# What the node runs. The CNI plugins are not on PATH: Debian puts them in /usr/lib/cni.
CNI_BIN_DIR = Path("/usr/lib/cni")
NODE = (
    Need("containerd", command="containerd"),
    Need("containerd", command="ctr"),
    Need("runc", command="runc"),
    Need("iptables", command="iptables"),
    Need("iproute2", command="ip"),
    Need("containernetworking-plugins", path=str(CNI_BIN_DIR / "bridge")),
    Need("containernetworking-plugins", path=str(CNI_BIN_DIR / "host-local")),
    Need("containernetworking-plugins", path=str(CNI_BIN_DIR / "loopback")),
)
# What the local Argo CD needs beside its own binary: its cache (Argo CD speaks to Redis
# and will not start without one) and git, which the repo-server runs for every fetch and
# the tests use to serve their repository.
ARGOCD = (
    Need("redis-server", command="redis-server"),
    Need("git", command="git"),
)
# What `make image` runs. buildah only *recommends* an OCI runtime, so an install without
# recommends has none and every RUN step fails with "exec: no command": name runc here.
IMAGE = (
    Need("buildah", command="buildah"),
    Need("runc", command="runc"),
    Need("mmdebstrap", command="mmdebstrap"),
)


def _say(message: str) -> None:
    print(f"[devcluster] {message}", file=sys.stderr, flush=True)


def missing_packages(needs: Iterable[Need]) -> list[str]:
    return list(dict.fromkeys(n.package for n in needs if not n.present()))


def ensure(needs: Iterable[Need], what: str) -> None:
    """Install what is missing (as root with apt-get), or fail naming the packages."""
    needs = tuple(needs)
    packages = missing_packages(needs)
    if not packages:
        return
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise HostDependencyError(
            f"{what} needs these Debian packages: {' '.join(packages)}\n"
            f"install them with:  sudo {' '.join(command)}"
        )
    _say(f"{what} needs {' '.join(packages)}; installing: {' '.join(command)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # A fresh machine may have no package lists yet, or stale ones.
    for step in (["apt-get", "update", "-q"], command):
        proc = subprocess.run(
            step, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise HostDependencyError(
                f"`{' '.join(step)}` failed (exit {proc.returncode}); {what} needs "
                f"{' '.join(packages)}:\n{(proc.stdout + proc.stderr)[-2000:]}"
            )
    still = missing_packages(needs)
    if still:
        raise HostDependencyError(f"{' '.join(still)} still missing after apt-get install")
