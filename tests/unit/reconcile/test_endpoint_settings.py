"""What the operator PATCHes onto the agent endpoint, and when Foundry already has it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.ai.projects._utils.model_base import SdkJSONEncoder
from azure.ai.projects.models import (
    ActivityProtocolConfiguration,
    AgentEndpointConfig,
    BotServiceAuthorizationScheme,
    EntraAuthorizationScheme,
    FixedRatioVersionSelectionRule,
    ProtocolConfiguration,
    ResponsesProtocolConfiguration,
    VersionSelector,
)

from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.reconcile.endpoint import (
    PROTOCOL_CONFIGURATION_KEYS,
    agent_endpoint_body,
    as_applied,
    desired_endpoint,
    endpoint_in_step,
)
from foundry_operator.reconcile.observed import AgentInfo

pytestmark = pytest.mark.unit

IMAGE = "acr.azurecr.io/agents/chat:1"
ALL_PROTOCOLS = [
    {"protocol": p, "version": "1.0.0"}
    for p in (
        "activity",
        "responses",
        "a2a",
        "mcp",
        "invocations",
        "voice",
        "invocations_ws",
        "voice_conversation_engine",
    )
]


def make_spec(**fields: Any) -> HostedAgentSpec:
    return HostedAgentSpec.model_validate({"image": IMAGE, **fields})


def sdk_json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=SdkJSONEncoder, exclude_readonly=True))


def test_protocol_configuration_keys_are_the_sdk_models() -> None:
    ProtocolConfiguration()  # the SDK fills its field table on first use
    sdk = {f._rest_name for f in ProtocolConfiguration._attr_to_rest_field.values()}
    assert sdk == PROTOCOL_CONFIGURATION_KEYS


def test_voice_protocols_are_served_but_never_sent_as_protocol_configuration() -> None:
    settings = desired_endpoint(make_spec(protocols=ALL_PROTOCOLS))
    assert set(settings.protocol_configuration) == PROTOCOL_CONFIGURATION_KEYS
    body = agent_endpoint_body(settings, {"1": 100})
    assert "voice" not in body["protocol_configuration"]
    assert "voice_conversation_engine" not in body["protocol_configuration"]


def test_routing_patch_carries_the_settings_as_the_sdk_serialises_them() -> None:
    spec = make_spec(
        protocols=[
            {"protocol": "responses", "version": "1.0.0"},
            {"protocol": "activity", "version": "1.0.0"},
        ],
        endpoint={
            "authorizationSchemes": [{"type": "Entra"}, {"type": "BotService"}],
            "activity": {"enableM365PublicEndpoint": True},
        },
    )
    ours = agent_endpoint_body(desired_endpoint(spec), {"1": 90, "2": 10, "3": 0})
    sdk = AgentEndpointConfig(
        version_selector=VersionSelector(
            version_selection_rules=[
                FixedRatioVersionSelectionRule(agent_version="1", traffic_percentage=90),
                FixedRatioVersionSelectionRule(agent_version="2", traffic_percentage=10),
            ]
        ),
        protocol_configuration=ProtocolConfiguration(
            activity=ActivityProtocolConfiguration(enable_m365_public_endpoint=True),
            responses=ResponsesProtocolConfiguration(),
        ),
        authorization_schemes=[EntraAuthorizationScheme(), BotServiceAuthorizationScheme()],
    )
    assert ours == sdk_json(sdk)
    assert sdk_json(AgentEndpointConfig(ours)) == ours


def test_settings_patch_leaves_the_routing_out() -> None:
    body = agent_endpoint_body(desired_endpoint(make_spec()), None)
    assert body == {"protocol_configuration": {"responses": {}}}


def test_unset_settings_are_neither_sent_nor_compared() -> None:
    settings = desired_endpoint(make_spec())
    assert "authorization_schemes" not in agent_endpoint_body(settings, {"1": 100})
    foundry = AgentInfo(
        "chat",
        routing={"1": 100},
        authorization_schemes=("BotServiceTenant",),
        protocol_options={"responses": {"something": "foundry-set"}},
    )
    assert endpoint_in_step(settings, foundry)
    # A Foundry that echoes no endpoint at all is in step too: nothing is asked of it.
    assert endpoint_in_step(settings, AgentInfo("chat", routing={"1": 100}))


def test_stated_settings_are_compared_with_foundrys() -> None:
    spec = make_spec(
        protocols=[{"protocol": "activity", "version": "1.0.0"}],
        endpoint={
            "authorizationSchemes": [{"type": "BotService"}, {"type": "Entra"}],
            "activity": {"enableM365PublicEndpoint": False},
        },
    )
    settings = desired_endpoint(spec)
    held = AgentInfo(
        "chat",
        authorization_schemes=("Entra", "BotService"),  # order is not a difference
        protocol_options={"activity": {"enable_m365_public_endpoint": False}},
    )
    assert endpoint_in_step(settings, held)
    assert not endpoint_in_step(settings, AgentInfo("chat", protocol_options=held.protocol_options))
    assert not endpoint_in_step(
        settings,
        AgentInfo("chat", authorization_schemes=("Entra",), protocol_options=held.protocol_options),
    )
    assert not endpoint_in_step(
        settings, AgentInfo("chat", authorization_schemes=held.authorization_schemes)
    )
    assert endpoint_in_step(settings, as_applied(AgentInfo("chat", routing={"1": 100}), settings))
