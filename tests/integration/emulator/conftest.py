"""Fixtures: one emulator subprocess per session, its env applied around each test.

The SDK is used exactly as a user would: ``DefaultAzureCredential()`` built after the env
is applied (azure-identity reads it at construction), no transport or policy overrides.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential
from emu_helpers import PROVISIONING_SECONDS, client_env

from foundry_devtools.emulator.admin import AdminClient
from foundry_devtools.emulator.process import EmulatorProcess


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess.start(
        tmp_path_factory.mktemp("foundry-emulator"),
        config={"lifecycle": {"provisioning_seconds": PROVISIONING_SECONDS}},
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def emulator_env(emulator: EmulatorProcess) -> Iterator[dict[str, str]]:
    with client_env(emulator) as env:
        yield env


@pytest.fixture
def admin(emulator: EmulatorProcess) -> Iterator[AdminClient]:
    client = emulator.admin()
    yield client
    client.clear_faults()


@pytest.fixture
def project(emulator_env: dict[str, str]) -> Iterator[AIProjectClient]:
    credential = DefaultAzureCredential()
    with AIProjectClient(
        endpoint=emulator_env["AZURE_AI_PROJECT_ENDPOINT"], credential=credential
    ) as client:
        yield client
    credential.close()


@pytest.fixture
def agent_name(request: pytest.FixtureRequest) -> str:
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40]
    return f"{base.strip('-')}-{uuid.uuid4().hex[:6]}"
