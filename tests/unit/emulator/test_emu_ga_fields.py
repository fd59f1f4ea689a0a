"""The GA definition fields (telemetry, RAI, memory snapshot) and endpoint options are
validated as the SDK's models describe them; the opt-in strict rule refuses any field those
models do not have, naming it."""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.projects import models as sdk

from foundry_devtools.emulator import schema
from foundry_devtools.emulator.config import EmulatorConfig, LimitSettings
from foundry_devtools.emulator.errors import ApiError
from foundry_devtools.emulator.failures import FailureRules
from foundry_devtools.emulator.state import ProjectState
from foundry_devtools.emulator.validation import (
    CreateVersionRequest,
    validate_agent_endpoint,
    validate_create_body,
)

pytestmark = pytest.mark.unit

LIMITS = LimitSettings()
OTLP = {
    "kind": "OTLP",
    "endpoint": "https://otel.example.com:4318",
    "protocol": "Grpc",
    "data": ["ContainerOtel"],
    "auth": {"type": "header", "header_name": "x-api-key", "secret_id": "c", "secret_key": "k"},
}
MODERATION = {
    "response_mode": "both",
    "input_paths": ["$.input"],
    "output_paths": ["$.output"],
    "stream_selectors": [{"event_type": "delta", "text_field": "text"}],
}


def hosted(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "hosted",
        "cpu": "1",
        "memory": "2Gi",
        "container_configuration": {"image": "acr.azurecr.io/agents/echo:1"},
        "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
        **extra,
    }


def refused(definition: dict[str, Any], *, strict: bool = False) -> ApiError:
    with pytest.raises(ApiError) as caught:
        validate_create_body({"definition": definition}, LIMITS, strict=strict)
    assert caught.value.status == 400
    return caught.value


def test_ga_fields_are_accepted_and_echoed_even_by_the_strict_rule() -> None:
    definition = hosted(
        telemetry_config={"endpoints": [OTLP, {**OTLP, "data": [], "auth": None}]},
        rai_config={"rai_policy_name": "Microsoft.DefaultV2", "invocations_moderation": MODERATION},
        enable_memory_snapshot=True,
        session_configuration={"idle_timeout_seconds": 900},
    )
    for strict in (False, True):
        request = validate_create_body({"definition": definition}, LIMITS, strict=strict)
        assert request.definition == definition


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"telemetry_config": {}}, "definition.telemetry_config.endpoints"),
        (
            {"telemetry_config": {"endpoints": [{**OTLP, "kind": "Zipkin"}]}},
            "definition.telemetry_config.endpoints[0].kind",
        ),
        (
            {"telemetry_config": {"endpoints": [{**OTLP, "endpoint": "otel:4317"}]}},
            "definition.telemetry_config.endpoints[0].endpoint",
        ),
        (
            {"telemetry_config": {"endpoints": [{**OTLP, "protocol": "grpc"}]}},
            "definition.telemetry_config.endpoints[0].protocol",
        ),
        (
            {"telemetry_config": {"endpoints": [{**OTLP, "data": ["Traces"]}]}},
            "definition.telemetry_config.endpoints[0].data[0]",
        ),
        (
            {"telemetry_config": {"endpoints": [{k: v for k, v in OTLP.items() if k != "data"}]}},
            "definition.telemetry_config.endpoints[0].data",
        ),
        (
            {"telemetry_config": {"endpoints": [{**OTLP, "auth": {"type": "header"}}]}},
            "definition.telemetry_config.endpoints[0].auth.header_name",
        ),
        ({"rai_config": {}}, "definition.rai_config.rai_policy_name"),
        (
            {"rai_config": {"rai_policy_name": "p", "invocations_moderation": {}}},
            "definition.rai_config.invocations_moderation.response_mode",
        ),
        (
            {
                "rai_config": {
                    "rai_policy_name": "p",
                    "invocations_moderation": {"response_mode": "streaming", "input_paths": ["$"]},
                }
            },
            "definition.rai_config.invocations_moderation.stream_selectors",
        ),
        (
            {
                "rai_config": {
                    "rai_policy_name": "p",
                    "invocations_moderation": {"response_mode": "non_streaming"},
                }
            },
            "definition.rai_config.invocations_moderation.input_paths",
        ),
        ({"enable_memory_snapshot": "yes"}, "definition.enable_memory_snapshot"),
    ],
)
def test_invalid_ga_fields_are_refused_naming_the_field(extra: dict[str, Any], param: str) -> None:
    assert refused(hosted(**extra)).param == param


def test_text_bodies_need_no_paths() -> None:
    moderation = {
        "response_mode": "both",
        "input_content_type": "text",
        "output_content_type": "text",
    }
    validate_create_body(
        {
            "definition": hosted(
                rai_config={"rai_policy_name": "p", "invocations_moderation": moderation}
            )
        },
        LIMITS,
    )


def test_unknown_definition_fields_are_echoed_unless_the_strict_rule_is_on() -> None:
    definition = hosted(tools=[{"type": "code_interpreter"}])
    assert validate_create_body({"definition": definition}, LIMITS).definition == definition
    error = refused(definition, strict=True)
    assert (error.code, error.param) == ("unknown_field", "definition.tools")
    assert "definition.tools" in error.message


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        (
            {"telemetry_config": {"endpoints": [OTLP, {**OTLP, "headers": {"a": "b"}}]}},
            "definition.telemetry_config.endpoints[1].headers",
        ),
        (
            {"container_configuration": {"image": "acr.azurecr.io/a:1", "pull_policy": "x"}},
            "definition.container_configuration.pull_policy",
        ),
        ({"image": "acr.azurecr.io/a:1"}, "definition.image"),
        ({"container_protocol_versions": []}, "definition.container_protocol_versions"),
    ],
)
def test_the_strict_rule_names_nested_unknown_fields(extra: dict[str, Any], param: str) -> None:
    assert refused(hosted(**extra), strict=True).param == param


def test_activity_options_are_checked_on_the_endpoint() -> None:
    validate_agent_endpoint(
        {"protocol_configuration": {"activity": {"enable_m365_public_endpoint": True}}}
    )
    with pytest.raises(ApiError) as caught:
        validate_agent_endpoint(
            {"protocol_configuration": {"activity": {"enable_m365_public_endpoint": "on"}}}
        )
    assert caught.value.param == (
        "agent_endpoint.protocol_configuration.activity.enable_m365_public_endpoint"
    )


def strict_state() -> ProjectState:
    config = EmulatorConfig.model_validate({"validation": {"reject_unknown_fields": True}})
    state = ProjectState("local", config, FailureRules([]), clock=lambda: 1_800_000_000.0)
    state.create_version("a", CreateVersionRequest(hosted(), {}, "", False, None))
    return state


@pytest.mark.parametrize(
    ("endpoint", "param"),
    [
        (
            {"protocol_configuration": {"voice": {}}},
            "agent_endpoint.protocol_configuration.voice",
        ),
        (
            {"protocol_configuration": {"activity": {"public": True}}},
            "agent_endpoint.protocol_configuration.activity.public",
        ),
        ({"protocols": [{"protocol": "responses"}]}, "agent_endpoint.protocols"),
        (
            {"authorization_schemes": [{"type": "Entra", "tenant": "t"}]},
            "agent_endpoint.authorization_schemes[0].tenant",
        ),
    ],
)
def test_the_strict_rule_covers_endpoint_patches(endpoint: dict[str, Any], param: str) -> None:
    state = strict_state()
    with pytest.raises(ApiError) as caught:
        state.update_details("a", {"agent_endpoint": endpoint})
    assert (caught.value.status, caught.value.param) == (400, param)
    # What the SDK's models have passes.
    state.update_details(
        "a",
        {
            "agent_endpoint": {
                "protocol_configuration": {
                    "activity": {"enable_m365_public_endpoint": True},
                    "responses": {},
                },
                "authorization_schemes": [{"type": "Entra"}, {"type": "BotService"}],
            }
        },
    )


def _writable(model: type[Any]) -> set[str]:
    model()  # the SDK fills its field table on first use
    return {
        f._rest_name
        for f in model._attr_to_rest_field.values()
        if set(f._visibility or ()) != {"read"}
    }


@pytest.mark.parametrize(
    ("table", "model"),
    [
        (schema.HOSTED_DEFINITION, sdk.HostedAgentDefinition),
        (schema.HOSTED_DEFINITION["container_configuration"], sdk.ContainerConfiguration),
        (schema.HOSTED_DEFINITION["code_configuration"], sdk.CodeConfiguration),
        (schema.HOSTED_DEFINITION["protocol_versions"], sdk.ProtocolVersionRecord),
        (schema.HOSTED_DEFINITION["session_configuration"], sdk.SessionConfiguration),
        (schema.HOSTED_DEFINITION["telemetry_config"], sdk.TelemetryConfig),
        (schema.TELEMETRY_ENDPOINT, sdk.OtlpTelemetryEndpoint),
        (schema.TELEMETRY_AUTH, sdk.HeaderTelemetryEndpointAuth),
        (schema.HOSTED_DEFINITION["rai_config"], sdk.RaiConfig),
        (schema.INVOCATIONS_MODERATION, sdk.RaiInvocationModeration),
        (schema.INVOCATIONS_MODERATION["stream_selectors"], sdk.RaiSseTextSelector),
        (schema.AGENT_ENDPOINT, sdk.AgentEndpointConfig),
        (schema.AGENT_ENDPOINT["version_selector"], sdk.VersionSelector),
        (
            schema.AGENT_ENDPOINT["version_selector"]["version_selection_rules"],  # type: ignore[index]
            sdk.FixedRatioVersionSelectionRule,
        ),
        (schema.PROTOCOL_CONFIGURATION, sdk.ProtocolConfiguration),
        (schema.PROTOCOL_CONFIGURATION["activity"], sdk.ActivityProtocolConfiguration),
        (schema.PROTOCOL_CONFIGURATION["responses"], sdk.ResponsesProtocolConfiguration),
        (schema.AGENT_ENDPOINT["authorization_schemes"], sdk.EntraAuthorizationScheme),
    ],
)
def test_the_strict_tables_are_the_sdk_models_writable_fields(
    table: schema.Shape | None, model: type[Any]
) -> None:
    assert table is not None
    assert set(table) == _writable(model)
