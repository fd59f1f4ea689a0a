"""Helpers for the emulator integration tests (import as ``from emu_helpers import ...``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    ContainerConfiguration,
    FixedRatioVersionSelectionRule,
    HostedAgentDefinition,
    ProtocolVersionRecord,
    VersionSelector,
)

from foundry_devtools.emulator.process import EmulatorProcess
from support import wait_for

# Short enough to keep the suite fast, long enough to observe "creating".
PROVISIONING_SECONDS = 0.5


@contextmanager
def client_env(emulator: EmulatorProcess) -> Iterator[dict[str, str]]:
    """Apply the emulator's client environment to this process, and restore it after."""
    env = emulator.env
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def hosted_definition(
    image: str = "acr.azurecr.io/agents/echo:1", **extra: Any
) -> HostedAgentDefinition:
    return HostedAgentDefinition(
        cpu="0.5",
        memory="1Gi",
        container_configuration=ContainerConfiguration(image=image),
        protocol_versions=[ProtocolVersionRecord(protocol="responses", version="1.0.0")],
        **extra,
    )


def active_agent(
    project: AIProjectClient,
    name: str,
    versions: int = 1,
    definitions: list[HostedAgentDefinition] | None = None,
) -> None:
    """Create versions (default definitions, or the given ones) and wait until all are active."""
    definitions = definitions or [hosted_definition() for _ in range(versions)]
    for definition in definitions:
        project.agents.create_version(name, definition=definition)
    wait_for(
        lambda: all(
            project.agents.get_version(name, str(n)).status == "active"
            for n in range(1, len(definitions) + 1)
        ),
        timeout=PROVISIONING_SECONDS + 10,
        what="active versions",
    )


def route(project: AIProjectClient, name: str, *split: tuple[str, int]) -> None:
    project.agents.update_details(
        name,
        agent_endpoint=AgentEndpointConfig(
            version_selector=VersionSelector(
                version_selection_rules=[
                    FixedRatioVersionSelectionRule(agent_version=v, traffic_percentage=p)
                    for v, p in split
                ]
            )
        ),
    )
