"""State, certificates and tokens survive a restart; each test owns its emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import VersionRefIndicator
from azure.identity import DefaultAzureCredential
from emu_helpers import client_env, hosted_definition

from foundry_devtools.emulator.process import EmulatorProcess, EmulatorStartError
from support import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def private_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess.start(
        tmp_path / "emu", config={"lifecycle": {"provisioning_seconds": 3}}
    ) as emulator:
        yield emulator


def test_state_tokens_and_ports_survive_a_restart(private_emulator: EmulatorProcess) -> None:
    emulator = private_emulator
    with client_env(emulator):
        credential = DefaultAzureCredential()
        with AIProjectClient(endpoint=emulator.endpoint, credential=credential) as project:
            for _ in range(3):
                project.agents.create_version(
                    "keeper", definition=hosted_definition(), metadata={"k": "v"}
                )
            project.agents.delete_version("keeper", "2")
            project.agents.disable("keeper")
            assert project.agents.get_version("keeper", "1").status == "creating"
            port, ca = emulator.port, emulator.ca_file.read_bytes()

            emulator.restart()

            assert (emulator.port, emulator.ca_file.read_bytes()) == (port, ca)
            # Same credential object: its cached token must still be accepted.
            versions = [v.version for v in project.agents.list_versions("keeper")]
            assert versions == ["3", "1"]
            agent = project.agents.get("keeper")
            assert agent.state == "disabled"
            assert agent.versions.latest.metadata == {"k": "v"}
            assert emulator.admin().stats().count("token") == 0
            # The version created before the restart finishes its provisioning timer.
            assert project.agents.get_version("keeper", "1").status == "creating"
            wait_for(
                lambda: project.agents.get_version("keeper", "1").status == "active",
                timeout=15,
                what="v1 active after restart",
            )
            # Numbering continues where it stopped.
            assert (
                project.agents.create_version("keeper", definition=hosted_definition()).version
                == "4"
            )
        credential.close()


def test_sessions_and_routing_survive_a_restart(private_emulator: EmulatorProcess) -> None:
    emulator = private_emulator
    emulator.admin().set_provisioning_delay(0)
    with client_env(emulator):
        credential = DefaultAzureCredential()
        with AIProjectClient(endpoint=emulator.endpoint, credential=credential) as project:
            project.agents.create_version("router", definition=hosted_definition())
            project.agents.update_details(
                "router",
                agent_endpoint={
                    "version_selector": {
                        "version_selection_rules": [
                            {"type": "FixedRatio", "agent_version": "1", "traffic_percentage": 100}
                        ]
                    }
                },
            )
            project.agents.create_session(
                "router",
                version_indicator=VersionRefIndicator(agent_version="1"),
                agent_session_id="kept",
            )
            emulator.restart()
            assert project.agents.get_session("router", "kept").status == "active"
            rules = project.agents.get(
                "router"
            ).agent_endpoint.version_selector.version_selection_rules
            assert rules[0].agent_version == "1"
        credential.close()


def test_reset_clears_state_durably(private_emulator: EmulatorProcess) -> None:
    emulator = private_emulator
    admin = emulator.admin()
    with client_env(emulator):
        credential = DefaultAzureCredential()
        with AIProjectClient(endpoint=emulator.endpoint, credential=credential) as project:
            project.agents.create_version("gone", definition=hosted_definition())
            admin.reset()
            emulator.restart()
            assert [a.name for a in project.agents.list()] == []
        credential.close()


def test_a_bad_config_fails_the_start_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(EmulatorStartError, match="provisioning_second"):
        EmulatorProcess.start(tmp_path / "bad", config={"lifecycle": {"provisioning_second": 1}})


def test_a_second_emulator_cannot_share_a_state_directory(
    private_emulator: EmulatorProcess,
) -> None:
    with pytest.raises(EmulatorStartError, match="another emulator"):
        EmulatorProcess.start(private_emulator.state_dir)
    assert private_emulator.admin().health()["status"] == "ok"
    assert (private_emulator.state_dir / "env").exists()


def test_an_emulator_starts_again_after_a_crash(private_emulator: EmulatorProcess) -> None:
    emulator = private_emulator
    admin = emulator.admin()
    admin.set_provisioning_delay(0)
    with client_env(emulator):
        credential = DefaultAzureCredential()
        with AIProjectClient(endpoint=emulator.endpoint, credential=credential) as project:
            project.agents.create_version("crashy", definition=hosted_definition())
            wait_for(
                lambda: (emulator.state_dir / "state/local/agents/crashy.json").exists(),
                timeout=5,
                what="the debounced write",
            )
            emulator.kill()
            assert (emulator.state_dir / "env").exists(), "a crash leaves the env file behind"
            emulator.launch()
            assert project.agents.get_version("crashy", "1").version == "1"
        credential.close()
