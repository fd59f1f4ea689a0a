"""Toolboxes in the emulator, through the real SDK and a real MCP client.

``client.toolboxes`` as azure-ai-projects 2.10 calls it (create_version, get, update,
list_versions, get_version, delete_version, delete), and each version's MCP endpoint
listed by the ``mcp`` package's own streamable-HTTP client with a bearer token, the way a
hosted agent's container reaches its toolbox.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from typing import Literal

import httpx2
import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    CodeInterpreterToolboxTool,
    FileSearchToolboxTool,
    MCPToolboxTool,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from foundry_devtools.emulator.process import EmulatorProcess

pytestmark = pytest.mark.integration


def toolbox_name() -> str:
    return f"tb_{uuid.uuid4().hex[:8]}"


def mcp_tool(approval: Literal["always", "never"] = "never") -> MCPToolboxTool:
    return MCPToolboxTool(
        server_label="docs",
        server_url="https://mcp.example.com/mcp",
        require_approval=approval,
        allowed_tools=["search", "fetch"],
    )


def test_versions_count_up_and_the_default_follows_the_latest_until_set(
    project: AIProjectClient,
) -> None:
    name = toolbox_name()
    first = project.toolboxes.create_version(
        name, tools=[mcp_tool(), CodeInterpreterToolboxTool()], metadata={"k": "v"}
    )
    second = project.toolboxes.create_version(name, tools=[mcp_tool("always")])
    assert (first.version, second.version) == ("1", "2")
    assert first.metadata == {"k": "v"}
    assert project.toolboxes.get(name).default_version == "2"

    updated = project.toolboxes.update(name, default_version="1")
    assert updated.default_version == "1"
    third = project.toolboxes.create_version(name, tools=[CodeInterpreterToolboxTool()])
    fetched = project.toolboxes.get(name)
    assert fetched.default_version == "1"  # pinned by the update, not moved by a create
    assert fetched.versions.latest.version == third.version == "3"

    got = project.toolboxes.get_version(name, "1")
    assert isinstance(got.tools[0], MCPToolboxTool)
    assert got.tools[0].require_approval == "never"
    assert sorted(v.version for v in project.toolboxes.list_versions(name)) == ["1", "2", "3"]
    assert name in {t.name for t in project.toolboxes.list()}


def test_deleting_versions_then_the_toolbox(project: AIProjectClient) -> None:
    name = toolbox_name()
    for _ in range(2):
        project.toolboxes.create_version(name, tools=[CodeInterpreterToolboxTool()])
    project.toolboxes.update(name, default_version="2")
    project.toolboxes.delete_version(name, "2")
    assert project.toolboxes.get(name).default_version == "1"  # back to the latest
    project.toolboxes.delete_version(name, "1")
    with pytest.raises(ResourceNotFoundError):
        project.toolboxes.get(name)  # its last version took the toolbox with it

    project.toolboxes.create_version(name, tools=[CodeInterpreterToolboxTool()])
    project.toolboxes.delete(name)
    with pytest.raises(ResourceNotFoundError):
        project.toolboxes.get(name)


def test_invalid_tools_are_refused_with_the_field_named(project: AIProjectClient) -> None:
    with pytest.raises(HttpResponseError) as refused:
        project.toolboxes.create_version(
            toolbox_name(), tools=[MCPToolboxTool(server_label="bad label", server_url="x")]
        )
    assert refused.value.status_code == 400
    assert refused.value.error is not None
    assert "server_label" in (refused.value.error.message or "")
    with pytest.raises(HttpResponseError):
        project.toolboxes.create_version(
            toolbox_name(), tools=[FileSearchToolboxTool(max_num_results=99)]
        )


def test_an_mcp_client_lists_the_tools_of_a_toolbox_version(
    project: AIProjectClient, emulator: EmulatorProcess
) -> None:
    name = toolbox_name()
    project.toolboxes.create_version(name, tools=[mcp_tool(), CodeInterpreterToolboxTool()])
    project.toolboxes.create_version(name, tools=[FileSearchToolboxTool(vector_store_ids=["vs"])])
    token = emulator.admin().token()

    async def tools_of(version: str) -> tuple[str, list[str]]:
        url = f"{emulator.endpoint}/toolboxes/{name}/versions/{version}/mcp?api-version=v1"
        async with (
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"},
                verify=ssl.create_default_context(cafile=str(emulator.ca_file)),
                timeout=30,
            ) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            listed = await session.list_tools()
            return init.server_info.name, [t.name for t in listed.tools]

    server, first = asyncio.run(tools_of("1"))
    assert server == f"foundry-toolbox-{name}"
    assert first == ["docs.search", "docs.fetch", "code_interpreter"]
    _, second = asyncio.run(tools_of("2"))
    assert second == ["file_search"]  # each version serves its own tools


def test_the_mcp_endpoint_needs_a_token_and_an_existing_version(
    project: AIProjectClient, emulator: EmulatorProcess
) -> None:
    name = toolbox_name()
    project.toolboxes.create_version(name, tools=[CodeInterpreterToolboxTool()])
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    base = f"{emulator.endpoint}/toolboxes/{name}/versions"
    with httpx2.Client(verify=ssl.create_default_context(cafile=str(emulator.ca_file))) as http:
        assert http.post(f"{base}/1/mcp?api-version=v1", json=body).status_code == 401
        token = emulator.admin().token()
        auth = {"Authorization": f"Bearer {token}"}
        missing = http.post(f"{base}/9/mcp?api-version=v1", json=body, headers=auth)
        assert missing.status_code == 404
        listed = http.post(f"{base}/1/mcp?api-version=v1", json=body, headers=auth)
        assert listed.json()["result"]["tools"][0]["name"] == "code_interpreter"
