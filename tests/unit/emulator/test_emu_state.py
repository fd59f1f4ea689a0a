"""Project state: numbering, lifecycle, failure rules, deletion rules, routing, round trips."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_devtools.emulator.config import (
    EmulatorConfig,
    FailureMode,
    FailureRule,
    IdenticalDefinitionPolicy,
    RoutedVersionDeletePolicy,
    TrafficSplit,
)
from foundry_devtools.emulator.errors import ApiError
from foundry_devtools.emulator.failures import FailureRules
from foundry_devtools.emulator.paging import PageQuery
from foundry_devtools.emulator.state import ProjectState, VersionStatus
from foundry_devtools.emulator.validation import CreateVersionRequest

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make_state(config: EmulatorConfig | None = None) -> tuple[ProjectState, Clock]:
    config = config or EmulatorConfig()
    clock = Clock()
    state = ProjectState(
        "local", config, FailureRules(config.effective_failure_rules()), clock=clock
    )
    return state, clock


def request(image: str = "acr.azurecr.io/echo:1", **extra: Any) -> CreateVersionRequest:
    definition = {
        "kind": "hosted",
        "cpu": "1",
        "memory": "2Gi",
        "container_configuration": {"image": image},
        **extra,
    }
    return CreateVersionRequest(
        definition=definition, metadata={}, description="", draft=False, blueprint_reference=None
    )


def status(state: ProjectState, name: str, version: str) -> VersionStatus:
    return state.get_version(name, version)[1].status


def test_versions_are_numbered_from_one_without_gaps() -> None:
    state, _ = make_state()
    numbers = [state.create_version("a", request()).number for _ in range(5)]
    assert numbers == [1, 2, 3, 4, 5]


def test_a_deleted_version_number_is_never_reused() -> None:
    state, _ = make_state()
    for _ in range(3):
        state.create_version("a", request())
    state.delete_version("a", "3", force=False)
    assert state.create_version("a", request()).number == 4


def test_hosted_versions_are_creating_until_the_provisioning_delay_passes() -> None:
    state, clock = make_state()
    version = state.create_version("a", request())
    assert version.status is VersionStatus.CREATING
    clock.now += 0.99
    assert status(state, "a", "1") is VersionStatus.CREATING
    clock.now += 0.02
    assert status(state, "a", "1") is VersionStatus.ACTIVE


def test_non_hosted_kinds_are_active_at_once() -> None:
    state, _ = make_state()
    prompt = CreateVersionRequest(
        definition={"kind": "prompt", "model": "gpt"},
        metadata={},
        description="",
        draft=False,
        blueprint_reference=None,
    )
    assert state.create_version("p", prompt).status is VersionStatus.ACTIVE


def test_a_default_rule_fails_images_named_does_not_exist() -> None:
    state, clock = make_state()
    state.create_version("a", request("acr.azurecr.io/does-not-exist:1"))
    clock.now += 5
    _, version = state.get_version("a", "1")
    assert version.status is VersionStatus.FAILED
    rendered = state.render_version("a", version)
    assert rendered["error"]["code"] == "image_pull_failed"
    assert "does-not-exist" in rendered["error"]["message"]


def test_an_http_error_rule_refuses_the_create_without_creating_the_agent() -> None:
    state, _ = make_state()
    with pytest.raises(ApiError) as caught:
        state.create_version("a", request("acr.azurecr.io/invalid-container-image:1"))
    assert (caught.value.status, caught.value.code) == (400, "InvalidContainerImage")
    assert "a" not in state.agents


def test_user_rules_take_precedence_and_can_use_regex() -> None:
    config = EmulatorConfig(
        failure_rules=[
            FailureRule(regex=r"/private/", code="UnauthorizedAcrPull", delay_seconds=0),
        ]
    )
    state, _ = make_state(config)
    state.create_version("a", request("acr.azurecr.io/private/does-not-exist:1"))
    _, version = state.get_version("a", "1")
    assert version.status is VersionStatus.FAILED
    assert version.error == {
        "code": "UnauthorizedAcrPull",
        "message": "Provisioning of image "
        "'acr.azurecr.io/private/does-not-exist:1' failed: "
        "UnauthorizedAcrPull.",
    }


def test_identical_definition_creates_a_new_version_by_default() -> None:
    state, _ = make_state()
    state.create_version("a", request())
    assert state.create_version("a", request()).number == 2


def test_identical_definition_can_return_the_latest_version() -> None:
    config = EmulatorConfig()
    config.lifecycle.identical_definition = IdenticalDefinitionPolicy.RETURN_LATEST
    state, _ = make_state(config)
    state.create_version("a", request())
    assert state.create_version("a", request()).number == 1
    assert state.create_version("a", request("acr.azurecr.io/echo:2")).number == 2


def test_the_version_cap_is_a_user_error() -> None:
    config = EmulatorConfig()
    config.limits.max_versions_per_agent = 3
    state, _ = make_state(config)
    for _ in range(3):
        state.create_version("a", request())
    with pytest.raises(ApiError) as caught:
        state.create_version("a", request())
    assert (caught.value.status, caught.value.code) == (400, "UserError")
    state.delete_version("a", "1", force=False)
    assert state.create_version("a", request()).number == 4


def test_deleting_the_last_version_deletes_the_agent() -> None:
    state, _ = make_state()
    state.create_version("a", request())
    state.delete_version("a", "1", force=False)
    with pytest.raises(ApiError) as caught:
        state.get_agent("a")
    assert caught.value.status == 404


def test_active_sessions_block_deletes_unless_forced() -> None:
    state, clock = make_state()
    state.create_version("a", request())
    clock.now += 2
    _, session = state.create_session("a", "1", None)
    for delete in (
        lambda: state.delete_version("a", "1", force=False),
        lambda: state.delete_agent("a", force=False),
    ):
        with pytest.raises(ApiError) as caught:
            delete()
        assert caught.value.status == 409
    state.stop_session("a", session.session_id)
    state.delete_agent("a", force=False)


def test_force_delete_cascades_to_sessions() -> None:
    state, clock = make_state()
    state.create_version("a", request())
    state.create_version("a", request())
    clock.now += 2
    state.create_session("a", "1", "s1")
    state.delete_version("a", "1", force=True)
    with pytest.raises(ApiError):
        state.get_session("a", "s1")


def test_sessions_need_an_enabled_agent_and_an_active_version() -> None:
    state, clock = make_state()
    state.create_version("a", request())
    with pytest.raises(ApiError) as caught:
        state.create_session("a", "1", None)
    assert (caught.value.status, caught.value.code) == (409, "agent_version_not_ready")
    clock.now += 2
    state.set_enabled("a", False)
    with pytest.raises(ApiError) as caught:
        state.create_session("a", "1", None)
    assert caught.value.code == "agent_disabled"


def test_a_failed_version_answers_400_agent_version_failed_with_its_error() -> None:
    state, clock = make_state()
    state.create_version("a", request("acr.azurecr.io/does-not-exist:1"))
    clock.now += 2
    agent, version = state.get_version("a", "1")
    for invocation in (True, False):
        with pytest.raises(ApiError) as caught:
            state.require_serving(agent, version, invocation=invocation)
        assert (caught.value.status, caught.value.code) == (400, "agent_version_failed")
        assert caught.value.message.startswith(
            "Agent version provisioning failed: [image_pull_failed] Failed to pull image"
        )


def route_patch(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {
        "agent_endpoint": {
            "version_selector": {
                "version_selection_rules": [
                    {"type": "FixedRatio", "agent_version": v, "traffic_percentage": p}
                    for v, p in pairs
                ]
            }
        }
    }


def test_routing_rules_must_name_existing_non_failed_versions() -> None:
    state, clock = make_state()
    state.create_version("a", request())
    state.create_version("a", request("acr.azurecr.io/does-not-exist:1"))
    clock.now += 2
    with pytest.raises(ApiError, match="does not exist"):
        state.update_details("a", route_patch(("1", 50), ("9", 50)))
    with pytest.raises(ApiError, match="failed"):
        state.update_details("a", route_patch(("1", 50), ("2", 50)))
    agent = state.update_details("a", route_patch(("1", 100)))
    assert agent.endpoint is not None


def test_fixed_ratio_routing_splits_every_hundred_requests_exactly() -> None:
    state, clock = make_state()
    for _ in range(2):
        state.create_version("a", request())
    clock.now += 2
    state.update_details("a", route_patch(("1", 90), ("2", 10)))
    picks = [state.route("a").version.number for _ in range(100)]
    assert picks.count(1) == 90 and picks.count(2) == 10
    assert 2 in picks[:20], "a 90/10 split should interleave, not batch"


def test_the_rotation_splits_200_requests_at_50_50_exactly_and_interleaved() -> None:
    state, clock = make_state()
    for _ in range(2):
        state.create_version("a", request())
    clock.now += 2
    state.update_details("a", route_patch(("1", 50), ("2", 50)))
    picks = [state.route("a").version.number for _ in range(200)]
    assert picks.count(1) == picks.count(2) == 100
    assert set(picks[:4]) == {1, 2}


def random_split(seed: int) -> ProjectState:
    config = EmulatorConfig()
    config.routing.split = TrafficSplit.RANDOM
    config.routing.seed = seed
    state, clock = make_state(config)
    for _ in range(2):
        state.create_version("a", request())
    clock.now += 2
    state.update_details("a", route_patch(("1", 90), ("2", 10)))
    return state


def test_the_random_split_is_seeded_and_roughly_proportional() -> None:
    state = random_split(7)
    run = [state.route("a").version.number for _ in range(1000)]
    again = random_split(7)
    assert [again.route("a").version.number for _ in range(1000)] == run
    assert 50 <= run.count(2) <= 150
    other = random_split(8)
    assert [other.route("a").version.number for _ in range(1000)] != run


def test_an_existing_session_pins_its_version_without_moving_the_rotation() -> None:
    state, clock = make_state()
    for _ in range(2):
        state.create_version("a", request())
    clock.now += 2
    state.create_session("a", "2", "probe")
    state.update_details("a", route_patch(("1", 100), ("2", 0)))
    agent = state.get_agent("a")
    pinned = state.pinned_version(agent, "probe")
    assert pinned is not None and pinned.number == 2
    assert state.pinned_version(agent, "unknown") is None
    assert state.pinned_version(agent, None) is None
    assert agent.route_counter == 0


def test_a_disabled_agent_can_be_set_to_drain_existing_sessions() -> None:
    state, clock = make_state()
    state.create_version("a", request())
    clock.now += 2
    state.set_enabled("a", False)
    agent, version = state.get_version("a", "1")
    with pytest.raises(ApiError) as caught:
        state.require_serving(agent, version, invocation=True, existing_session=True)
    assert (caught.value.status, caught.value.code) == (403, "agent_disabled")
    state.config.responses.disabled_serves_existing_sessions = True
    state.require_serving(agent, version, invocation=True, existing_session=True)
    with pytest.raises(ApiError):
        state.require_serving(agent, version, invocation=True)


def test_without_a_selector_traffic_goes_to_the_latest_version() -> None:
    state, _ = make_state()
    for _ in range(3):
        state.create_version("a", request())
    assert state.route("a").version.number == 3


def routed_state(config: EmulatorConfig | None = None) -> ProjectState:
    state, clock = make_state(config)
    for _ in range(3):
        state.create_version("a", request())
    clock.now += 2
    state.update_details("a", route_patch(("1", 50), ("2", 25), ("3", 25)))
    return state


def rules_of(state: ProjectState) -> list[tuple[str, int]]:
    endpoint = state.get_agent("a").endpoint or {}
    rules = (endpoint.get("version_selector") or {}).get("version_selection_rules") or []
    return [(r["agent_version"], r["traffic_percentage"]) for r in rules]


@pytest.mark.parametrize("force", [True, False])
def test_deleting_a_routed_version_drops_its_rule_and_rescales_the_rest(force: bool) -> None:
    state = routed_state()
    state.delete_version("a", "1", force=force)
    assert rules_of(state) == [("2", 50), ("3", 50)]
    assert {state.route("a").version.number for _ in range(10)} == {2, 3}


def test_deleting_the_only_routed_version_removes_the_selector() -> None:
    state, clock = make_state()
    for _ in range(2):
        state.create_version("a", request())
    clock.now += 2
    state.update_details("a", route_patch(("2", 100)))
    state.delete_version("a", "2", force=True)
    assert "version_selector" not in (state.get_agent("a").endpoint or {})
    assert state.route("a").version.number == 1


def test_require_force_refuses_a_routed_delete_without_force_only() -> None:
    config = EmulatorConfig()
    config.lifecycle.delete_routed_version = RoutedVersionDeletePolicy.REQUIRE_FORCE
    state = routed_state(config)
    with pytest.raises(ApiError) as caught:
        state.delete_version("a", "1", force=False)
    assert (caught.value.status, caught.value.code) == (409, "version_in_use")
    state.delete_version("a", "1", force=True)
    assert rules_of(state) == [("2", 50), ("3", 50)]


def test_reject_refuses_a_routed_delete_even_with_force() -> None:
    config = EmulatorConfig()
    config.lifecycle.delete_routed_version = RoutedVersionDeletePolicy.REJECT
    state = routed_state(config)
    for force in (False, True):
        with pytest.raises(ApiError) as caught:
            state.delete_version("a", "1", force=force)
        assert (caught.value.status, caught.value.code) == (409, "version_in_use")
    assert rules_of(state) == [("1", 50), ("2", 25), ("3", 25)]


def test_active_sessions_still_block_a_routed_delete_without_force() -> None:
    state = routed_state()
    state.create_session("a", "1", "s1")
    with pytest.raises(ApiError) as caught:
        state.delete_version("a", "1", force=False)
    assert (caught.value.status, caught.value.code) == (409, "active_sessions")
    state.delete_version("a", "1", force=True)
    assert rules_of(state) == [("2", 50), ("3", 50)]


def test_merge_patch_keeps_fields_not_mentioned() -> None:
    state, clock = make_state()
    state.create_version("a", request())
    clock.now += 2
    state.update_details("a", {"agent_endpoint": {"protocol_configuration": {"responses": {}}}})
    state.update_details("a", route_patch(("1", 100)))
    endpoint = state.get_agent("a").endpoint
    assert endpoint is not None and set(endpoint) == {"protocol_configuration", "version_selector"}


def test_list_agents_filters_by_the_latest_versions_kind() -> None:
    state, _ = make_state()
    state.create_version("h", request())
    state.create_version("p", CreateVersionRequest({"kind": "prompt"}, {}, "", False, None))
    names = [a.name for a in state.list_agents(PageQuery(), "hosted").items]
    assert names == ["h"]


def test_an_agent_round_trips_through_its_persisted_record() -> None:
    state, clock = make_state()
    state.create_version("a", request())
    state.create_version("a", request("acr.azurecr.io/does-not-exist:1"))
    state.update_details("a", {"agent_endpoint": {"protocol_configuration": {"responses": {}}}})
    record = state.dump_agent("a")
    assert record is not None

    restored, restored_clock = make_state()
    restored_clock.now = clock.now
    restored.load_agent(record)
    assert restored.render_agent(restored.get_agent("a")) == state.render_agent(
        state.get_agent("a")
    )
    assert restored.create_version("a", request()).number == 3
    # The timers continue: the restored versions settle on their original schedule.
    restored_clock.now += 2
    assert status(restored, "a", "1") is VersionStatus.ACTIVE
    assert status(restored, "a", "2") is VersionStatus.FAILED


def test_every_change_marks_its_agent_dirty_for_persistence() -> None:
    state, _ = make_state()
    state.create_version("a", request())
    assert state.dirty == {"a"}
    state.dirty.clear()
    state.get_agent("a")
    assert state.dirty == set()
    state.delete_agent("a", force=False)
    assert state.dirty == {"a"} and state.dump_agent("a") is None


def test_rendered_versions_carry_the_wire_fields_the_sdk_reads() -> None:
    state, _ = make_state()
    version = state.create_version("echo", request())
    body = state.render_version("echo", version)
    assert body["object"] == "agent.version"
    assert body["id"] == "echo:1"
    assert body["version"] == "1"
    assert body["description"] == ""
    assert isinstance(body["created_at"], int)
    assert body["status"] == "creating"
    assert body["metadata"] == {}
    assert body["definition"]["container_protocol_versions"] == []
    assert "error" not in body


def test_a_rule_message_can_echo_an_env_value_or_one_line_of_it() -> None:
    config = EmulatorConfig(
        failure_rules=[
            FailureRule(
                match="*echo*",
                code="image_pull_failed",
                message="bad KEY={env:KEY}; line {env:PEM:2}; unset [{env:NOPE}] [{env:PEM:9}]",
                delay_seconds=0,
            )
        ]
    )
    state, clock = make_state(config)
    env = {"KEY": "k-123", "PEM": "-----BEGIN-----\nsecond-line\n-----END-----"}
    state.create_version("a", request("acr.azurecr.io/echo:1", environment_variables=env))
    clock.now += 1
    _, version = state.get_version("a", "1")
    message = state.render_version("a", version)["error"]["message"]
    assert message == "bad KEY=k-123; line second-line; unset [] []"


# ------------------------------------------------------- active but not answering


def crashing(state: ProjectState, clock: Clock, image: str, **extra: Any) -> tuple[Any, Any]:
    state.create_version("a", request(image, **extra))
    clock.now += 2
    return state.get_version("a", "1")


def log_lines(session: Any, stream: str) -> list[str]:
    return [line["message"] for line in session.logs if line["stream"] == stream]


def test_a_crash_on_start_image_is_active_but_never_answers() -> None:
    state, clock = make_state()
    agent, version = crashing(state, clock, "acr.azurecr.io/crash-on-start:1")
    assert version.status is VersionStatus.ACTIVE
    assert "error" not in state.render_version("a", version)
    state.require_serving(agent, version, invocation=True)  # only the container is broken
    _, session = state.create_session("a", "1", "probe")
    error = state.not_answering_error(agent, version, session)
    assert (error.status, error.code) == (424, "session_not_ready")
    assert error.message == ("Session 'probe' did not become ready within the expected timeout.")
    assert error.headers["x-agent-version"] == "1"
    stderr = log_lines(session, "stderr")
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[-1] == "KeyError: 'AZURE_AI_MODEL_DEPLOYMENT_NAME'"
    assert log_lines(session, "status")[-1] == "Container 'agent-container' exited with code 1"
    assert not log_lines(session, "stdout")


def test_the_env_marker_names_the_variable_the_container_misses() -> None:
    state, clock = make_state()
    env = {"EMULATOR_CRASH_ON_START": "OPENAI_API_KEY"}
    _, version = crashing(state, clock, "acr.azurecr.io/echo:1", environment_variables=env)
    assert version.not_answering is not None
    assert version.not_answering.stderr[-1] == "KeyError: 'OPENAI_API_KEY'"


def test_an_env_missing_rule_fires_only_when_a_named_variable_is_unset() -> None:
    config = EmulatorConfig(
        failure_rules=[
            FailureRule(
                match="*agents/*",
                env_missing=["MODEL", "ENDPOINT"],
                code="session_not_ready",
                mode=FailureMode.NOT_ANSWERING,
            )
        ]
    )
    state, _ = make_state(config)
    full = {"MODEL": "gpt", "ENDPOINT": "https://x"}
    good = state.create_version(
        "a", request("acr.azurecr.io/agents/a:1", environment_variables=full)
    )
    assert good.not_answering is None
    other = state.create_version("a", request("acr.azurecr.io/other:1"))
    assert other.not_answering is None, "the image condition must hold too"
    bad = state.create_version(
        "a",
        request(
            "acr.azurecr.io/agents/a:1", environment_variables={"MODEL": "gpt", "ENDPOINT": ""}
        ),
    )
    assert bad.not_answering is not None and bad.not_answering.status == 424
    assert bad.not_answering.stderr[-1] == "KeyError: 'ENDPOINT'"
    assert bad.not_answering.stderr[2] == '    deployment = os.environ["ENDPOINT"]'


def test_env_match_rules_and_env_echoes_in_stderr() -> None:
    config = EmulatorConfig(
        failure_rules=[
            FailureRule(
                env_match={"MODE": "broken*"},
                code="session_not_ready",
                mode=FailureMode.NOT_ANSWERING,
                http_status=503,
                message="{session} of {image} is down",
                stderr=["ValueError: bad connection string '{env:CONN}'", "{env:PEM:2}"],
            )
        ]
    )
    state, clock = make_state(config)
    env = {"MODE": "broken-now", "CONN": "key=s3cret", "PEM": "a\nsecond\nc"}
    agent, version = crashing(state, clock, "acr.azurecr.io/x:1", environment_variables=env)
    _, session = state.create_session("a", "1", "s")
    assert log_lines(session, "stderr") == [
        "ValueError: bad connection string 'key=s3cret'",
        "second",
    ]
    error = state.not_answering_error(agent, version, session)
    assert (error.status, error.message) == (503, "s of acr.azurecr.io/x:1 is down")
    healthy = state.create_version(
        "a", request("acr.azurecr.io/x:1", environment_variables={"MODE": "ok"})
    )
    assert healthy.not_answering is None


def test_a_failure_rule_needs_a_condition_and_at_most_one_image_matcher() -> None:
    with pytest.raises(ValueError, match="needs a condition"):
        FailureRule(code="x")
    with pytest.raises(ValueError, match="at most one"):
        FailureRule(code="x", match="*", regex=".")
    assert FailureRule(code="x", env_missing=["A"]).mode is FailureMode.FAILED_VERSION
    rule = FailureRule.model_validate({"code": "x", "match": "*", "mode": "not_answering"})
    assert (rule.http_status, rule.message) == (
        424,
        "Session '{session}' did not become ready within the expected timeout.",
    )
    assert rule.stderr and rule.stderr[-1].startswith("Error:")


def test_a_not_answering_version_round_trips_through_its_record() -> None:
    state, clock = make_state()
    crashing(state, clock, "acr.azurecr.io/crash-on-start:1")
    record = state.dump_agent("a")
    assert record is not None
    restored, _ = make_state()
    restored.load_agent(record)
    _, version = restored.get_version("a", "1")
    assert version.not_answering is not None
    assert version.not_answering.code == "session_not_ready"
