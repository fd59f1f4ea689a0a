from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential

from foundry_devtools.emulator.process import EmulatorProcess


@pytest.fixture(scope="session")
def foundry(emulator: EmulatorProcess) -> Iterator[AIProjectClient]:
    """The real SDK pointed at the emulator, to check what Foundry holds."""
    with AIProjectClient(endpoint=emulator.endpoint, credential=DefaultAzureCredential()) as c:
        yield c
