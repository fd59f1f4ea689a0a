"""Build the operator image from the project's Dockerfile, without a Docker engine.

``buildah bud`` reads the same ``Dockerfile`` and ``.dockerignore`` that ``docker build``
does. No registry is needed: the Dockerfile's ``PYTHON_IMAGE`` base is replaced by a local
stand-in for ``python:3.11-slim-bookworm`` — a Debian bookworm root filesystem made with
mmdebstrap, holding Debian's Python 3.11 and, like the official image, pip, setuptools and
wheel installed with their RECORDs under ``/usr/local`` (so the Dockerfile's
``pip uninstall`` works) and ``python`` on PATH. The result is written as an OCI archive
(``dist/foundry-agent-operator-VERSION.oci.tar``) that ``foundry-devcluster load-image``
puts into a node's containerd, and that ``skopeo``/``crane`` can push to a registry.

Build steps use the host's network and the host's CA bundle (mounted over the base's, never
committed to a layer), so pip works behind a TLS-inspecting proxy the host already trusts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import hostdeps
from .binaries import BinaryError, _fmt_elapsed, _say, _Step, cache_root

REPOSITORY = "localhost/foundry-agent-operator"
BASE_REFERENCE = "localhost/foundry-devcluster/python:3.11-slim-bookworm"
# Bumped when the base recipe below changes, so a stale base is rebuilt.
BASE_RECIPE = "1"
_BASE_LABEL = "dev.foundry-devcluster.base-recipe"
_BASE_PACKAGES = (
    # What python:3.11-slim-bookworm has besides Python: CA certificates, netbase, tzdata.
    "ca-certificates",
    "netbase",
    "tzdata",
    "python3.11",
    "python3.11-venv",
    # Debian's wheels of pip, setuptools and wheel, installed into /usr/local below.
    "python3-pip-whl",
    "python3-setuptools-whl",
    "python3-wheel-whl",
)
# Run inside the new root: the official image has no EXTERNALLY-MANAGED marker, its pip,
# setuptools and wheel are uninstallable (they have RECORD files) and `python` is on PATH.
# (pip runs from its own wheel: a wheel is a zip Python can execute.)
_BASE_HOOK = (
    "rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED"
    ' && for wheel in /usr/share/python-wheels/pip-*.whl; do python3.11 "$wheel/pip" install'
    " --quiet --no-index --no-cache-dir --find-links /usr/share/python-wheels"
    " pip setuptools wheel; done"
    " && ln -sf /usr/bin/python3.11 /usr/local/bin/python"
)
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class ImageError(BinaryError):
    """The image (or its base) could not be built; the message points at the log."""


@dataclass(frozen=True)
class BuiltImage:
    reference: str
    archive: Path
    digest: str  # of the image manifest, as a registry would report it

    @property
    def size(self) -> int:
        return self.archive.stat().st_size


def storage_args() -> list[str]:
    """buildah's storage, in the project cache (it never touches the host's default)."""
    root = cache_root() / "containers"
    return [
        "--root",
        str(root / "storage"),
        "--runroot",
        str(root / "run"),
        "--storage-driver",
        "overlay",
    ]


def _buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["buildah", *storage_args(), *args], capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise ImageError(f"buildah {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc


@contextlib.contextmanager
def _image_lock() -> Iterator[None]:
    cache_root().mkdir(parents=True, exist_ok=True)
    with (cache_root() / "image.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def project_version(repo: Path) -> str:
    return str(tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"])


def _base_is_current() -> bool:
    proc = _buildah("inspect", "--type", "image", BASE_REFERENCE, check=False)
    if proc.returncode != 0:
        return False
    labels = json.loads(proc.stdout).get("OCIv1", {}).get("config", {}).get("Labels") or {}
    return bool(labels.get(_BASE_LABEL) == BASE_RECIPE)


def ensure_base() -> str:
    """The local stand-in for the Dockerfile's base image, made once and cached."""
    if _base_is_current():
        return BASE_REFERENCE
    logs = cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "image-base.log"
    log.write_text("")
    _say(f"making {BASE_REFERENCE} with mmdebstrap (Debian bookworm; about a minute)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="foundry-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        _Step(log, "making the base root filesystem").run(
            [
                "nice",
                "-n",
                "10",
                "mmdebstrap",
                "--variant=minbase",
                "--mode=root",
                "--include=" + ",".join(_BASE_PACKAGES),
                # As the slim images do: no documentation, manual pages or translations.
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                f"--customize-hook=chroot \"$1\" sh -ec '{_BASE_HOOK}'",
                '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
                "bookworm",
                str(rootfs),
            ],
            Path(tmp),
            dict(os.environ),
        )
        container = _buildah("from", "scratch").stdout.strip()
        try:
            _buildah("add", "--quiet", container, str(rootfs), "/")
            _buildah(
                "config",
                "--env",
                "LANG=C.UTF-8",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--cmd",
                '["python3.11"]',
                "--label",
                f"{_BASE_LABEL}={BASE_RECIPE}",
                container,
            )
            _buildah("commit", "--quiet", "--rm", container, BASE_REFERENCE)
        except BaseException:
            _buildah("rm", container, check=False)
            raise
    _say(f"  made {BASE_REFERENCE} in {_fmt_elapsed(time.monotonic() - started)}")
    return BASE_REFERENCE


def _manifest_digest(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise ImageError(f"{archive} has no index.json")
        index = json.loads(member.read())
    return str(index["manifests"][0]["digest"])


def build(repo: Path, out_dir: Path, *, version: str | None = None) -> BuiltImage:
    """Build the Dockerfile in ``repo`` on the local base; write the OCI archive."""
    hostdeps.ensure(hostdeps.IMAGE, "building the operator image")
    version = version or project_version(repo)
    reference = f"{REPOSITORY}:{version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir.resolve() / f"foundry-agent-operator-{version}.oci.tar"
    logs = cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "image-build.log"
    with _image_lock():
        base = ensure_base()
        log.write_text("")
        _say(f"building {reference} from {repo / 'Dockerfile'} with buildah (log: {log})")
        started = time.monotonic()
        args = [
            "buildah",
            *storage_args(),
            "bud",
            "--layers",
            "--format",
            "oci",
            "--network",
            "host",
            "--build-arg",
            f"PYTHON_IMAGE={base}",
            "--build-arg",
            f"VERSION={version}",
            "--tag",
            reference,
        ]
        if HOST_CA_BUNDLE.is_file():
            # Over a file the base already has: nothing is left behind in any layer.
            args += ["--volume", f"{HOST_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro"]
        _Step(log, f"building {reference}").run(
            ["nice", "-n", "10", *args, str(repo)], repo, dict(os.environ)
        )
        tmp = archive.with_suffix(".partial")
        tmp.unlink(missing_ok=True)
        _buildah("push", "--quiet", reference, f"oci-archive:{tmp}:{reference}")
        os.replace(tmp, archive)
        _say(f"  built {reference} in {_fmt_elapsed(time.monotonic() - started)}")
    return BuiltImage(reference, archive, _manifest_digest(archive))


def archive_reference(archive: Path) -> str:
    """The image name an OCI archive carries (its ``org.opencontainers.image.ref.name``)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise ImageError(f"{archive} is not an OCI archive (no index.json)")
        index = json.loads(member.read())
    annotations = index["manifests"][0].get("annotations") or {}
    name = annotations.get("org.opencontainers.image.ref.name")
    if not name:
        raise ImageError(f"{archive} carries no image name (org.opencontainers.image.ref.name)")
    return str(name)
