"""Per-agent state files: written atomically, removed with the agent, tolerant on load."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from foundry_devtools.emulator.config import EmulatorConfig
from foundry_devtools.emulator.failures import FailureRules
from foundry_devtools.emulator.persistence import Persistence
from foundry_devtools.emulator.state import ProjectState, VersionStatus
from foundry_devtools.emulator.validation import CreateVersionRequest

pytestmark = pytest.mark.unit

REQUEST = CreateVersionRequest(
    definition={
        "kind": "hosted",
        "cpu": "1",
        "memory": "2Gi",
        "container_configuration": {"image": "acr.azurecr.io/a:1"},
    },
    metadata={},
    description="",
    draft=False,
    blueprint_reference=None,
)


def new_state() -> ProjectState:
    config = EmulatorConfig()
    return ProjectState("local", config, FailureRules(config.effective_failure_rules()))


def test_changes_are_flushed_on_stop_and_reloaded(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = new_state()
        persistence = Persistence(tmp_path, state, lambda: 60.0)  # never flushes on its own
        persistence.load()
        persistence.start()
        state.create_version("a", REQUEST)
        state.create_version("b", REQUEST)
        await asyncio.sleep(0)
        assert not list((tmp_path / "agents").glob("*.json"))
        await persistence.stop()

    asyncio.run(scenario())
    assert sorted(p.name for p in (tmp_path / "agents").glob("*.json")) == ["a.json", "b.json"]
    restored = new_state()
    assert Persistence(tmp_path, restored, lambda: 0.0).load() == 2
    assert restored.get_version("a", "1")[1].definition == REQUEST.definition


def test_the_debounced_writer_persists_without_a_stop(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = new_state()
        persistence = Persistence(tmp_path, state, lambda: 0.01)
        persistence.start()
        state.create_version("a", REQUEST)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not (tmp_path / "agents" / "a.json").exists():
            assert loop.time() < deadline, "the writer never wrote"
            await asyncio.sleep(0.01)
        state.delete_agent("a", force=False)
        while (tmp_path / "agents" / "a.json").exists():
            assert loop.time() < deadline, "the writer never removed the deleted agent"
            await asyncio.sleep(0.01)
        await persistence.stop()

    asyncio.run(scenario())
    assert not list((tmp_path / "agents").glob(".*.tmp"))


def test_a_corrupt_agent_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "broken.json").write_text("{not json", encoding="utf-8")
    good = new_state()
    good.create_version("fine", REQUEST)
    (agents / "fine.json").write_text(json.dumps(good.dump_agent("fine")), encoding="utf-8")
    state = new_state()
    assert Persistence(tmp_path, state, lambda: 0.0).load() == 1
    assert set(state.agents) == {"fine"}


def test_importing_the_process_helper_does_not_import_aiohttp() -> None:
    # aiohttp snapshots SSL_CERT_FILE when first imported; a client that starts the
    # emulator and then applies its env must not have imported aiohttp yet.
    code = "import sys, foundry_devtools.emulator.process; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_files_always_match_the_live_state_despite_the_encoding_cache(tmp_path: Path) -> None:
    state = new_state()
    persistence = Persistence(tmp_path, state, lambda: 0.0)
    path = tmp_path / "agents" / "a.json"

    def flushed() -> dict[str, object]:
        asyncio.run(persistence.flush())
        return dict(json.loads(path.read_text(encoding="utf-8")))

    for _ in range(3):
        state.create_version("a", REQUEST)
    assert flushed() == state.dump_agent("a")
    state.force_version_status("a", "2", VersionStatus.FAILED, {"code": "X", "message": "m"})
    assert flushed() == state.dump_agent("a")
    state.delete_agent("a", force=False)
    state.create_version("a", REQUEST)  # same name and number 1, a different version
    assert flushed() == state.dump_agent("a")
    assert len(flushed()["versions"]) == 1  # type: ignore[arg-type]
