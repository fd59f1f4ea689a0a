"""Durable state: one JSON file per agent, rewritten atomically when the agent changes.

Why per agent: a write costs what the changed agent weighs, not the whole project. Why
debounced: bursts of changes to one agent collapse into one write. Why a cache of encoded
versions: versions are immutable but for their status, so re-encoding an agent with 900
versions after its 901st is wasted work that would cap the create rate.

``flush()`` on a clean stop writes everything still pending, so no acknowledged change is
lost across a restart; a crash (SIGKILL) can lose at most the last debounce window (default
50 ms). Files are not fsync'ed: the promise is "survives a restart", not "survives a power
cut".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .state import ProjectState, Version, VersionStatus, dump_version

log = logging.getLogger(__name__)

_Signature = tuple[VersionStatus, float, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class _EncodedVersion:
    version: Version
    signature: _Signature
    data: bytes


def _error_key(error: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(error.items())) if error else ()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Persistence:
    def __init__(self, directory: Path, state: ProjectState, debounce: Callable[[], float]) -> None:
        self.directory = directory / "agents"
        self.toolbox_directory = directory / "toolboxes"
        self.state = state
        self._debounce = debounce
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._encoded: dict[str, dict[int, _EncodedVersion]] = {}

    def load(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        loaded = 0
        for path in sorted(self.directory.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                self.state.load_agent(record)
                loaded += 1
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # One corrupt agent must not take the whole emulator down; say so loudly.
                log.error("ignoring unreadable state file %s: %s", path, exc)
        self.toolbox_directory.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.toolbox_directory.glob("*.json")):
            try:
                self.state.toolboxes.load(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("ignoring unreadable toolbox state file %s: %s", path, exc)
        return loaded

    def start(self) -> None:
        self.state.on_dirty = self._wake.set
        self._task = asyncio.create_task(self._run(), name="emulator-persistence")

    async def stop(self) -> None:
        self.state.on_dirty = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._debounce()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.flush()
            except OSError as exc:  # disk full, permissions: keep serving, retry later
                log.error("could not persist emulator state: %s", exc)
                await asyncio.sleep(1.0)
                self._wake.set()

    async def flush(self) -> None:
        async with self._lock:
            names = self.state.dirty
            self.state.dirty = set()
            toolboxes = self.state.dirty_toolboxes
            self.state.dirty_toolboxes = set()
            if not names and not toolboxes:
                return
            # Serialise on the loop (the records are live objects), write off the loop.
            payloads = {name: self._encode_agent(name) for name in names}
            toolbox_payloads = {name: self._encode_toolbox(name) for name in toolboxes}
            try:
                await asyncio.to_thread(self._write, payloads, toolbox_payloads)
            except OSError:
                self.state.dirty |= names
                self.state.dirty_toolboxes |= toolboxes
                raise

    def _encode_toolbox(self, name: str) -> bytes | None:
        record = self.state.toolboxes.dump(name)
        return None if record is None else _encode(record)

    def _encode_agent(self, name: str) -> bytes | None:
        agent = self.state.agents.get(name)
        if agent is None:
            self._encoded.pop(name, None)
            return None
        previous = self._encoded.get(name, {})
        current: dict[int, _EncodedVersion] = {}
        for number, version in agent.versions.items():
            cached = previous.get(number)
            signature = (version.status, version.ready_at, _error_key(version.error))
            # `is`: after a delete and re-create, number 1 is a different Version object.
            if cached is None or cached.version is not version or cached.signature != signature:
                cached = _EncodedVersion(version, signature, _encode(dump_version(version)))
            current[number] = cached
        self._encoded[name] = current
        header = _encode(self.state.dump_agent_header(agent))
        versions = b",".join(entry.data for entry in current.values())
        return header[:-1] + b',"versions":[' + versions + b"]}"

    def _write(
        self,
        payloads: dict[str, bytes | None],
        toolbox_payloads: dict[str, bytes | None] | None = None,
    ) -> None:
        for directory, items in (
            (self.directory, payloads),
            (self.toolbox_directory, toolbox_payloads or {}),
        ):
            directory.mkdir(parents=True, exist_ok=True)
            for name, data in items.items():
                path = directory / f"{name}.json"
                if data is None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                else:
                    atomic_write(path, data)


def _encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()
