"""Run the operator as a separate process, the way it runs in a pod.

Shared by the demo, the benchmark and the integration tests: each starts a devcluster and
an emulator, then an :class:`OperatorProcess` pointed at both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

# devtools/foundry_devtools/local.py -> the repository root, which holds crds/.
REPO_CRDS = Path(__file__).resolve().parents[2] / "crds"


def crds_dir() -> Path:
    """The CRD manifests: the repository's ``crds/`` (an installed wheel has none)."""
    return REPO_CRDS


class OperatorProcess:
    """`foundry-operator run` in a subprocess, with its log in a file."""

    def __init__(
        self,
        log_file: Path,
        *,
        kubeconfig: Path,
        foundry_env: Mapping[str, str],
        args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.log_file = log_file
        self.kubeconfig = kubeconfig
        self.foundry_env = dict(foundry_env)
        self.args = list(args)
        self.extra_env = dict(extra_env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._started_at_offset = 0

    @property
    def metrics_url(self) -> str | None:
        """Where this operator serves Prometheus metrics, if it was given a port."""
        if "--metrics-port" not in self.args:
            return None
        port = self.args[self.args.index("--metrics-port") + 1]
        return None if port == "0" else f"http://127.0.0.1:{port}/metrics"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running():
            return
        env = dict(os.environ)
        env.update(self.foundry_env)
        env.update(self.extra_env)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env.setdefault("FOUNDRY_OPERATOR_LOG_FORMAT", "json")
        # As the image sets it (see the Dockerfile), so local figures match a pod's.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._started_at_offset = self._log.tell()
        # The operator is a separate distribution that devtools does not depend on: run it
        # from this interpreter's environment, where `make install` puts both, rather than
        # whichever `foundry-operator` PATH would find.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "foundry_operator.cli", "run", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def stop(self, timeout: float = 20.0) -> None:
        """A graceful stop (SIGTERM), as Kubernetes does; SIGKILL after ``timeout``."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, like a node dying."""
        self._signal(signal.SIGKILL, 10.0)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
        if self._log:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def log_since_start(self) -> str:
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._started_at_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_until_logged(self, needle: str, timeout: float = 30.0) -> None:
        """Wait for ``needle`` in what the current run (since the last start) logged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_since_start():
                return
            if not self.running():
                raise RuntimeError(f"operator exited; log:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"operator did not log {needle!r} within {timeout}s")
