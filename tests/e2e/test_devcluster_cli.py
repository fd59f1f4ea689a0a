"""`foundry-devcluster` as a person runs it: start, use, stop, start again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from foundry_devtools.devcluster import versions

# The console script next to this interpreter, as `make install` puts it there.
CLI = [str(Path(sys.executable).parent / "foundry-devcluster")]


def devcluster(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def processes_mentioning(directory: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if str(directory) in cmdline and state != "Z" and "pytest" not in cmdline:
            found.append(int(proc.name))
    return found


def test_start_stop_restart_cycle(tmp_path: Path) -> None:
    directory = tmp_path / "dc"
    first = devcluster("start", "--dir", str(directory))
    assert first.returncode == 0, first.stderr
    try:
        env = dict(os.environ)
        exports = devcluster("env", "--dir", str(directory)).stdout
        assert f"export KUBECONFIG='{directory.resolve()}/kubeconfig'" in exports
        env["KUBECONFIG"] = str(directory / "kubeconfig")
        env["PATH"] = f"{directory / 'bin'}:{env['PATH']}"
        kubectl = str(directory / "bin" / "kubectl")
        readyz = subprocess.run(
            [kubectl, "get", "--raw", "/readyz"], env=env, capture_output=True, text=True
        )
        assert readyz.stdout.strip() == "ok", readyz.stderr
        resources = subprocess.run(
            [kubectl, "api-resources"], env=env, capture_output=True, text=True
        ).stdout
        assert "apps/v1" in resources and "rbac.authorization.k8s.io/v1" in resources
        helm = subprocess.run(
            [str(directory / "bin" / "helm"), "version", "--short"], capture_output=True, text=True
        )
        assert helm.stdout.startswith("v3."), helm.stdout + helm.stderr
        config = yaml.safe_load((directory / "kubeconfig").read_text())
        assert config["users"][0]["name"] == "devcluster-admin"
        server = config["clusters"][0]["cluster"]["server"]

        again = devcluster("start", "--dir", str(directory))
        assert again.returncode == 0 and "already running" in again.stderr
    finally:
        stopped = devcluster("stop", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr
    assert processes_mentioning(directory) == []

    began = time.monotonic()
    restarted = devcluster("start", "--dir", str(directory), timeout=120)
    elapsed = time.monotonic() - began
    try:
        assert restarted.returncode == 0, restarted.stderr
        assert "building" not in restarted.stderr  # cached binaries reused
        assert elapsed < 20, f"restart took {elapsed:.1f}s"
        # Same address: clients holding the kubeconfig (an operator) reconnect by themselves.
        config = yaml.safe_load((directory / "kubeconfig").read_text())
        assert config["clusters"][0]["cluster"]["server"] == server
    finally:
        devcluster("stop", "--dir", str(directory))
    assert processes_mentioning(directory) == []


def test_build_argocd_then_env_puts_argocd_on_path(tmp_path: Path) -> None:
    # Cached after `make argocd` (part of `make test`): this finds it, or builds it once.
    built = devcluster("build", "--argocd")
    assert built.returncode == 0, built.stderr
    assert "argocd: " in built.stdout
    directory = tmp_path / "dc"
    exports = devcluster("env", "--dir", str(directory))
    assert exports.returncode == 0, exports.stderr
    shell = subprocess.run(
        ["bash", "-c", f"{exports.stdout}\nargocd version --client --short"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.startswith(f"argocd: v{versions.ARGOCD_VERSION}"), shell.stdout
