"""Run the emulator as a subprocess: for tests, the demo and the benchmark.

A separate process (not a thread in the caller) because the emulator must behave like a
remote service: its own event loop, its own restart, and no shared memory a test could lean
on by accident.

    with EmulatorProcess.start(tmp_path / "emu") as emu:
        os.environ.update(emu.env)          # before creating DefaultAzureCredential()
        emu.admin().inject_throttling(count=2)
        ...
        emu.restart()                       # same ports, same state, same CA
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .admin import AdminClient
from .layout import ENV_FILE, INFO_FILE, LOG_FILE


class EmulatorStartError(RuntimeError):
    pass


class EmulatorProcess:
    """One emulator subprocess bound to a state directory."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        port: int = 0,
        identity_port: int = 0,
        project: str = "local",
        config: str | Path | Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        python: str = sys.executable,
        child_env: Mapping[str, str] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.identity_port = identity_port
        self.project = project
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.python = python
        self.child_env = dict(child_env) if child_env is not None else None
        self.log_file = self.state_dir / LOG_FILE
        self.info: dict[str, Any] = {}
        self._config_path = self._prepare_config(config)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def start(
        cls,
        state_dir: str | Path,
        *,
        port: int = 0,
        identity_port: int = 0,
        project: str = "local",
        config: str | Path | Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
    ) -> EmulatorProcess:
        """Start an emulator and return once it serves (``DIR/env`` written)."""
        emulator = cls(
            state_dir,
            port=port,
            identity_port=identity_port,
            project=project,
            config=config,
            extra_args=extra_args,
            startup_timeout=startup_timeout,
        )
        emulator.launch()
        return emulator

    # ------------------------------------------------------------- properties

    @property
    def endpoint(self) -> str:
        return str(self.info["endpoint"])

    def project_endpoint(self, name: str) -> str:
        """The endpoint of one of the projects the emulator serves (config ``projects``)."""
        return str(self.info["projects"][name])

    @property
    def admin_url(self) -> str:
        return str(self.info["admin_url"])

    @property
    def ca_file(self) -> Path:
        """The emulator CA alone (``ca.pem``)."""
        return Path(self.info["ca_file"])

    @property
    def ca_bundle(self) -> Path:
        """The emulator CA plus the system roots; what the env vars point at."""
        return Path(self.info["ca_bundle"])

    @property
    def env(self) -> dict[str, str]:
        """Environment variables a client process needs (same as ``DIR/env``)."""
        return dict(self.info["env"])

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def admin(self, token: str | None = None) -> AdminClient:
        return AdminClient(self.admin_url, token=token, ca_file=self.ca_file)

    def apply_env(self, environ: MutableMapping[str, str] | None = None) -> None:
        """Put :attr:`env` into ``environ`` (default ``os.environ``).

        azure-identity reads the environment when a credential is *constructed*: call this
        before ``DefaultAzureCredential()``.
        """
        (os.environ if environ is None else environ).update(self.env)

    # -------------------------------------------------------------- lifecycle

    def launch(self) -> None:
        if self.is_running():
            raise EmulatorStartError("this emulator is already running")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            self.python,
            "-m",
            "foundry_devtools.emulator.cli",
            "--state-dir",
            str(self.state_dir),
            "--port",
            str(self.port),
            "--identity-port",
            str(self.identity_port),
            "--project",
            self.project,
        ]
        if self._config_path is not None:
            command += ["--config", str(self._config_path)]
        command += self.extra_args
        self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.child_env,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        # A crashed predecessor may have left its env behind: wait for *this* child's.
        while (info := self._ready_info(self._process.pid)) is None:
            if self._process.poll() is not None:
                self._close_log()
                raise EmulatorStartError(
                    f"the emulator exited with {self._process.returncode}:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorStartError(
                    f"the emulator did not start within {self.startup_timeout:g}s:\n"
                    f"{self._log_tail()}"
                )
            time.sleep(0.05)
        self.info = info
        # Pin the ports so restart() comes back where clients expect it.
        self.port = int(self.info["port"])
        self.identity_port = int(self.info["identity_port"])

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop cleanly (SIGTERM: pending state is flushed); kill after ``timeout``."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._close_log()
        self._process = None
        return process.returncode

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would; the last debounce window may be lost."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        self._close_log()
        self._process = None

    def restart(self) -> None:
        """Stop and start again on the same ports with the same state directory."""
        self.stop()
        self.launch()

    def __enter__(self) -> EmulatorProcess:
        if not self.is_running():
            self.launch()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- helpers

    def _prepare_config(self, config: str | Path | Mapping[str, Any] | None) -> Path | None:
        if config is None:
            return None
        if isinstance(config, Mapping):
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path = self.state_dir / "config.json"
            path.write_text(json.dumps(dict(config), indent=2), encoding="utf-8")
            return path
        return Path(config).resolve()

    def _ready_info(self, pid: int) -> dict[str, Any] | None:
        if not (self.state_dir / ENV_FILE).exists():
            return None
        try:
            info: dict[str, Any] = json.loads((self.state_dir / INFO_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return info if info.get("pid") == pid else None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
