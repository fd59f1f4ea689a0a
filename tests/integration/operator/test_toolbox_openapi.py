"""OpenAPI tools in a FoundryToolbox: the document inline or from a ConfigMap, sent to
Foundry whole, listed over MCP one tool per operation, and re-sent when the ConfigMap changes.

Real kube-apiserver and kubectl, the operator as a separate process, the real SDK reading
the emulator, and the ``mcp`` package's client listing the toolbox version's tools.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import httpx2
import pytest
from azure.ai.projects import AIProjectClient
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from foundry_devtools.emulator.process import EmulatorProcess
from support import wait_for
from support.hagent import unique

pytestmark = pytest.mark.usefixtures("running_operator")

PETS_YAML = """\
openapi: 3.0.3
info: {title: Pets, version: "1"}
servers: [{url: "https://pets.example.com"}]
paths:
  /pets:
    get:
      operationId: listPets
      summary: List the pets
      responses:
        200: {description: ok}
"""

WEATHER: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Weather", "version": "1"},
    "paths": {
        "/forecast": {
            "get": {
                "operationId": "getForecast",
                "parameters": [
                    {"name": "city", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
            }
        }
    },
}


def apply(kubectl: Any, namespace: str, obj: dict[str, Any], *, check: bool = True) -> Any:
    return kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj), check=check)


def config_map(document: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "pets-api"},
        "data": {"openapi.yaml": document},
    }


def toolbox_obj(name: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "foundry.agents.dev/v1alpha1",
        "kind": "FoundryToolbox",
        "metadata": {"name": name},
        "spec": {"tools": tools},
    }


def status(kubectl: Any, namespace: str, name: str) -> dict[str, Any]:
    out = kubectl("get", "foundrytoolbox", name, "-n", namespace, "-o", "json").stdout
    return dict(json.loads(out).get("status") or {})


def wait_version(kubectl: Any, namespace: str, name: str, version: str) -> None:
    wait_for(
        lambda: status(kubectl, namespace, name).get("currentVersion") == version,
        timeout=60,
        what=f"toolbox {name} at version {version}",
    )


def mcp_tool_names(emulator: EmulatorProcess, toolbox: str, version: str) -> list[str]:
    token = emulator.admin().token()
    url = f"{emulator.endpoint}/toolboxes/{toolbox}/versions/{version}/mcp?api-version=v1"

    async def listed() -> list[str]:
        async with (
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"},
                verify=ssl.create_default_context(cafile=str(emulator.ca_file)),
                timeout=30,
            ) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return [t.name for t in (await session.list_tools()).tools]

    return asyncio.run(listed())


PETS_TOOL = {
    "type": "openapi",
    "openapi": {
        "name": "pets",
        "specFrom": {"configMapKeyRef": {"name": "pets-api", "key": "openapi.yaml"}},
        "auth": {"type": "project_connection", "securityScheme": {"projectConnectionId": "pets"}},
    },
}
WEATHER_TOOL = {
    "type": "openapi",
    "openapi": {"name": "weather", "spec": WEATHER, "auth": {"type": "anonymous"}},
}


def test_openapi_tools_reach_foundry_are_listed_over_mcp_and_follow_their_configmap(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    apply(kubectl, namespace, config_map(PETS_YAML))
    box = unique("apis")
    apply(kubectl, namespace, toolbox_obj(box, [PETS_TOOL, WEATHER_TOOL]))
    wait_version(kubectl, namespace, box, "1")
    sent = foundry.toolboxes.get_version(box, "1").tools
    assert sent[0]["openapi"]["auth"] == {
        "type": "project_connection",
        "security_scheme": {"project_connection_id": "pets"},
    }
    pets = sent[0]["openapi"]["spec"]
    assert pets["servers"] == [{"url": "https://pets.example.com"}]  # sent whole, YAML as JSON
    assert pets["paths"]["/pets"]["get"]["responses"] == {"200": {"description": "ok"}}
    assert sent[1]["openapi"]["spec"] == WEATHER
    assert mcp_tool_names(emulator, box, "1") == ["pets.listPets", "weather.getForecast"]

    # A new operation in the ConfigMap: a new toolbox version, with nothing else touched.
    edited = PETS_YAML + "  /pets/{id}:\n    get:\n      operationId: getPet\n"
    apply(kubectl, namespace, config_map(edited))
    wait_version(kubectl, namespace, box, "2")
    assert mcp_tool_names(emulator, box, "2") == [
        "pets.listPets",
        "pets.getPet",
        "weather.getForecast",
    ]

    # A document the tool cannot use: the toolbox says which field and ConfigMap, and its
    # current version stays the last good one.
    apply(kubectl, namespace, config_map("openapi: 3.0.0\npaths:\n  /a:\n    get: {}\n"))
    wait_for(
        lambda: "InvalidSpec" in json.dumps(status(kubectl, namespace, box).get("conditions")),
        timeout=60,
        what="the invalid document reported",
    )
    now = status(kubectl, namespace, box)
    assert now["currentVersion"] == "2"
    assert now["lastError"]["message"].startswith(
        "spec.tools[0].openapi.specFrom: the document in ConfigMap 'pets-api' key "
        "'openapi.yaml': paths['/a'].get needs an operationId"
    )
    kubectl("delete", "foundrytoolbox", box, "-n", namespace, "--timeout=60s")


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (
            {"auth": {"type": "anonymous"}},
            "spec.tools[].openapi must set exactly one of spec or specFrom",
        ),
        (
            {"spec": WEATHER, "auth": {"type": "managed_identity"}},
            "managed_identity needs securityScheme.audience",
        ),
        (
            {"spec": {**WEATHER, "openapi": "2.0"}, "auth": {"type": "anonymous"}},
            "spec.tools[].openapi.spec.openapi must be an OpenAPI 3 version",
        ),
    ],
)
def test_invalid_openapi_tools_are_refused_at_apply_with_the_field_named(
    kubectl: Any, namespace: str, function: dict[str, Any], message: str
) -> None:
    tool = {"type": "openapi", "openapi": {"name": "weather", **function}}
    refused = apply(kubectl, namespace, toolbox_obj(unique("bad"), [tool]), check=False)
    assert refused.returncode != 0
    assert message in refused.stderr
