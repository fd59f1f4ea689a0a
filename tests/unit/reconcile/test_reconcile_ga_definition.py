"""telemetryConfig, raiConfig and enableMemorySnapshot reach the definition in the SDK's wire
format and are part of the version; spec.endpoint is not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.ai.projects._utils.model_base import SdkJSONEncoder
from azure.ai.projects.models import (
    ContainerConfiguration,
    HeaderTelemetryEndpointAuth,
    HostedAgentDefinition,
    OtlpTelemetryEndpoint,
    ProtocolVersionRecord,
    RaiConfig,
    RaiInvocationModeration,
    RaiSseTextSelector,
    TelemetryConfig,
)

from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.reconcile.desired import build_definition, desired_version

pytestmark = pytest.mark.unit

IMAGE = "acr.azurecr.io/agents/chat:1"

TELEMETRY = {
    "endpoints": [
        {
            "endpoint": "https://otel.example.com:4318",
            "protocol": "Http",
            "data": ["ContainerStdoutStderr", "Metrics"],
            "auth": {"headerName": "x-api-key", "secretId": "otel-conn", "secretKey": "key"},
        },
        {"endpoint": "http://collector.monitoring:4317", "protocol": "Grpc", "data": []},
    ]
}
RAI = {
    "raiPolicyName": "Microsoft.DefaultV2",
    "invocationsModeration": {
        "responseMode": "both",
        "inputContentType": "json",
        "inputPaths": ["$.input"],
        "outputPaths": ["$.output.text"],
        "streamSelectors": [
            {"eventType": "message.delta", "textField": "text"},
            {"eventType": "message.done"},
        ],
    },
}


def make_spec(**fields: Any) -> HostedAgentSpec:
    return HostedAgentSpec.model_validate({"image": IMAGE, **fields})


def sdk_json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=SdkJSONEncoder, exclude_readonly=True))


def test_ga_fields_are_serialised_exactly_as_the_sdk_models_are() -> None:
    ours = build_definition(
        make_spec(telemetryConfig=TELEMETRY, raiConfig=RAI, enableMemorySnapshot=True)
    )
    sdk = HostedAgentDefinition(
        cpu="1",
        memory="2Gi",
        container_configuration=ContainerConfiguration(image=IMAGE),
        protocol_versions=[ProtocolVersionRecord(protocol="responses", version="1.0.0")],
        telemetry_config=TelemetryConfig(
            endpoints=[
                OtlpTelemetryEndpoint(
                    endpoint="https://otel.example.com:4318",
                    protocol="Http",
                    data=["ContainerStdoutStderr", "Metrics"],
                    auth=HeaderTelemetryEndpointAuth(
                        header_name="x-api-key", secret_id="otel-conn", secret_key="key"
                    ),
                ),
                OtlpTelemetryEndpoint(
                    endpoint="http://collector.monitoring:4317", protocol="Grpc", data=[]
                ),
            ]
        ),
        rai_config=RaiConfig(
            rai_policy_name="Microsoft.DefaultV2",
            invocations_moderation=RaiInvocationModeration(
                response_mode="both",
                input_content_type="json",
                input_paths=["$.input"],
                output_paths=["$.output.text"],
                stream_selectors=[
                    RaiSseTextSelector(event_type="message.delta", text_field="text"),
                    RaiSseTextSelector(event_type="message.done"),
                ],
            ),
        ),
        enable_memory_snapshot=True,
    )
    assert ours == sdk_json(sdk)
    # And the SDK reads our dict back into the same typed model.
    parsed = HostedAgentDefinition(ours)
    assert parsed.telemetry_config is not None
    assert parsed.telemetry_config.endpoints[0].auth["secret_id"] == "otel-conn"
    assert parsed.rai_config is not None and parsed.rai_config.rai_policy_name == (
        "Microsoft.DefaultV2"
    )


def test_every_definition_key_is_one_the_sdk_model_has() -> None:
    spec = make_spec(
        telemetryConfig=TELEMETRY,
        raiConfig=RAI,
        enableMemorySnapshot=False,
        idleTimeoutSeconds=300,
        env=[{"name": "A", "value": "1"}],
        registryConnection="conn",
    )
    HostedAgentDefinition()  # the SDK fills its field table on first use
    known = {f._rest_name for f in HostedAgentDefinition._attr_to_rest_field.values()}
    assert set(build_definition(spec)) <= known


def test_a_false_snapshot_flag_is_sent_as_written() -> None:
    definition = build_definition(make_spec(enableMemorySnapshot=False))
    assert definition["enable_memory_snapshot"] is False
    assert "enable_memory_snapshot" not in build_definition(make_spec())


def test_telemetry_auth_sends_references_never_a_value() -> None:
    auth = build_definition(make_spec(telemetryConfig=TELEMETRY))["telemetry_config"]["endpoints"][
        0
    ]["auth"]
    assert auth == {
        "type": "header",
        "header_name": "x-api-key",
        "secret_id": "otel-conn",
        "secret_key": "key",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"telemetryConfig": TELEMETRY},
        {"raiConfig": {"raiPolicyName": "strict"}},
        {"enableMemorySnapshot": True},
        {"enableMemorySnapshot": False},
    ],
)
def test_definition_fields_make_a_new_version(change: dict[str, Any]) -> None:
    assert desired_version(make_spec()).spec_hash != desired_version(make_spec(**change)).spec_hash


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": {"authorizationSchemes": [{"type": "Entra"}, {"type": "BotService"}]}},
        {
            "protocols": [{"protocol": "activity", "version": "1.0.0"}],
            "endpoint": {"activity": {"enableM365PublicEndpoint": True}},
        },
    ],
)
def test_endpoint_settings_are_not_part_of_the_version(change: dict[str, Any]) -> None:
    base = {k: v for k, v in change.items() if k != "endpoint"}
    assert (
        desired_version(make_spec(**base)).spec_hash
        == desired_version(make_spec(**change)).spec_hash
    )


def test_specs_without_the_new_fields_keep_the_hash_they_always_had() -> None:
    # Computed by the operator before these fields existed: an upgrade must not make a new
    # version of every agent.
    spec = make_spec(
        env=[{"name": "MODE", "value": "fast"}],
        idleTimeoutSeconds=900,
        description="d",
        metadata={"team": "a"},
    )
    assert desired_version(spec).spec_hash == "623587597ef9f0a2e3a2"
