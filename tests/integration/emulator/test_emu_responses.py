"""The per-agent Responses endpoint, through the openai client the SDK hands out."""

from __future__ import annotations

import asyncio
from collections import Counter

import openai
import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.aio import AIProjectClient as AsyncAIProjectClient
from azure.ai.projects.models import VersionRefIndicator
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential
from emu_helpers import PROVISIONING_SECONDS, active_agent, hosted_definition, route

from foundry_devtools.emulator.admin import AdminClient

pytestmark = pytest.mark.integration


def test_a_plain_response_echoes_the_agent_and_version(
    project: AIProjectClient, agent_name: str
) -> None:
    active_agent(project, agent_name)
    client = project.get_openai_client(agent_name=agent_name)
    response = client.responses.create(input="hello there")
    assert response.status == "completed"
    assert response.output_text == f"[{agent_name} v1] echo: hello there"
    assert response.usage is not None and response.usage.total_tokens > 0


def test_a_streamed_response_arrives_as_responses_events(
    project: AIProjectClient, agent_name: str
) -> None:
    active_agent(project, agent_name)
    client = project.get_openai_client(agent_name=agent_name)
    events = list(client.responses.create(input="stream me", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == f"[{agent_name} v1] echo: stream me"
    assert events[-1].response.output_text == deltas


def test_the_async_clients_work_too(
    project: AIProjectClient, agent_name: str, emulator_env: dict[str, str]
) -> None:
    active_agent(project, agent_name)

    async def main() -> tuple[str, str]:
        async with (
            AsyncDefaultAzureCredential() as credential,
            AsyncAIProjectClient(
                endpoint=emulator_env["AZURE_AI_PROJECT_ENDPOINT"], credential=credential
            ) as async_project,
        ):
            client = async_project.get_openai_client(agent_name=agent_name)
            plain = await client.responses.create(input=[{"role": "user", "content": "hi"}])
            stream = await client.responses.create(input="again", stream=True)
            text = "".join(
                [e.delta async for e in stream if e.type == "response.output_text.delta"]
            )
            await client.close()
            return plain.output_text, text

    plain, streamed = asyncio.run(main())
    assert plain.endswith("echo: hi") and streamed.endswith("echo: again")


def served_by(text: str) -> str:
    """'v2' from '[agent v2] echo: ...'."""
    return text.split("]", 1)[0].rsplit(" ", 1)[1]


def test_traffic_follows_the_version_selector(project: AIProjectClient, agent_name: str) -> None:
    active_agent(project, agent_name, versions=2)
    route(project, agent_name, ("1", 70), ("2", 30))
    client = project.get_openai_client(agent_name=agent_name)
    answers = Counter(served_by(client.responses.create(input="x").output_text) for _ in range(100))
    assert answers == {"v1": 70, "v2": 30}


def test_a_50_50_split_over_200_requests_is_exact_and_interleaved(
    project: AIProjectClient, agent_name: str
) -> None:
    active_agent(project, agent_name, versions=2)
    route(project, agent_name, ("1", 50), ("2", 50))
    client = project.get_openai_client(agent_name=agent_name)
    raw = [client.responses.with_raw_response.create(input="x") for _ in range(200)]
    served = [r.headers["x-agent-version"] for r in raw]
    assert Counter(served) == {"1": 100, "2": 100}
    assert set(served[:4]) == {"1", "2"}
    assert all(
        served_by(r.parse().output_text) == f"v{v}" for r, v in zip(raw, served, strict=True)
    )


def test_a_session_pinned_to_a_version_is_served_by_it_whatever_the_split(
    project: AIProjectClient, agent_name: str
) -> None:
    # The operator's pre-traffic probe: a new version gets 0 % of traffic and a session.
    active_agent(project, agent_name, versions=2)
    route(project, agent_name, ("1", 100), ("2", 0))
    session = project.agents.create_session(
        agent_name, version_indicator=VersionRefIndicator(agent_version="2")
    )
    client = project.get_openai_client(agent_name=agent_name)
    sid = {"agent_session_id": session.agent_session_id}
    pinned = [client.responses.create(input="probe", extra_body=sid) for _ in range(5)]
    assert {p.output_text for p in pinned} == {f"[{agent_name} v2] echo: probe"}
    assert all(
        (p.model_extra or {}).get("agent_session_id") == sid["agent_session_id"] for p in pinned
    )
    unpinned = {served_by(client.responses.create(input="x").output_text) for _ in range(20)}
    assert unpinned == {"v1"}


def test_a_request_naming_an_unknown_session_starts_it_on_the_routed_version(
    project: AIProjectClient, agent_name: str
) -> None:
    active_agent(project, agent_name, versions=2)
    route(project, agent_name, ("1", 0), ("2", 100))
    client = project.get_openai_client(agent_name=agent_name)
    first = client.responses.create(input="a", extra_body={"agent_session_id": "conv-new"})
    assert served_by(first.output_text) == "v2"
    session = project.agents.get_session(agent_name, "conv-new")
    assert session.version_indicator["agent_version"] == "2"
    route(project, agent_name, ("1", 100), ("2", 0))
    later = client.responses.create(input="b", extra_body={"agent_session_id": "conv-new"})
    assert served_by(later.output_text) == "v2", "the session keeps its version"


def test_a_routed_version_can_be_deleted_with_force_and_traffic_moves_on(
    project: AIProjectClient, agent_name: str
) -> None:
    # What the SDK's own sample does: route 100 % to a version, then force-delete it.
    active_agent(project, agent_name, versions=3)
    route(project, agent_name, ("2", 80), ("3", 20))
    deleted = project.agents.delete_version(agent_name, "3", force=True)
    assert deleted.deleted
    endpoint = project.agents.get(agent_name).agent_endpoint
    assert endpoint is not None and endpoint.version_selector is not None
    rules = endpoint.version_selector.version_selection_rules
    assert [(r["agent_version"], r["traffic_percentage"]) for r in rules] == [("2", 100)]
    client = project.get_openai_client(agent_name=agent_name)
    assert client.responses.create(input="x").output_text.startswith(f"[{agent_name} v2]")


def test_a_disabled_agent_refuses_requests(project: AIProjectClient, agent_name: str) -> None:
    active_agent(project, agent_name)
    project.agents.disable(agent_name)
    client = project.get_openai_client(agent_name=agent_name)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.responses.create(input="hi")
    assert caught.value.code == "agent_disabled"
    project.agents.enable(agent_name)
    assert client.responses.create(input="hi").status == "completed"


def test_a_disabled_agent_can_drain_existing_sessions(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    active_agent(project, agent_name)
    client = project.get_openai_client(agent_name=agent_name)
    client.responses.create(input="hi", extra_body={"agent_session_id": "old"})
    project.agents.disable(agent_name)
    with pytest.raises(openai.PermissionDeniedError):
        client.responses.create(input="hi", extra_body={"agent_session_id": "old"})
    admin.patch_config({"responses": {"disabled_serves_existing_sessions": True}})
    try:
        kept = client.responses.create(input="hi", extra_body={"agent_session_id": "old"})
        assert kept.status == "completed"
        with pytest.raises(openai.PermissionDeniedError):
            client.responses.create(input="hi", extra_body={"agent_session_id": "new"})
        with pytest.raises(openai.PermissionDeniedError):
            client.responses.create(input="hi")
    finally:
        admin.patch_config({"responses": {"disabled_serves_existing_sessions": False}})


def test_a_failed_routed_version_refuses_requests_without_retries(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    active_agent(project, agent_name)
    admin.set_version_status(
        agent_name, "1", "failed", {"code": "ImageError", "message": "Failed to pull image."}
    )
    before = admin.stats().count("responses", 400)
    client = project.get_openai_client(agent_name=agent_name)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(input="hi")
    assert caught.value.code == "agent_version_failed"
    assert "[ImageError] Failed to pull image." in caught.value.message
    assert admin.stats().count("responses", 400) == before + 1


def test_a_creating_version_answers_503_with_retry_after(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    admin.set_provisioning_delay(30)
    try:
        project.agents.create_version(agent_name, definition=hosted_definition())
    finally:
        admin.set_provisioning_delay(PROVISIONING_SECONDS)
    client = project.get_openai_client(agent_name=agent_name, max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(input="hi")
    assert caught.value.status_code == 503
    assert int(caught.value.response.headers["Retry-After"]) >= 1


def test_sessions_named_in_requests_are_kept(project: AIProjectClient, agent_name: str) -> None:
    active_agent(project, agent_name)
    client = project.get_openai_client(agent_name=agent_name)
    response = client.responses.create(input="hi", extra_body={"agent_session_id": "conv-1"})
    assert response.model_extra is not None
    assert response.model_extra["agent_session_id"] == "conv-1"
    assert project.agents.get_session(agent_name, "conv-1").status == "active"


def test_an_unknown_api_version_on_the_agent_endpoint_is_a_404(
    project: AIProjectClient, agent_name: str
) -> None:
    active_agent(project, agent_name)
    client = project.get_openai_client(
        agent_name=agent_name, default_query={"api-version": "2025-11-15-preview"}
    )
    with pytest.raises(openai.NotFoundError):
        client.responses.create(input="hi")


def test_a_missing_agent_is_a_404(project: AIProjectClient, agent_name: str) -> None:
    client = project.get_openai_client(agent_name=agent_name)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(input="hi")
