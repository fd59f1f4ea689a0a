"""The emulator refuses what the service refuses, naming the offending field."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_devtools.emulator.config import LimitSettings
from foundry_devtools.emulator.errors import ApiError
from foundry_devtools.emulator.validation import (
    merge_patch,
    validate_agent_endpoint,
    validate_agent_name,
    validate_create_body,
)

pytestmark = pytest.mark.unit

LIMITS = LimitSettings()


def hosted(**overrides: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "kind": "hosted",
        "cpu": "0.5",
        "memory": "1Gi",
        "container_configuration": {"image": "acr.azurecr.io/agents/echo:1"},
        "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
    }
    definition.update(overrides)
    return {k: v for k, v in definition.items() if v is not None}


def refused(body: Any, limits: LimitSettings = LIMITS) -> ApiError:
    with pytest.raises(ApiError) as caught:
        validate_create_body(body, limits)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize("name", ["a", "agent-1", "A1b2", "x" * 63, "a-b-c"])
def test_agent_names_that_follow_the_rules_are_accepted(name: str) -> None:
    validate_agent_name(name)


@pytest.mark.parametrize("name", ["-a", "a-", "a_b", "x" * 64, "a.b", "", "ä"])
def test_agent_names_that_break_the_rules_are_refused(name: str) -> None:
    with pytest.raises(ApiError) as caught:
        validate_agent_name(name)
    assert caught.value.param == "agent_name"


def test_a_complete_hosted_definition_is_accepted_and_echoed_unchanged() -> None:
    body = {"definition": hosted(environment_variables={"MODEL": "gpt"}), "metadata": {"k": "v"}}
    request = validate_create_body(body, LIMITS)
    assert request.definition == body["definition"]
    assert request.metadata == {"k": "v"}
    assert request.description == ""


def test_a_missing_definition_is_refused() -> None:
    assert refused({"metadata": {}}).param == "definition"


def test_an_unknown_kind_is_refused() -> None:
    assert refused({"definition": {"kind": "robot"}}).param == "definition.kind"


@pytest.mark.parametrize(
    ("cpu", "memory", "param"),
    [
        (None, "1Gi", "definition.cpu"),
        ("0.5", None, "definition.memory"),
        ("0.1", "1Gi", "definition.cpu"),
        ("5", "1Gi", "definition.cpu"),
        ("500m", "1Gi", "definition.cpu"),
        ("0.5", "256Mi", "definition.memory"),
        ("0.5", "9Gi", "definition.memory"),
        ("0.5", "1GB", "definition.memory"),
    ],
)
def test_cpu_and_memory_are_required_and_within_range(
    cpu: str | None, memory: str | None, param: str
) -> None:
    body = {"definition": hosted(cpu=cpu, memory=memory)}
    body["definition"] = {k: v for k, v in body["definition"].items() if v is not None}
    if cpu is None:
        body["definition"].pop("cpu", None)
    if memory is None:
        body["definition"].pop("memory", None)
    assert refused(body).param == param


def test_cpu_and_memory_ranges_follow_the_configuration() -> None:
    narrow = LimitSettings(cpu_max=2.0, memory_max_gi=4.0)
    assert refused({"definition": hosted(cpu="3")}, narrow).param == "definition.cpu"
    validate_create_body({"definition": hosted(cpu="4", memory="8Gi")}, LIMITS)


def test_memory_in_mi_is_converted_before_the_range_check() -> None:
    validate_create_body({"definition": hosted(memory="512Mi")}, LIMITS)


def test_an_optional_memory_to_cpu_ratio_can_be_enforced() -> None:
    ratio = LimitSettings(memory_per_cpu_gi=2.0)
    validate_create_body({"definition": hosted(cpu="1", memory="2Gi")}, ratio)
    assert refused({"definition": hosted(cpu="1", memory="1Gi")}, ratio).param == (
        "definition.memory"
    )


def test_exactly_one_of_container_or_code_configuration() -> None:
    neither = hosted()
    del neither["container_configuration"]
    assert "container_configuration" in (refused({"definition": neither}).param or "")
    both = hosted(
        code_configuration={
            "runtime": "python_3_12",
            "entry_point": ["main.py"],
            "dependency_resolution": "bundled",
        }
    )
    refused({"definition": both})


def test_a_code_configuration_alone_is_accepted() -> None:
    definition = hosted(
        code_configuration={
            "runtime": "python_3_12",
            "entry_point": ["app.py"],
            "dependency_resolution": "remote_build",
        }
    )
    del definition["container_configuration"]
    validate_create_body({"definition": definition}, LIMITS)


@pytest.mark.parametrize("image", ["", "acr.io/UPPER:1", "has space:1", "acr.io/a:"])
def test_malformed_image_references_are_refused(image: str) -> None:
    error = refused({"definition": hosted(container_configuration={"image": image})})
    assert error.param == "definition.container_configuration.image"


@pytest.mark.parametrize(
    "image",
    [
        "acr.azurecr.io/agents/echo:1",
        "localhost:5000/a/b:latest",
        "myreg.invalid/x:1",
        "acr.azurecr.io/a@sha256:" + "a" * 64,
        "echo",
    ],
)
def test_well_formed_image_references_are_accepted(image: str) -> None:
    validate_create_body({"definition": hosted(container_configuration={"image": image})}, LIMITS)


@pytest.mark.parametrize(
    ("protocols", "param_suffix"),
    [
        ([{"protocol": "smtp", "version": "1.0.0"}], "protocol"),
        ([{"protocol": "responses", "version": "v1"}], "version"),
        ([{"protocol": "responses", "version": "1.0"}], "version"),
        ([{"protocol": "voice_conversation_engine", "version": "2.0.0"}], "version"),
        (
            [
                {"protocol": "responses", "version": "1.0.0"},
                {"protocol": "responses", "version": "2.0.0"},
            ],
            "protocol",
        ),
    ],
)
def test_protocols_come_from_the_sdk_enum_with_semantic_versions(
    protocols: list[dict[str, str]], param_suffix: str
) -> None:
    error = refused({"definition": hosted(protocol_versions=protocols)})
    assert (error.param or "").startswith("definition.protocol_versions[")
    assert (error.param or "").endswith(param_suffix)


def test_voice_engine_at_1_0_0_and_responses_at_2_0_0_are_accepted() -> None:
    protocols = [
        {"protocol": "voice_conversation_engine", "version": "1.0.0"},
        {"protocol": "responses", "version": "2.0.0"},
    ]
    validate_create_body({"definition": hosted(protocol_versions=protocols)}, LIMITS)


@pytest.mark.parametrize("name", ["FOUNDRY_TOKEN", "AGENT_NAME", "agent_x", "1BAD", "A-B"])
def test_invalid_or_reserved_environment_variable_names_are_refused(name: str) -> None:
    error = refused({"definition": hosted(environment_variables={name: "x"})})
    assert error.param == f"definition.environment_variables.{name}"


def test_reserved_prefixes_are_configurable() -> None:
    relaxed = LimitSettings(reserved_env_prefixes=[])
    validate_create_body({"definition": hosted(environment_variables={"AGENT_X": "1"})}, relaxed)


def test_metadata_limits_match_the_sdk_docstring() -> None:
    assert (
        refused({"definition": hosted(), "metadata": {f"k{i}": "v" for i in range(17)}}).param
        == "metadata"
    )
    assert refused({"definition": hosted(), "metadata": {"k" * 65: "v"}}).param.startswith(
        "metadata."
    )
    assert refused({"definition": hosted(), "metadata": {"k": "v" * 513}}).param == "metadata.k"
    assert refused({"definition": hosted(), "metadata": {"k": 1}}).param == "metadata.k"
    validate_create_body(
        {
            "definition": hosted(),
            "metadata": {("k" * 63 + str(i))[-64:]: "v" * 512 for i in range(16)},
        },
        LIMITS,
    )


@pytest.mark.parametrize("timeout", [119, 14401, "900", 1.5])
def test_idle_timeout_must_be_an_integer_in_range(timeout: Any) -> None:
    body = {"definition": hosted(session_configuration={"idle_timeout_seconds": timeout})}
    assert refused(body).param == "definition.session_configuration.idle_timeout_seconds"


def test_merge_patch_merges_objects_replaces_lists_and_deletes_nulls() -> None:
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1}
    patched = merge_patch(target, {"a": {"c": None, "d": 4}, "l": [3], "x": None})
    assert patched == {"a": {"b": 1, "d": 4}, "l": [3]}
    assert target == {"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1}


def rules(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {
        "version_selector": {
            "version_selection_rules": [
                {"type": "FixedRatio", "agent_version": v, "traffic_percentage": p}
                for v, p in pairs
            ]
        }
    }


def test_fixed_ratio_rules_must_sum_to_100() -> None:
    assert [r.traffic_percentage for r in validate_agent_endpoint(rules(("1", 90), ("2", 10)))] == [
        90,
        10,
    ]
    with pytest.raises(ApiError, match="sum to 100"):
        validate_agent_endpoint(rules(("1", 90), ("2", 20)))


def test_a_version_may_appear_in_only_one_rule() -> None:
    with pytest.raises(ApiError, match="more than one rule"):
        validate_agent_endpoint(rules(("1", 50), ("1", 50)))


def test_endpoint_protocols_and_authorization_schemes_are_checked() -> None:
    validate_agent_endpoint(
        {"protocol_configuration": {"responses": {}}, "authorization_schemes": [{"type": "Entra"}]}
    )
    with pytest.raises(ApiError):
        validate_agent_endpoint({"protocol_configuration": {"smtp": {}}})
    with pytest.raises(ApiError):
        validate_agent_endpoint({"authorization_schemes": [{"type": "Basic"}]})
