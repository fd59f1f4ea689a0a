"""Tools on GA: FoundryToolboxes, HostedAgents pinned to their versions, inline spec.tools.

Real kube-apiserver and kubectl, the operator as a separate process, and the real SDK
reading the emulator to see what Foundry holds.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from azure.core.exceptions import ResourceNotFoundError

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_operator.api.reserved import METADATA_KIND, METADATA_REF
from support import wait_for
from support.hagent import IMAGE, get, manifest, unique, versions, wait_ready

pytestmark = pytest.mark.usefixtures("running_operator")

MCP_TOOL = {
    "type": "mcp",
    "serverLabel": "docs",
    "serverUrl": "https://mcp.example.com/mcp",
    "requireApproval": "never",
}


def toolbox_manifest(name: str, tools: list[dict[str, Any]], **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "FoundryToolbox",
            "metadata": {"name": name},
            "spec": {"tools": tools, **spec},
        }
    )


def toolbox(kubectl: Any, namespace: str, name: str) -> dict[str, Any]:
    out = kubectl("get", "foundrytoolbox", name, "-n", namespace, "-o", "json").stdout
    return dict(json.loads(out))


def wait_toolbox_version(kubectl: Any, namespace: str, name: str, version: str) -> None:
    wait_for(
        lambda: (
            toolbox(kubectl, namespace, name).get("status", {}).get("currentVersion") == version
        ),
        timeout=60,
        what=f"toolbox {name} at version {version}",
    )


def foundry_toolbox(foundry: AIProjectClient, name: str) -> Any:
    try:
        return foundry.toolboxes.get(name)
    except ResourceNotFoundError:
        return None


def pinned_url(emulator: EmulatorProcess, toolbox_name: str, version: str) -> str:
    return f"{emulator.endpoint}/toolboxes/{toolbox_name}/versions/{version}/mcp?api-version=v1"


def agent_env(foundry: AIProjectClient, agent: str) -> list[dict[str, str]]:
    return [
        dict(v["definition"].get("environment_variables") or {}) for v in versions(foundry, agent)
    ]


def test_a_toolbox_change_rolls_out_a_new_agent_version_pinned_to_it(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    box = unique("tools")
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=toolbox_manifest(box, [MCP_TOOL, {"type": "code_interpreter"}]),
    )
    kubectl(
        "wait", "--for=condition=Ready", "--timeout=60s", f"foundrytoolbox/{box}", "-n", namespace
    )
    status = toolbox(kubectl, namespace, box)["status"]
    assert status["currentVersion"] == "1"
    assert status["mcpEndpoint"] == pinned_url(emulator, box, "1")
    held = foundry_toolbox(foundry, box)
    assert held.default_version == "1"
    first = foundry.toolboxes.get_version(box, "1")
    assert [t["type"] for t in first.tools] == ["mcp", "code_interpreter"]
    assert first.metadata[METADATA_REF] == f"{namespace}/{box}"
    assert first.metadata[METADATA_KIND] == "FoundryToolbox"

    agent = unique("uses")
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest(agent, f"{IMAGE}:1", toolbox={"name": box}),
    )
    wait_ready(kubectl, namespace, agent)
    held_versions = versions(foundry, agent)
    assert len(held_versions) == 1
    definition = held_versions[0]["definition"]
    assert "tools" not in definition
    assert definition["environment_variables"]["MCP_SERVER_URL"] == pinned_url(emulator, box, "1")
    assert get(kubectl, namespace, agent)["status"]["toolbox"] == {
        "name": box,
        "version": "1",
        "env": "MCP_SERVER_URL",
        "resource": box,
    }

    # A new tool: toolbox version 2, and a new agent version pinned to it.
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=toolbox_manifest(
            box, [MCP_TOOL, {"type": "code_interpreter"}, {"type": "web_search"}]
        ),
    )
    wait_toolbox_version(kubectl, namespace, box, "2")
    assert foundry_toolbox(foundry, box).default_version == "2"
    wait_for(
        lambda: (
            [e.get("MCP_SERVER_URL") for e in agent_env(foundry, agent)]
            == [pinned_url(emulator, box, "1"), pinned_url(emulator, box, "2")]
        ),
        timeout=60,
        what="an agent version pinned to toolbox version 2",
    )
    wait_for(
        lambda: (
            (get(kubectl, namespace, agent)["status"].get("toolbox") or {}).get("version") == "2"
            and get(kubectl, namespace, agent)["status"].get("phase") == "Ready"
        ),
        timeout=60,
        what="the agent Ready on toolbox version 2",
    )

    # Deleting the agent keeps the toolbox; deleting the toolbox then cleans Foundry.
    kubectl("delete", "hagent", agent, "-n", namespace, "--timeout=60s")
    assert versions(foundry, agent) == []
    assert foundry_toolbox(foundry, box) is not None
    kubectl("delete", "foundrytoolbox", box, "-n", namespace, "--timeout=60s")
    assert foundry_toolbox(foundry, box) is None


def test_a_toolbox_in_use_stays_in_foundry_until_its_agents_go(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    box = unique("busy")
    kubectl("apply", "-n", namespace, "-f", "-", input=toolbox_manifest(box, [MCP_TOOL]))
    agent = unique("user")
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest(agent, f"{IMAGE}:1", toolbox={"name": box}),
    )
    wait_ready(kubectl, namespace, agent)

    kubectl("delete", "foundrytoolbox", box, "-n", namespace, "--wait=false")

    def in_use() -> bool:
        conditions = toolbox(kubectl, namespace, box).get("status", {}).get("conditions", [])
        ready = next((c for c in conditions if c["type"] == "Ready"), {})
        return ready.get("reason") == "ToolboxInUse" and agent in ready.get("message", "")

    wait_for(in_use, timeout=30, what="ToolboxInUse naming the agent")
    assert toolbox(kubectl, namespace, box)["status"]["phase"] == "Deleting"
    assert foundry_toolbox(foundry, box) is not None

    kubectl("delete", "hagent", agent, "-n", namespace, "--timeout=60s")
    wait_for(
        lambda: kubectl("get", "foundrytoolbox", box, "-n", namespace, check=False).returncode != 0,
        timeout=30,
        what="the toolbox released once its agent went",
    )
    assert foundry_toolbox(foundry, box) is None


def test_inline_tools_become_a_toolbox_the_agent_owns_and_never_the_definition(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    agent = unique("inline")
    # The strict rule refuses any definition field the SDK's models lack (`tools` among
    # them): Ready under it means no create carried one.
    emulator.admin().reject_unknown_fields()
    try:
        kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            input=manifest(agent, f"{IMAGE}:1", tools=[{"type": "code_interpreter"}, MCP_TOOL]),
        )
        wait_ready(kubectl, namespace, agent)
    finally:
        emulator.admin().reject_unknown_fields(False)
    box = f"{agent}-tools"
    held = foundry.toolboxes.get_version(box, "1")
    assert [t["type"] for t in held.tools] == ["code_interpreter", "mcp"]
    assert held.metadata[METADATA_KIND] == "HostedAgent"
    assert held.metadata[METADATA_REF] == f"{namespace}/{agent}"
    definitions = [v["definition"] for v in versions(foundry, agent)]
    assert all("tools" not in d for d in definitions)
    assert definitions[-1]["environment_variables"]["MCP_SERVER_URL"] == pinned_url(
        emulator, box, "1"
    )
    status = get(kubectl, namespace, agent)["status"]
    assert status["ownedToolbox"] == box
    # No agent version in the emulator's recorded state carries `tools`.
    state = emulator.admin().state()
    mine = next(a for a in state["agents"] if a["name"] == agent)
    assert all("tools" not in v["definition"] for v in mine["all_versions"])

    kubectl("delete", "hagent", agent, "-n", namespace, "--timeout=60s")
    assert foundry_toolbox(foundry, box) is None


def test_mcp_credentials_come_from_a_secret_and_never_reach_status(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    token = "oauth-token-6f1d0c2b9a"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mcp-creds"},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(secret))
    box = unique("creds")
    tool = {
        **MCP_TOOL,
        "authorization": {"secretKeyRef": {"name": "mcp-creds", "key": "token"}},
        "headers": [{"name": "X-Team", "value": "search"}],
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=toolbox_manifest(box, [tool]))
    wait_toolbox_version(kubectl, namespace, box, "1")
    sent = foundry.toolboxes.get_version(box, "1").tools[0]
    assert sent["authorization"] == token
    assert sent["headers"] == {"X-Team": "search"}
    assert token not in json.dumps(toolbox(kubectl, namespace, box))

    rotated = {**secret, "data": {"token": base64.b64encode(b"oauth-token-rotated").decode()}}
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(rotated))
    wait_toolbox_version(kubectl, namespace, box, "2")
    assert (
        foundry.toolboxes.get_version(box, "2").tools[0]["authorization"] == "oauth-token-rotated"
    )
    kubectl("delete", "foundrytoolbox", box, "-n", namespace, "--timeout=60s")
