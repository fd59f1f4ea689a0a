"""Probe and progressive rollout: a new version proves it answers, then takes traffic in steps.

The emulator answers Responses requests as "[agent vN] echo: …" and splits requests without
a session by the endpoint's FixedRatio rules, so the split is visible from a client. Images
containing ``crash-on-start`` turn active but never answer (424 session_not_ready), with a
traceback in the session's log stream, as the service does for a container that dies at boot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from agent_framework import Message
from agent_framework.openai import OpenAIChatClient
from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential

from support import wait_for
from support.hagent import IMAGE, condition, events, get, manifest, routing, unique, wait_ready

pytestmark = pytest.mark.usefixtures("running_operator")

PROBE = {"input": "ping", "expect": "echo: ping", "timeoutSeconds": 10, "periodSeconds": 0}
STEPS = {"steps": [{"weight": 50, "pause": "3s"}]}
CRASHING = "myregistry.azurecr.io/agents/crash-on-start"


def apply(kubectl: Any, namespace: str, text: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=text)


def _answers(foundry: AIProjectClient, agent: str, n: int) -> list[str]:
    client = foundry.get_openai_client(agent_name=agent)
    return [client.responses.create(input="hello").output_text for _ in range(n)]


def test_a_new_version_is_probed_then_takes_traffic_in_steps(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("canary")
    spec = {"probe": PROBE, "rollout": STEPS}
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1", **spec))
    wait_ready(kubectl, namespace, name)
    status = get(kubectl, namespace, name)["status"]
    assert status["probe"]["version"] == "1" and status["probe"]["passed"] is True
    assert status["traffic"] == [{"version": "1", "weight": 100}]

    apply(kubectl, namespace, manifest(name, f"{IMAGE}:2", **spec))

    def halfway() -> bool:
        s = get(kubectl, namespace, name).get("status", {})
        return s.get("trafficSummary") in ("1:50% 2:50%", "2:50% 1:50%")

    wait_for(halfway, timeout=30, what="version 2 at 50 %")
    progressing = condition(kubectl, namespace, name, "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "RollingOut")
    assert "step 1/1" in progressing["message"]
    assert routing(foundry, name) == {"2": 50, "1": 50}
    # A client sees both versions answer while the split holds.
    seen = {text.split("]")[0] for text in _answers(foundry, name, 20)}
    assert {f"[{name} v1", f"[{name} v2"} <= seen

    wait_for(
        lambda: get(kubectl, namespace, name).get("status", {}).get("trafficSummary") == "2:100%",
        timeout=30,
        what="version 2 at 100 %",
    )
    wait_ready(kubectl, namespace, name)
    assert routing(foundry, name) == {"2": 100}
    reasons = [e["reason"] for e in events(kubectl, namespace, name)]
    assert "RollingOut" in reasons


def test_a_version_that_fails_its_probe_is_rolled_back(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("abort")
    spec = {"probe": PROBE, "rollout": STEPS}
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1", **spec))
    wait_ready(kubectl, namespace, name)

    apply(kubectl, namespace, manifest(name, f"{CRASHING}:2", **spec))

    def aborted() -> bool:
        return condition(kubectl, namespace, name, "Ready").get("reason") == "RolloutAborted"

    wait_for(aborted, timeout=45, what="RolloutAborted")
    status = get(kubectl, namespace, name)["status"]
    assert status["traffic"] == [{"version": "1", "weight": 100}]
    assert status["rollout"]["aborted"] is True and status["rollout"]["version"] == "2"
    assert condition(kubectl, namespace, name, "Degraded")["status"] == "True"
    assert routing(foundry, name) == {"1": 100}
    assert all(t.startswith(f"[{name} v1]") for t in _answers(foundry, name, 5))
    found = events(kubectl, namespace, name)
    assert any(e["reason"] == "RolloutAborted" for e in found)
    logs = [e["message"] for e in found if e["reason"] == "AgentLogs"]
    assert logs and "KeyError" in logs[0]


def test_an_active_version_that_does_not_answer_never_becomes_ready(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("mute")
    apply(kubectl, namespace, manifest(name, f"{CRASHING}:1", probe=PROBE))

    def not_responding() -> bool:
        return condition(kubectl, namespace, name, "Ready").get("reason") == "AgentNotResponding"

    wait_for(not_responding, timeout=45, what="AgentNotResponding")
    ready = condition(kubectl, namespace, name, "Ready")
    assert ready["status"] == "False" and "424" in ready["message"]
    assert [v["status"] for v in foundry.agents.list_versions(name)] == ["active"]
    assert routing(foundry, name) == {}  # it never took traffic
    logs = [e["message"] for e in events(kubectl, namespace, name) if e["reason"] == "AgentLogs"]
    assert logs and "KeyError" in logs[0]


def test_clients_answer_with_nothing_but_what_status_publishes(
    kubectl: Any, namespace: str
) -> None:
    """A probed, stepped HostedAgent, called with a plain openai client and with the Agent
    Framework's Responses client, each configured only from status.endpoint plus a token."""
    name = unique("called")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1", probe=PROBE, rollout=STEPS))
    wait_ready(kubectl, namespace, name)
    endpoint = get(kubectl, namespace, name)["status"]["endpoint"]
    token = DefaultAzureCredential().get_token(endpoint["tokenScope"]).token
    headers = {h["name"]: h["value"] for h in endpoint["headers"]}
    query = {"api-version": endpoint["apiVersion"]}

    plain = openai.OpenAI(
        base_url=endpoint["baseURL"], api_key=token, default_headers=headers, default_query=query
    )
    assert plain.responses.create(input="hello").output_text == f"[{name} v1] echo: hello"

    async def framework() -> str:
        async_client = openai.AsyncOpenAI(
            base_url=endpoint["baseURL"],
            api_key=token,
            default_headers=headers,
            default_query=query,
        )
        client = OpenAIChatClient(model="hosted-agent", async_client=async_client)
        response = await client.get_response([Message(role="user", contents=["hello"])])
        await async_client.close()
        return str(response.text)

    assert asyncio.run(framework()) == f"[{name} v1] echo: hello"
