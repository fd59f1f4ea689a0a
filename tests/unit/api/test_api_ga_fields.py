"""telemetryConfig, raiConfig, enableMemorySnapshot and endpoint: the names and values the
SDK's models have, and the refusals the SDK's docstrings describe (Python side; the CRD's
are exercised against a real apiserver in tests/integration/test_crd_validation.py)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
from azure.ai.projects.models import (
    AgentEndpointAuthorizationSchemeType,
    RaiInvocationContentType,
    RaiInvocationMode,
    TelemetryDataKind,
    TelemetryEndpointAuthType,
    TelemetryEndpointKind,
    TelemetryTransportProtocol,
)
from pydantic import ValidationError

from foundry_operator.api.crdgen import hostedagent_crd
from foundry_operator.api.endpoint import AuthorizationSchemeType
from foundry_operator.api.rai import RaiContentType, RaiResponseMode
from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.api.telemetry import (
    TelemetryAuthType,
    TelemetryData,
    TelemetryTransport,
)
from foundry_operator.api.telemetry import (
    TelemetryEndpointKind as OurEndpointKind,
)

pytestmark = pytest.mark.unit

IMAGE = "myregistry.azurecr.io/agents/chat:1.4"
OTLP = {"endpoint": "https://otel.example.com:4318", "protocol": "Http", "data": ["Metrics"]}
BOTH = "both"
AUTH = {"headerName": "Authorization", "secretId": "c", "secretKey": "k"}


def spec(**fields: Any) -> dict[str, Any]:
    return {"image": IMAGE, **fields}


def refusal(**fields: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        HostedAgentSpec.model_validate(spec(**fields))
    return str(raised.value)


@pytest.mark.parametrize(
    ("ours", "sdk"),
    [
        (TelemetryData, TelemetryDataKind),
        (TelemetryTransport, TelemetryTransportProtocol),
        (OurEndpointKind, TelemetryEndpointKind),
        (TelemetryAuthType, TelemetryEndpointAuthType),
        (RaiContentType, RaiInvocationContentType),
        (RaiResponseMode, RaiInvocationMode),
        (AuthorizationSchemeType, AgentEndpointAuthorizationSchemeType),
    ],
)
def test_enums_hold_exactly_the_sdk_values(ours: type[Enum], sdk: type[Enum]) -> None:
    assert [m.value for m in ours] == [m.value for m in sdk]


def test_a_full_ga_spec_parses_with_defaults_filled_in() -> None:
    s = HostedAgentSpec.model_validate(
        spec(
            protocols=[{"protocol": "activity", "version": "1.0.0"}],
            telemetryConfig={"endpoints": [{**OTLP, "auth": AUTH}]},
            raiConfig={"raiPolicyName": "Microsoft.DefaultV2"},
            enableMemorySnapshot=True,
            endpoint={
                "authorizationSchemes": [{"type": "BotService"}],
                "activity": {"enableM365PublicEndpoint": True},
            },
        )
    )
    assert s.telemetry_config is not None
    endpoint = s.telemetry_config.endpoints[0]
    assert endpoint.kind is OurEndpointKind.OTLP
    assert endpoint.auth is not None and endpoint.auth.type is TelemetryAuthType.HEADER
    assert s.rai_config is not None and s.rai_config.invocations_moderation is None
    assert s.enable_memory_snapshot is True
    assert s.endpoint is not None and s.endpoint.activity is not None


def test_crd_defaults_kind_and_auth_type_as_the_sdk_does() -> None:
    props = hostedagent_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    endpoint = props["spec"]["properties"]["telemetryConfig"]["properties"]["endpoints"]["items"]
    assert endpoint["properties"]["kind"]["default"] == "OTLP"
    assert endpoint["properties"]["auth"]["properties"]["type"]["default"] == "header"
    assert endpoint["required"] == ["endpoint", "protocol", "data"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"telemetryConfig": {"endpoints": [{**OTLP, "endpoint": "otel.example.com:4318"}]}},
            "must be an http or https URL",
        ),
        (
            {"telemetryConfig": {"endpoints": [{**OTLP, "protocol": "Udp"}]}},
            "'Http' or 'Grpc'",
        ),
        (
            {"telemetryConfig": {"endpoints": [{**OTLP, "data": ["Metrics", "Metrics"]}]}},
            "must list each kind once",
        ),
        ({"telemetryConfig": {"endpoints": []}}, "at least 1 item"),
        (
            {"telemetryConfig": {"endpoints": [{**OTLP, "auth": {**AUTH, "headerName": "x api"}}]}},
            "headerName must consist of letters",
        ),
        ({"raiConfig": {}}, "raiPolicyName"),
        (
            {"raiConfig": {"raiPolicyName": "p", "invocationsModeration": {"responseMode": "ok"}}},
            "'non_streaming', 'streaming' or 'both'",
        ),
        (
            {"raiConfig": {"raiPolicyName": "p", "invocationsModeration": {"responseMode": BOTH}}},
            "inputPaths is required when inputContentType is json",
        ),
        (
            {
                "raiConfig": {
                    "raiPolicyName": "p",
                    "invocationsModeration": {
                        "responseMode": "non_streaming",
                        "inputContentType": "text",
                    },
                }
            },
            "outputPaths is required when responseMode is non_streaming or both",
        ),
        (
            {
                "raiConfig": {
                    "raiPolicyName": "p",
                    "invocationsModeration": {"responseMode": "streaming", "inputPaths": ["$.a"]},
                }
            },
            "streamSelectors is required when responseMode is streaming or both",
        ),
        (
            {"endpoint": {"authorizationSchemes": [{"type": "Entra"}, {"type": "Entra"}]}},
            "must list each type once",
        ),
        ({"endpoint": {"authorizationSchemes": [{"type": "ApiKey"}]}}, "'Entra'"),
        (
            {"endpoint": {"activity": {"enableM365PublicEndpoint": True}}},
            "spec.endpoint.activity needs the activity protocol in spec.protocols",
        ),
    ],
)
def test_invalid_values_are_refused_naming_the_field(fields: dict[str, Any], words: str) -> None:
    assert words in refusal(**fields)


@pytest.mark.parametrize(
    "moderation",
    [
        {"responseMode": "streaming", "inputContentType": "text", "outputContentType": "text"},
        {
            "responseMode": "streaming",
            "inputPaths": ["$.input"],
            "streamSelectors": [{"eventType": "delta"}],
        },
        {"responseMode": "non_streaming", "inputPaths": ["$.a"], "outputPaths": ["$.b"]},
    ],
)
def test_moderation_needs_only_what_its_modes_read(moderation: dict[str, Any]) -> None:
    parsed = HostedAgentSpec.model_validate(
        spec(raiConfig={"raiPolicyName": "p", "invocationsModeration": moderation})
    )
    assert parsed.rai_config is not None
