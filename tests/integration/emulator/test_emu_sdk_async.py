"""The async SDK client: the same wire, plus concurrency the operator relies on.

aiohttp builds its default TLS context when it is first imported, reading SSL_CERT_FILE
then; in this test process it was imported long before the emulator existed, so the async
client gets the CA explicitly (``connection_verify``; ``ca.pem`` rather than the bundle,
because azure-core loads that file for every request). A process started with the env file
applied needs nothing: see test_an_async_client_started_from_the_env_file_needs_no_options.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from azure.ai.projects.aio import AIProjectClient
from azure.ai.projects.models import HostedAgentDefinition, VersionRefIndicator
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity.aio import DefaultAzureCredential
from emu_helpers import PROVISIONING_SECONDS, hosted_definition

from foundry_devtools.emulator.process import EmulatorProcess

pytestmark = pytest.mark.integration

T = TypeVar("T")


def run_with_client(
    emulator: EmulatorProcess, body: Callable[[AIProjectClient], Awaitable[T]]
) -> T:
    async def main() -> T:
        async with (
            DefaultAzureCredential() as credential,
            AIProjectClient(
                endpoint=emulator.endpoint,
                credential=credential,
                connection_verify=str(emulator.ca_file),
            ) as client,
        ):
            return await body(client)

    return asyncio.run(main())


async def wait_status(client: AIProjectClient, name: str, version: str, status: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PROVISIONING_SECONDS + 10
    while (await client.agents.get_version(name, version)).status != status:
        assert loop.time() < deadline, f"{name} v{version} never became {status}"
        await asyncio.sleep(0.1)


@pytest.mark.usefixtures("emulator_env")
def test_every_operation_through_the_async_client(
    emulator: EmulatorProcess, agent_name: str
) -> None:
    async def body(client: AIProjectClient) -> None:
        agents = client.agents
        created = await agents.create_version(
            agent_name, definition=hosted_definition(), metadata={"k": "v"}
        )
        assert isinstance(created.definition, HostedAgentDefinition)
        assert created.definition.container_configuration.image.endswith("echo:1")
        await agents.create_version(agent_name, definition=hosted_definition())
        await wait_status(client, agent_name, "1", "active")
        assert (await agents.get(agent_name)).versions.latest.version == "2"
        assert [v.version async for v in agents.list_versions(agent_name, limit=1)] == ["2", "1"]
        assert agent_name in [a.name async for a in agents.list(kind="hosted", limit=3)]
        await agents.disable(agent_name)
        await agents.enable(agent_name)
        agent = await agents.update_details(
            agent_name,
            agent_endpoint={
                "version_selector": {
                    "version_selection_rules": [
                        {"type": "FixedRatio", "agent_version": "1", "traffic_percentage": 100}
                    ]
                }
            },
        )
        assert agent.agent_endpoint.version_selector.version_selection_rules[0].agent_version == "1"
        session = await agents.create_session(
            agent_name, version_indicator=VersionRefIndicator(agent_version="1")
        )
        sid = session.agent_session_id
        assert (await agents.get_session(agent_name, sid)).status == "active"
        assert [s.agent_session_id async for s in agents.list_sessions(agent_name)] == [sid]
        logs = b"".join(
            [chunk async for chunk in await agents.get_session_log_stream(agent_name, "1", sid)]
        )
        assert b"event: log" in logs
        await agents.stop_session(agent_name, sid)
        await agents.delete_session(agent_name, sid)
        deleted = await agents.delete_version(agent_name, "2")
        assert deleted.deleted
        with pytest.raises(HttpResponseError) as caught:
            await agents.create_version("bad_name", definition=hosted_definition())
        assert caught.value.error is not None and caught.value.error.code == "invalid_value"
        assert (await agents.delete(agent_name)).deleted
        with pytest.raises(ResourceNotFoundError):
            await agents.get(agent_name)

    run_with_client(emulator, body)


@pytest.mark.usefixtures("emulator_env")
def test_200_concurrent_creates_get_200_distinct_gap_free_versions(
    emulator: EmulatorProcess, agent_name: str
) -> None:
    async def body(client: AIProjectClient) -> tuple[list[int], list[int]]:
        results = await asyncio.gather(
            *(
                client.agents.create_version(
                    agent_name, definition=hosted_definition(f"acr.azurecr.io/agents/echo:{i}")
                )
                for i in range(200)
            )
        )
        listed = [v async for v in client.agents.list_versions(agent_name, limit=100)]
        images = {v.definition.container_configuration.image for v in listed}
        assert len(images) == 200, "every write must be stored, none overwritten"
        return sorted(int(v.version) for v in results), sorted(int(v.version) for v in listed)

    created, listed = run_with_client(emulator, body)
    assert created == list(range(1, 201))
    assert listed == list(range(1, 201))


ASYNC_SCRIPT = """
import asyncio, os
from azure.ai.projects.aio import AIProjectClient
from azure.identity.aio import DefaultAzureCredential

async def main():
    async with DefaultAzureCredential() as credential, AIProjectClient(
        endpoint=os.environ["AZURE_AI_PROJECT_ENDPOINT"], credential=credential
    ) as client:
        version = await client.agents.create_version(
            os.environ["AGENT"],
            definition={"kind": "hosted", "cpu": "1", "memory": "2Gi",
                        "container_configuration": {"image": "acr.azurecr.io/a:1"}},
        )
        print(version.id)

asyncio.run(main())
"""


def test_an_async_client_started_from_the_env_file_needs_no_options(
    emulator: EmulatorProcess, agent_name: str
) -> None:
    script = f'. "{emulator.state_dir / "env"}" && exec "{sys.executable}" -c "$SCRIPT"'
    env = {"PATH": os.environ.get("PATH", ""), "SCRIPT": ASYNC_SCRIPT, "AGENT": agent_name}
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{agent_name}:1"
