"""Helpers for the emulator integration tests (import as ``from emu_helpers import ...``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.ai.projects.models import (
    ContainerConfiguration,
    HostedAgentDefinition,
    ProtocolVersionRecord,
)

from foundry_devtools.emulator.process import EmulatorProcess

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
