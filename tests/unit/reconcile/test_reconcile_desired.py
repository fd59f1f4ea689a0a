"""The definition the operator sends is the SDK's wire format; the hash keeps secrets."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects._utils.model_base import SdkJSONEncoder
from azure.ai.projects.models import (
    ContainerConfiguration,
    HostedAgentDefinition,
    ProtocolVersionRecord,
    SessionConfiguration,
)
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.transport import HttpRequest, HttpTransport

from foundry_operator.api.reserved import METADATA_SPEC_HASH, METADATA_UID
from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.reconcile.desired import (
    MissingEnvValue,
    build_definition,
    create_version_body,
    desired_version,
    env_digest,
    redacted_definition,
    spec_hash,
)

pytestmark = pytest.mark.unit

IMAGE = "acr.azurecr.io/agents/chat:1"
SECRET = "sk-live-7f3a9c2e51d84b6f"


def make_spec(**fields: Any) -> HostedAgentSpec:
    return HostedAgentSpec.model_validate({"image": IMAGE, **fields})


def full_spec() -> HostedAgentSpec:
    return make_spec(
        cpu="500m",
        memory="1Gi",
        registryConnection="acr-conn",
        protocols=[
            {"protocol": "responses", "version": "1.0.0"},
            {"protocol": "invocations", "version": "2.0.0"},
        ],
        env=[
            {"name": "MODE", "value": "fast"},
            {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
        idleTimeoutSeconds=900,
        tools=[
            {"type": "code_interpreter"},
            {"type": "file_search", "vectorStoreIds": ["vs_1"], "maxNumResults": 4},
            {
                "type": "mcp",
                "serverLabel": "docs",
                "serverUrl": "https://mcp.example.com/sse",
                "requireApproval": "never",
                "allowedTools": ["search"],
                "projectConnectionId": "mcp-conn",
            },
        ],
        description="Chat agent",
        metadata={"team": "a"},
    )


def sdk_json(value: Any) -> Any:
    """What the SDK puts on the wire for ``value`` (its own encoder, as create_version uses)."""
    return json.loads(json.dumps(value, cls=SdkJSONEncoder, exclude_readonly=True))


def test_definition_matches_sdk_wire_names() -> None:
    ours = build_definition(full_spec(), {"API_KEY": SECRET})
    sdk = HostedAgentDefinition(
        cpu="0.5",
        memory="1Gi",
        container_configuration=ContainerConfiguration(
            image=IMAGE, registry_connection_id="acr-conn"
        ),
        protocol_versions=[
            ProtocolVersionRecord(protocol="invocations", version="2.0.0"),
            ProtocolVersionRecord(protocol="responses", version="1.0.0"),
        ],
        environment_variables={"MODE": "fast", "API_KEY": SECRET},
        session_configuration=SessionConfiguration(
            idle_timeout_seconds=datetime.timedelta(seconds=900)
        ),
    )
    # spec.tools never reach the definition: SDK 2.3 removed the field (GA agents get
    # tools from a toolbox over MCP), so the whole definition is exactly the SDK model's.
    assert ours == sdk_json(sdk)


def test_tools_are_never_sent_in_the_definition_but_the_pinned_toolbox_url_is() -> None:
    url = "https://acct/api/projects/p/toolboxes/t/versions/2/mcp?api-version=v1"
    definition = build_definition(
        full_spec(), {"API_KEY": SECRET}, injected_env={"MCP_SERVER_URL": url}
    )
    assert "tools" not in definition
    assert definition["environment_variables"]["MCP_SERVER_URL"] == url


def test_a_new_toolbox_version_is_a_new_agent_version() -> None:
    def pinned(version: str) -> str:
        url = f"https://a/api/projects/p/toolboxes/t/versions/{version}/mcp?api-version=v1"
        return desired_version(make_spec(), injected_env={"MCP_SERVER_URL": url}).spec_hash

    assert pinned("1") != pinned("2")
    assert pinned("1") == pinned("1")
    assert pinned("1") != desired_version(make_spec()).spec_hash


def test_an_injected_variable_may_not_clash_with_spec_env() -> None:
    spec = make_spec(env=[{"name": "MCP_SERVER_URL", "value": "x"}])
    with pytest.raises(ValueError, match="MCP_SERVER_URL"):
        build_definition(spec, injected_env={"MCP_SERVER_URL": "y"})


def test_minimal_definition_omits_optional_fields_like_the_sdk() -> None:
    ours = build_definition(make_spec())
    sdk = HostedAgentDefinition(
        cpu="1",
        memory="2Gi",
        container_configuration=ContainerConfiguration(image=IMAGE),
        protocol_versions=[ProtocolVersionRecord(protocol="responses", version="1.0.0")],
    )
    assert ours == sdk_json(sdk)
    # And the SDK reads our dict back into the same model.
    assert sdk_json(HostedAgentDefinition(ours)) == ours


class _Captured(Exception):
    def __init__(self, request: HttpRequest) -> None:
        self.request = request


class _CapturingTransport(HttpTransport[HttpRequest, Any]):
    """Stops the pipeline at the wire and hands back the request the SDK built."""

    def __enter__(self) -> _CapturingTransport:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        raise _Captured(request)


class _StaticCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("token", 4_102_444_800)

    def get_token_info(self, *scopes: str, **kwargs: Any) -> AccessTokenInfo:
        return AccessTokenInfo("token", 4_102_444_800)


def test_create_version_body_goes_through_the_real_client_unchanged() -> None:
    desired = desired_version(full_spec(), {"API_KEY": SECRET})
    body = create_version_body(desired, uid="uid-1", namespace="team-a", name="chat")
    client = AIProjectClient(
        endpoint="https://acct.services.ai.azure.com/api/projects/p",
        credential=_StaticCredential(),
        transport=_CapturingTransport(),
    )
    with pytest.raises(_Captured) as captured:
        client.agents.create_version("chat", body=body)
    request = captured.value.request
    assert request.method == "POST"
    assert request.url.split("?")[0].endswith("/agents/chat/versions")
    assert isinstance(request.body, (str, bytes))
    assert json.loads(request.body) == body


def test_create_version_body_carries_reserved_metadata_and_description() -> None:
    desired = desired_version(full_spec(), {"API_KEY": SECRET})
    body = create_version_body(desired, uid="uid-1", namespace="team-a", name="chat")
    assert body["metadata"]["team"] == "a"
    assert body["metadata"][METADATA_UID] == "uid-1"
    assert body["metadata"]["k8s-ref"] == "team-a/chat"
    assert body["metadata"][METADATA_SPEC_HASH] == desired.spec_hash
    assert body["description"] == "Chat agent"
    assert len(body["metadata"]) <= 16
    assert "description" not in create_version_body(
        desired_version(make_spec()), uid="u", namespace="n", name="x"
    )


def test_env_value_change_changes_hash_but_hash_does_not_contain_value() -> None:
    first = desired_version(full_spec(), {"API_KEY": SECRET})
    rotated = desired_version(full_spec(), {"API_KEY": SECRET + "-rotated"})
    assert first.spec_hash != rotated.spec_hash
    assert SECRET not in first.spec_hash
    redacted = json.dumps(redacted_definition(first.definition))
    assert SECRET not in redacted
    assert env_digest(SECRET) in redacted


def test_hash_is_stable_and_short() -> None:
    a = desired_version(full_spec(), {"API_KEY": SECRET}).spec_hash
    b = desired_version(full_spec(), {"API_KEY": SECRET}).spec_hash
    assert a == b and len(a) == 20 and int(a, 16) >= 0


def test_hash_ignores_protocol_order_and_cpu_spelling() -> None:
    p1 = [{"protocol": "responses", "version": "1.0.0"}, {"protocol": "a2a", "version": "1.0.0"}]
    assert (
        desired_version(make_spec(protocols=p1)).spec_hash
        == desired_version(make_spec(protocols=list(reversed(p1)))).spec_hash
    )
    assert (
        desired_version(make_spec(cpu="500m")).spec_hash
        == desired_version(make_spec(cpu="0.5")).spec_hash
    )


@pytest.mark.parametrize(
    "change",
    [
        {"image": "acr.azurecr.io/agents/chat:2"},
        {"cpu": "2"},
        {"memory": "4Gi"},
        {"description": "new words"},
        {"metadata": {"team": "b"}},
        {"idleTimeoutSeconds": 300},
        {"registryConnection": "other"},
    ],
)
def test_every_version_field_changes_the_hash(change: dict[str, Any]) -> None:
    assert desired_version(make_spec()).spec_hash != desired_version(make_spec(**change)).spec_hash


@pytest.mark.parametrize(
    "change", [{"deletionPolicy": "Retain"}, {"revisionHistoryLimit": 10}, {"agentName": "other"}]
)
def test_operator_only_fields_do_not_make_a_new_version(change: dict[str, Any]) -> None:
    assert desired_version(make_spec()).spec_hash == desired_version(make_spec(**change)).spec_hash


def test_empty_and_missing_description_hash_alike() -> None:
    definition = build_definition(make_spec())
    assert spec_hash(definition, description=None, metadata={}) == spec_hash(
        definition, description="", metadata={}
    )


def test_missing_required_secret_value_is_an_error_naming_the_variable() -> None:
    with pytest.raises(MissingEnvValue) as raised:
        build_definition(full_spec(), {})
    assert raised.value.name == "API_KEY"
    assert SECRET not in str(raised.value)


def test_optional_reference_without_value_leaves_variable_out() -> None:
    s = make_spec(
        env=[
            {
                "name": "OPT",
                "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k", "optional": True}},
            }
        ]
    )
    assert "environment_variables" not in build_definition(s, {})
    assert build_definition(s, {"OPT": "v"})["environment_variables"] == {"OPT": "v"}


def test_values_for_unknown_variables_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="without valueFrom"):
        build_definition(make_spec(env=[{"name": "A", "value": "1"}]), {"A": "2"})


def test_reserved_metadata_cannot_be_overridden_by_user_metadata() -> None:
    desired = desired_version(make_spec())
    forged = type(desired)(
        definition=desired.definition,
        description=None,
        metadata={"k8s-uid": "someone-else"},
        spec_hash=desired.spec_hash,
    )
    with pytest.raises(ValueError, match="reserved"):
        create_version_body(forged, uid="u", namespace="n", name="x")
