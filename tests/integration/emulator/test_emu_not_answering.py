"""Versions Foundry reports active whose container never answers: 424 session_not_ready.

Through the real clients, the way the operator's pre-traffic probe will meet them: a session
pinned to the version with the SDK, a Responses call on it with the openai client, then the
session's log stream for the container's last stderr lines.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import cast

import openai
import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import VersionRefIndicator
from azure.core.exceptions import HttpResponseError
from emu_helpers import active_agent, hosted_definition, route

from foundry_devtools.emulator.admin import AdminClient

pytestmark = pytest.mark.integration

CRASHING = "acr.azurecr.io/agents/crash-on-start:1"


def log_stream(
    project: AIProjectClient, agent: str, version: str, sid: str
) -> list[dict[str, str]]:
    # SDK 2.10 types the stream as one SessionLogEvent; it yields the SSE bytes.
    chunks = cast(Iterable[bytes], project.agents.get_session_log_stream(agent, version, sid))
    raw = b"".join(chunks)
    frames = [f for f in raw.decode().split("\n\n") if f.strip()]
    return [json.loads(f.split("data: ", 1)[1]) for f in frames]


def stderr_of(lines: list[dict[str, str]]) -> list[str]:
    return [line["message"] for line in lines if line["stream"] == "stderr"]


def test_a_probe_session_on_a_crashing_version_gets_424_and_its_logs_show_why(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    active_agent(
        project, agent_name, definitions=[hosted_definition(), hosted_definition(CRASHING)]
    )
    assert project.agents.get_version(agent_name, "2").status == "active"
    route(project, agent_name, ("1", 100), ("2", 0))
    session = project.agents.create_session(
        agent_name, version_indicator=VersionRefIndicator(agent_version="2")
    )
    sid = session.agent_session_id
    client = project.get_openai_client(agent_name=agent_name)
    before = admin.stats().count("responses", 424)
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(input="probe", extra_body={"agent_session_id": sid})
    assert caught.value.status_code == 424
    assert caught.value.code == "session_not_ready"
    assert caught.value.message.endswith(
        f"Session '{sid}' did not become ready within the expected timeout."
    )
    assert caught.value.response.headers["x-agent-version"] == "2"
    assert admin.stats().count("responses", 424) == before + 1, "424 is not retried"

    stderr = stderr_of(log_stream(project, agent_name, "2", sid))
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[-1] == "KeyError: 'AZURE_AI_MODEL_DEPLOYMENT_NAME'"
    # The version serving the traffic is untouched.
    assert client.responses.create(input="x").output_text.startswith(f"[{agent_name} v1]")


def test_an_unpinned_424_names_a_session_whose_log_stream_can_be_read(
    project: AIProjectClient, agent_name: str
) -> None:
    active_agent(project, agent_name, definitions=[hosted_definition(CRASHING)])
    client = project.get_openai_client(agent_name=agent_name)
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(input="hi")
    assert caught.value.status_code == 424
    named = re.search(r"Session '([^']+)'", caught.value.message)
    assert named is not None
    lines = log_stream(project, agent_name, "1", named.group(1))
    assert [line["message"] for line in lines if line["stream"] == "status"][:2] == [
        "Connecting to the container 'agent-container'...",
        "Successfully connected to container",
    ]
    assert stderr_of(lines)[-1].startswith("KeyError:")


def test_a_canary_whose_env_makes_it_crash_fails_its_share_of_the_traffic(
    project: AIProjectClient, agent_name: str
) -> None:
    # The environment marker: the value names the variable the container then misses.
    canary = hosted_definition(environment_variables={"EMULATOR_CRASH_ON_START": "SEARCH_KEY"})
    active_agent(project, agent_name, definitions=[hosted_definition(), canary])
    route(project, agent_name, ("1", 90), ("2", 10))
    client = project.get_openai_client(agent_name=agent_name)
    outcomes: Counter[str] = Counter()
    session_ids = []
    for _ in range(100):
        try:
            client.responses.create(input="x")
            outcomes["ok"] += 1
        except openai.APIStatusError as error:
            outcomes[f"{error.status_code} {error.code}"] += 1
            session_ids.append(re.findall(r"'([^']+)'", error.message)[0])
    assert outcomes == {"ok": 90, "424 session_not_ready": 10}
    assert stderr_of(log_stream(project, agent_name, "2", session_ids[0]))[-1] == (
        "KeyError: 'SEARCH_KEY'"
    )
    # Those sessions are active: removing the canary needs force, as with any session.
    assert project.agents.delete_version(agent_name, "2", force=True).deleted


def test_a_runtime_rule_by_missing_env_with_its_own_stderr(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    rule = admin.add_failure_rule(
        "session_not_ready",
        match=f"*{agent_name}*",
        env_missing=["MODEL_DEPLOYMENT"],
        mode="not_answering",
        stderr=["ERROR: MODEL_DEPLOYMENT is not set; token={env:TOKEN}"],
    )
    try:
        image = f"acr.azurecr.io/{agent_name}:1"
        active_agent(
            project,
            agent_name,
            definitions=[
                hosted_definition(image, environment_variables={"MODEL_DEPLOYMENT": "gpt"}),
                hosted_definition(image, environment_variables={"TOKEN": "t-42"}),
            ],
        )
    finally:
        admin.remove_failure_rule(rule)
    client = project.get_openai_client(agent_name=agent_name)
    for version, expected in (("1", 200), ("2", 424)):
        sid = f"{agent_name}-v{version}"
        project.agents.create_session(
            agent_name,
            version_indicator=VersionRefIndicator(agent_version=version),
            agent_session_id=sid,
        )
        raw = client.responses.with_raw_response
        try:
            status = raw.create(input="x", extra_body={"agent_session_id": sid}).status_code
        except openai.APIStatusError as error:
            status = error.status_code
        assert status == expected
    assert stderr_of(log_stream(project, agent_name, "2", f"{agent_name}-v2")) == [
        "ERROR: MODEL_DEPLOYMENT is not set; token=t-42"
    ]


def test_session_creation_can_refuse_too_and_the_answer_can_be_delayed(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    active_agent(project, agent_name, definitions=[hosted_definition(CRASHING)])
    admin.patch_config(
        {
            "responses": {
                "not_answering_refuses_session_create": True,
                "not_answering_delay_seconds": 0.3,
            }
        }
    )
    try:
        with pytest.raises(HttpResponseError) as caught:
            project.agents.create_session(
                agent_name,
                version_indicator=VersionRefIndicator(agent_version="1"),
                agent_session_id="refused",
            )
        assert caught.value.status_code == 424
        assert caught.value.error is not None and caught.value.error.code == "session_not_ready"
        # The session exists all the same, with the crash in its log.
        assert stderr_of(log_stream(project, agent_name, "1", "refused"))
        client = project.get_openai_client(agent_name=agent_name)
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError):
            client.responses.create(input="x", extra_body={"agent_session_id": "refused"})
        assert time.monotonic() - started >= 0.3
    finally:
        admin.patch_config(
            {
                "responses": {
                    "not_answering_refuses_session_create": False,
                    "not_answering_delay_seconds": 0,
                }
            }
        )
