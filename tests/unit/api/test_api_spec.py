"""The spec model: defaults users get, and the same refusals the CRD makes (Python side)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from foundry_operator.api.spec import (
    AgentProtocol,
    DeletionPolicy,
    HostedAgentSpec,
    McpTool,
    resolve_agent_name,
)

pytestmark = pytest.mark.unit

IMAGE = "myregistry.azurecr.io/agents/chat:1.4"


def spec(**fields: Any) -> dict[str, Any]:
    return {"image": IMAGE, **fields}


def test_minimal_spec_gets_documented_defaults() -> None:
    s = HostedAgentSpec.model_validate(spec())
    assert s.agent_name is None
    assert (s.cpu, s.memory) == ("1", "2Gi")
    assert [(p.protocol, p.version) for p in s.protocols] == [(AgentProtocol.RESPONSES, "1.0.0")]
    assert s.env == [] and s.tools == [] and s.metadata == {}
    assert s.deletion_policy is DeletionPolicy.DELETE
    assert s.revision_history_limit == 3
    assert s.idle_timeout_seconds is None


def test_camel_case_fields_round_trip_as_users_write_them() -> None:
    raw = spec(
        agentName="chat",
        registryConnection="acr-conn",
        idleTimeoutSeconds=900,
        deletionPolicy="Retain",
        revisionHistoryLimit=0,
        env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
    )
    dumped = HostedAgentSpec.model_validate(raw).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    for key, value in raw.items():
        assert dumped[key] == value


@pytest.mark.parametrize(
    "image",
    [
        "myregistry.azurecr.io/agents/chat:1.4",
        "myregistry.azurecr.io/chat@sha256:" + "a" * 64,
        "myregistry.azurecr.io/chat:1@sha256:" + "0" * 64,
        "localhost:5000/a/b/c:latest",
        "registry:5000/team/app:v1.2.3-rc.1",
        "ghcr.io/org/my_app__x:1",
    ],
)
def test_full_image_references_are_accepted(image: str) -> None:
    assert HostedAgentSpec.model_validate(spec(image=image)).image == image


@pytest.mark.parametrize(
    "image",
    [
        "nginx:1",  # no registry: would silently mean Docker Hub
        "library/nginx:1",
        "myregistry.azurecr.io/agents/chat",  # neither tag nor digest
        "myregistry.azurecr.io/Agents/chat:1",  # repositories are lowercase
        "myregistry.azurecr.io/chat@sha256:abc",
        "myregistry.azurecr.io/chat:1\n",
    ],
)
def test_partial_or_malformed_images_are_refused(image: str) -> None:
    with pytest.raises(
        ValidationError, match=re.escape("spec.image must be a full image reference")
    ):
        HostedAgentSpec.model_validate(spec(image=image))


@pytest.mark.parametrize("name", ["a", "chat-agent", "A1", "x" * 63])
def test_valid_agent_names(name: str) -> None:
    assert HostedAgentSpec.model_validate(spec(agentName=name)).agent_name == name


@pytest.mark.parametrize("name", ["-a", "a-", "a_b", "a.b", "x" * 64, ""])
def test_invalid_agent_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=r"agentName|at least 1|at most 63"):
        HostedAgentSpec.model_validate(spec(agentName=name))


@pytest.mark.parametrize(
    ("cpu", "ok"),
    [
        ("250m", True),
        ("0.25", True),
        ("4", True),
        ("4001m", False),
        ("0.2", False),
        ("one", False),
        ("1e0", False),
    ],
)
def test_cpu_must_be_a_quantity_in_the_service_range(cpu: str, ok: bool) -> None:
    if ok:
        assert HostedAgentSpec.model_validate(spec(cpu=cpu)).cpu == cpu
    else:
        with pytest.raises(ValidationError, match=r"spec\.cpu must be (a quantity|decimal)"):
            HostedAgentSpec.model_validate(spec(cpu=cpu))


@pytest.mark.parametrize(
    ("memory", "ok"),
    [
        ("512Mi", True),
        ("0.5Gi", True),
        ("8Gi", True),
        ("9Gi", False),
        ("256Mi", False),
        ("2 GB", False),
        ("2G", False),
        ("1000M", False),
        ("1048576k", False),
        ("2147483648", False),
    ],
)
def test_memory_must_be_a_quantity_in_the_service_range(memory: str, ok: bool) -> None:
    if ok:
        assert HostedAgentSpec.model_validate(spec(memory=memory)).memory == memory
    else:
        with pytest.raises(ValidationError, match=r"spec\.memory must be (a quantity|a number)"):
            HostedAgentSpec.model_validate(spec(memory=memory))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ([{"name": "FOUNDRY_X", "value": "1"}], "must not start with FOUNDRY_ or AGENT_"),
        ([{"name": "AGENT_ID", "value": "1"}], "must not start with FOUNDRY_ or AGENT_"),
        ([{"name": "1A", "value": "1"}], "must be a letter or '_'"),
        ([{"name": "A"}], "exactly one of value or valueFrom"),
        (
            [{"name": "A", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            "exactly one of value or valueFrom",
        ),
        (
            [
                {
                    "name": "A",
                    "valueFrom": {
                        "secretKeyRef": {"name": "s", "key": "k"},
                        "configMapKeyRef": {"name": "c", "key": "k"},
                    },
                }
            ],
            "exactly one of secretKeyRef or configMapKeyRef",
        ),
        ([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}], "env names must be unique"),
        ([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "S", "key": "k"}}}], "object name"),
    ],
)
def test_env_mistakes_are_refused_with_the_rule_in_the_message(
    env: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        HostedAgentSpec.model_validate(spec(env=env))


def test_reserved_prefixes_are_refused_in_any_case() -> None:
    # Foundry reserves FOUNDRY_/AGENT_; a lower-case spelling is refused at apply rather than
    # left for the service to judge.
    with pytest.raises(ValidationError, match="must not start with FOUNDRY_ or AGENT_"):
        HostedAgentSpec.model_validate(spec(env=[{"name": "foundry_mode", "value": "x"}]))


def test_protocols_must_be_non_empty_unique_and_semver() -> None:
    with pytest.raises(ValidationError, match="at least 1"):
        HostedAgentSpec.model_validate(spec(protocols=[]))
    with pytest.raises(ValidationError, match="each protocol once"):
        HostedAgentSpec.model_validate(
            spec(protocols=[{"protocol": "responses", "version": "1.0.0"}] * 2)
        )
    with pytest.raises(ValidationError, match="semantic version"):
        HostedAgentSpec.model_validate(spec(protocols=[{"protocol": "responses", "version": "v1"}]))
    with pytest.raises(ValidationError, match="voice_conversation_engine only supports"):
        HostedAgentSpec.model_validate(
            spec(protocols=[{"protocol": "voice_conversation_engine", "version": "2.0.0"}])
        )


def test_metadata_reserved_prefix_count_and_key_length_are_refused() -> None:
    with pytest.raises(ValidationError, match="reserved for the operator"):
        HostedAgentSpec.model_validate(spec(metadata={"k8s-uid": "forged"}))
    with pytest.raises(ValidationError, match="at most 12"):
        HostedAgentSpec.model_validate(spec(metadata={f"k{i}": "v" for i in range(13)}))
    with pytest.raises(ValidationError, match="1-64 characters"):
        HostedAgentSpec.model_validate(spec(metadata={"k" * 65: "v"}))
    with pytest.raises(ValidationError, match="at most 512"):
        HostedAgentSpec.model_validate(spec(metadata={"k": "v" * 513}))
    ok = HostedAgentSpec.model_validate(spec(metadata={f"k{i}": "v" for i in range(12)}))
    assert len(ok.metadata) == 12


def test_tools_are_a_discriminated_list() -> None:
    s = HostedAgentSpec.model_validate(
        spec(
            tools=[
                {"type": "code_interpreter"},
                {"type": "file_search", "vectorStoreIds": ["vs_1"], "maxNumResults": 5},
                {"type": "mcp", "serverLabel": "docs", "serverUrl": "https://mcp.example.com"},
            ]
        )
    )
    assert [t.type for t in s.tools] == ["code_interpreter", "file_search", "mcp"]
    assert isinstance(s.tools[2], McpTool)


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ([{"type": "mcp", "serverLabel": "a"}], "serverUrl"),
        ([{"type": "mcp", "serverLabel": "a", "serverUrl": "ftp://x"}], "http or https URL"),
        ([{"type": "file_search"}], "vectorStoreIds"),
        ([{"type": "browser"}], "does not match any of the expected tags"),
        (
            [{"type": "mcp", "serverLabel": "a", "serverUrl": "https://x"}] * 2,
            "distinct serverLabel",
        ),
    ],
)
def test_tool_mistakes_are_refused(tools: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HostedAgentSpec.model_validate(spec(tools=tools))


def test_idle_timeout_range_is_the_sdk_docstring_range() -> None:
    assert HostedAgentSpec.model_validate(spec(idleTimeoutSeconds=120)).idle_timeout_seconds == 120
    assert HostedAgentSpec.model_validate(spec(idleTimeoutSeconds=14400)).idle_timeout_seconds
    for bad in (119, 14401):
        with pytest.raises(ValidationError):
            HostedAgentSpec.model_validate(spec(idleTimeoutSeconds=bad))


def test_agent_name_defaults_to_metadata_name() -> None:
    assert resolve_agent_name(HostedAgentSpec.model_validate(spec()), "chat") == "chat"
    pinned = HostedAgentSpec.model_validate(spec(agentName="other"))
    assert resolve_agent_name(pinned, "chat") == "other"


def test_metadata_name_that_is_not_an_agent_name_needs_spec_agent_name() -> None:
    with pytest.raises(ValueError, match=re.escape("set spec.agentName")):
        resolve_agent_name(HostedAgentSpec.model_validate(spec()), "chat.v2")


def test_latest_tag_is_allowed_but_warned() -> None:
    assert HostedAgentSpec.model_validate(spec(image="a.io/b:latest")).warnings()
    assert not HostedAgentSpec.model_validate(spec()).warnings()


def test_suspend_and_endpoint_configmap_are_off_by_default_and_round_trip() -> None:
    assert HostedAgentSpec.model_validate(spec()).suspend is None
    assert HostedAgentSpec.model_validate(spec()).endpoint_config_map is None
    raw = spec(suspend=True, endpointConfigMap={"name": "chat-endpoint.v1"})
    dumped = HostedAgentSpec.model_validate(raw).model_dump(by_alias=True, exclude_none=True)
    assert dumped["suspend"] is True
    assert dumped["endpointConfigMap"] == {"name": "chat-endpoint.v1"}


@pytest.mark.parametrize("name", ["Chat", "chat_endpoint", "-chat", "chat-", "a" * 254, ""])
def test_endpoint_configmap_name_must_be_a_dns_subdomain(name: str) -> None:
    with pytest.raises(ValidationError) as err:
        HostedAgentSpec.model_validate(spec(endpointConfigMap={"name": name}))
    if name and len(name) <= 253:
        assert "spec.endpointConfigMap.name must be a valid ConfigMap name" in str(err.value)
