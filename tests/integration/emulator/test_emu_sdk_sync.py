"""Every hosted-agent operation of the sync SDK client, against the emulator subprocess."""

from __future__ import annotations

import json

import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    EntraAuthorizationScheme,
    FixedRatioVersionSelectionRule,
    HostedAgentDefinition,
    ProtocolConfiguration,
    ResponsesProtocolConfiguration,
    SessionConfiguration,
    VersionRefIndicator,
    VersionSelector,
)
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from emu_helpers import PROVISIONING_SECONDS, hosted_definition

from foundry_devtools.emulator.admin import AdminClient
from support import wait_for

pytestmark = pytest.mark.integration


def wait_active(project: AIProjectClient, name: str, version: str) -> None:
    wait_for(
        lambda: project.agents.get_version(name, version).status == "active",
        timeout=PROVISIONING_SECONDS + 10,
        what=f"{name} v{version} active",
    )


def route(*pairs: tuple[str, int]) -> AgentEndpointConfig:
    return AgentEndpointConfig(
        version_selector=VersionSelector(
            version_selection_rules=[
                FixedRatioVersionSelectionRule(agent_version=v, traffic_percentage=p)
                for v, p in pairs
            ]
        ),
        protocol_configuration=ProtocolConfiguration(responses=ResponsesProtocolConfiguration()),
        authorization_schemes=[EntraAuthorizationScheme()],
    )


def test_create_version_returns_a_populated_hosted_version(
    project: AIProjectClient, agent_name: str
) -> None:
    definition = hosted_definition(
        environment_variables={"GREETING": "hello"},
        session_configuration=SessionConfiguration(idle_timeout_seconds=900),
    )
    version = project.agents.create_version(
        agent_name, definition=definition, metadata={"owner": "tests"}, description="first"
    )
    assert version.id == f"{agent_name}:1"
    assert version.name == agent_name
    assert version.version == "1"
    assert version.status == "creating"
    assert version.description == "first"
    assert version.metadata == {"owner": "tests"}
    assert isinstance(version.definition, HostedAgentDefinition)
    assert version.definition.container_configuration.image == "acr.azurecr.io/agents/echo:1"
    assert version.definition.environment_variables == {"GREETING": "hello"}
    assert version.created_at.year >= 2024
    wait_active(project, agent_name, "1")


def test_description_is_empty_when_unset(project: AIProjectClient, agent_name: str) -> None:
    version = project.agents.create_version(agent_name, definition=hosted_definition())
    assert version.description == ""
    assert version.metadata == {}


def test_get_agent_reports_the_latest_version_and_state(
    project: AIProjectClient, agent_name: str
) -> None:
    for tag in ("1", "2"):
        project.agents.create_version(
            agent_name, definition=hosted_definition(f"acr.azurecr.io/agents/echo:{tag}")
        )
    agent = project.agents.get(agent_name)
    assert (agent.id, agent.name, agent.state) == (agent_name, agent_name, "enabled")
    assert agent.versions.latest.version == "2"
    assert agent.versions.latest.definition.container_configuration.image.endswith(":2")


def test_missing_agents_and_versions_raise_resource_not_found(
    project: AIProjectClient, agent_name: str
) -> None:
    with pytest.raises(ResourceNotFoundError):
        project.agents.get(agent_name)
    with pytest.raises(ResourceNotFoundError):
        project.agents.list_versions(agent_name).next()
    project.agents.create_version(agent_name, definition=hosted_definition())
    with pytest.raises(ResourceNotFoundError):
        project.agents.get_version(agent_name, "7")


def test_list_versions_pages_through_every_version_exactly_once(
    project: AIProjectClient, agent_name: str
) -> None:
    for _ in range(23):
        project.agents.create_version(agent_name, definition=hosted_definition())
    newest_first = [v.version for v in project.agents.list_versions(agent_name, limit=5)]
    assert newest_first == [str(n) for n in range(23, 0, -1)]
    oldest_first = [
        v.version for v in project.agents.list_versions(agent_name, limit=5, order="asc")
    ]
    assert oldest_first == [str(n) for n in range(1, 24)]
    default_page = [v.version for v in project.agents.list_versions(agent_name)]
    assert len(default_page) == 23


def test_list_agents_pages_and_filters_by_kind(project: AIProjectClient, agent_name: str) -> None:
    names = [f"{agent_name}-{i}" for i in range(5)]
    for name in names:
        project.agents.create_version(name, definition=hosted_definition())
    listed = [a.name for a in project.agents.list(limit=2)]
    assert all(listed.count(name) == 1 for name in names)
    hosted = {a.name for a in project.agents.list(kind="hosted", limit=100)}
    assert set(names) <= hosted
    assert not set(names) & {a.name for a in project.agents.list(kind="prompt")}


def test_delete_version_and_delete_agent(project: AIProjectClient, agent_name: str) -> None:
    for _ in range(3):
        project.agents.create_version(agent_name, definition=hosted_definition())
    deleted = project.agents.delete_version(agent_name, "2")
    assert (deleted.name, deleted.version, deleted.deleted) == (agent_name, "2", True)
    assert [v.version for v in project.agents.list_versions(agent_name)] == ["3", "1"]
    result = project.agents.delete(agent_name)
    assert (result.name, result.deleted) == (agent_name, True)
    with pytest.raises(ResourceNotFoundError):
        project.agents.get_version(agent_name, "1")


def test_validation_errors_carry_the_emulator_error_code(
    project: AIProjectClient, agent_name: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        project.agents.create_version("-bad-name", definition=hosted_definition())
    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "invalid_value"
    bad_cpu = HostedAgentDefinition(
        cpu="16", memory="1Gi", container_configuration={"image": "acr.azurecr.io/a:1"}
    )
    with pytest.raises(HttpResponseError) as caught:
        project.agents.create_version(agent_name, definition=bad_cpu)
    assert caught.value.error is not None
    assert (caught.value.error.code, caught.value.model.error.param) == (  # type: ignore[union-attr]
        "invalid_value",
        "definition.cpu",
    )
    reserved = hosted_definition(environment_variables={"FOUNDRY_PROJECT": "x"})
    with pytest.raises(HttpResponseError) as caught:
        project.agents.create_version(agent_name, definition=reserved)
    assert caught.value.status_code == 400


def test_the_version_cap_is_a_user_error(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    admin.patch_config({"limits": {"max_versions_per_agent": 2}})
    try:
        for _ in range(2):
            project.agents.create_version(agent_name, definition=hosted_definition())
        with pytest.raises(HttpResponseError) as caught:
            project.agents.create_version(agent_name, definition=hosted_definition())
    finally:
        admin.patch_config({"limits": {"max_versions_per_agent": 1000}})
    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "UserError"


def test_update_details_routes_traffic_and_merges(
    project: AIProjectClient, agent_name: str
) -> None:
    for _ in range(2):
        project.agents.create_version(agent_name, definition=hosted_definition())
    agent = project.agents.update_details(agent_name, agent_endpoint=route(("1", 90), ("2", 10)))
    rules = agent.agent_endpoint.version_selector.version_selection_rules
    assert [(r.agent_version, r.traffic_percentage, r.type) for r in rules] == [
        ("1", 90, "FixedRatio"),
        ("2", 10, "FixedRatio"),
    ]
    assert agent.agent_endpoint.authorization_schemes[0].type == "Entra"
    # Merge patch: naming only the selector keeps the protocol configuration.
    agent = project.agents.update_details(
        agent_name,
        agent_endpoint=AgentEndpointConfig(
            version_selector=VersionSelector(
                version_selection_rules=[
                    FixedRatioVersionSelectionRule(agent_version="2", traffic_percentage=100)
                ]
            )
        ),
    )
    assert agent.agent_endpoint.protocol_configuration.responses is not None
    assert (
        project.agents.get(agent_name)
        .agent_endpoint.version_selector.version_selection_rules[0]
        .agent_version
        == "2"
    )


@pytest.mark.parametrize(
    "pairs",
    [(("1", 60), ("2", 60)), (("1", 50), ("9", 50))],
    ids=["not-summing-to-100", "unknown-version"],
)
def test_update_details_refuses_bad_routing(
    project: AIProjectClient, agent_name: str, pairs: tuple[tuple[str, int], ...]
) -> None:
    for _ in range(2):
        project.agents.create_version(agent_name, definition=hosted_definition())
    with pytest.raises(HttpResponseError) as caught:
        project.agents.update_details(agent_name, agent_endpoint=route(*pairs))
    assert caught.value.status_code == 400


def test_enable_and_disable_are_idempotent(project: AIProjectClient, agent_name: str) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    assert project.agents.disable(agent_name) is None
    project.agents.disable(agent_name)
    assert project.agents.get(agent_name).state == "disabled"
    project.agents.enable(agent_name)
    project.agents.enable(agent_name)
    assert project.agents.get(agent_name).state == "enabled"
    with pytest.raises(ResourceNotFoundError):
        project.agents.enable(f"{agent_name}-missing")


def test_sessions_lifecycle_and_log_stream(project: AIProjectClient, agent_name: str) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    wait_active(project, agent_name, "1")
    indicator = VersionRefIndicator(agent_version="1")
    session = project.agents.create_session(
        agent_name, version_indicator=indicator, agent_session_id="s-one"
    )
    assert (session.agent_session_id, session.status) == ("s-one", "active")
    assert session.version_indicator.agent_version == "1"
    other = project.agents.create_session(agent_name, version_indicator=indicator)
    assert other.agent_session_id != "s-one"
    listed = [s.agent_session_id for s in project.agents.list_sessions(agent_name, limit=1)]
    assert sorted(listed) == sorted(["s-one", other.agent_session_id])
    assert project.agents.get_session(agent_name, "s-one").status == "active"

    raw = b"".join(project.agents.get_session_log_stream(agent_name, "1", "s-one"))
    frames = [f for f in raw.decode().split("\n\n") if f.strip()]
    assert all(f.startswith("event: log\ndata: ") for f in frames)
    lines = [json.loads(f.split("data: ", 1)[1]) for f in frames]
    assert {line["stream"] for line in lines} >= {"status", "stdout"}

    assert project.agents.stop_session(agent_name, "s-one") is None
    assert project.agents.get_session(agent_name, "s-one").status == "idle"
    assert project.agents.delete_session(agent_name, "s-one") is None
    assert project.agents.delete_session(agent_name, "s-one") is None  # missing: still 204
    with pytest.raises(ResourceNotFoundError):
        project.agents.get_session(agent_name, "s-one")
    with pytest.raises(ResourceExistsError):
        project.agents.create_session(
            agent_name, version_indicator=indicator, agent_session_id=other.agent_session_id
        )


def test_deleting_with_active_sessions_needs_force(
    project: AIProjectClient, agent_name: str
) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    wait_active(project, agent_name, "1")
    project.agents.create_session(
        agent_name, version_indicator=VersionRefIndicator(agent_version="1")
    )
    with pytest.raises(ResourceExistsError):
        project.agents.delete_version(agent_name, "1")
    with pytest.raises(ResourceExistsError):
        project.agents.delete(agent_name)
    assert project.agents.delete(agent_name, force=True).deleted
    with pytest.raises(ResourceNotFoundError):
        project.agents.get(agent_name)


def test_sessions_need_an_active_version(project: AIProjectClient, agent_name: str) -> None:
    project.agents.create_version(
        agent_name, definition=hosted_definition("acr.azurecr.io/agents/does-not-exist:1")
    )
    wait_for(
        lambda: project.agents.get_version(agent_name, "1").status == "failed",
        timeout=10,
        what="failed version",
    )
    with pytest.raises(HttpResponseError) as caught:
        project.agents.create_session(
            agent_name, version_indicator=VersionRefIndicator(agent_version="1")
        )
    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "agent_version_failed"


def test_the_log_stream_can_stay_open_and_follow_new_lines(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    wait_active(project, agent_name, "1")
    project.agents.create_session(
        agent_name,
        version_indicator=VersionRefIndicator(agent_version="1"),
        agent_session_id="followed",
    )
    openai_client = project.get_openai_client(agent_name=agent_name)
    admin.patch_config({"log_stream": {"hold_seconds": 1.5}})
    try:
        stream = project.agents.get_session_log_stream(agent_name, "1", "followed")
        first = next(iter(stream))
        assert first.startswith(b"event: log")
        openai_client.responses.create(input="hi", extra_body={"agent_session_id": "followed"})
        rest = b"".join(stream)
    finally:
        admin.patch_config({"log_stream": {"hold_seconds": 0}})
    assert b"POST /responses 200" in rest
