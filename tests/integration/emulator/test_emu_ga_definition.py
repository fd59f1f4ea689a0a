"""The GA definition fields through the real SDK: accepted, recorded as sent, refused with
the field named; and the strict rule for fields the SDK's models do not have."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    EntraAuthorizationScheme,
    HeaderTelemetryEndpointAuth,
    OtlpTelemetryEndpoint,
    ProtocolConfiguration,
    RaiConfig,
    TelemetryConfig,
)
from azure.core.exceptions import HttpResponseError
from emu_helpers import hosted_definition

from foundry_devtools.emulator.admin import AdminClient

TELEMETRY = TelemetryConfig(
    endpoints=[
        OtlpTelemetryEndpoint(
            endpoint="https://otel.example.com:4318",
            protocol="Http",
            data=["ContainerStdoutStderr"],
            auth=HeaderTelemetryEndpointAuth(
                header_name="x-api-key", secret_id="otel-conn", secret_key="key"
            ),
        )
    ]
)


def error_of(exc: HttpResponseError) -> dict[str, Any]:
    """The service's error object, as the response carried it."""
    assert exc.response is not None
    return dict(exc.response.json()["error"])


@pytest.fixture
def strict(admin: AdminClient) -> Iterator[AdminClient]:
    admin.reject_unknown_fields()
    try:
        yield admin
    finally:
        admin.reject_unknown_fields(False)


def test_ga_fields_are_stored_and_the_request_is_recorded_as_sent(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    definition = hosted_definition(
        telemetry_config=TELEMETRY,
        rai_config=RaiConfig(rai_policy_name="Microsoft.DefaultV2"),
        enable_memory_snapshot=True,
    )
    created = project.agents.create_version(agent_name, definition=definition)
    assert created.definition["telemetry_config"]["endpoints"][0]["protocol"] == "Http"
    assert created.definition["enable_memory_snapshot"] is True

    recorded = admin.requests(operation="create_version", agent=agent_name)
    assert len(recorded) == 1 and recorded[0]["status"] == 200
    sent = recorded[0]["body"]["definition"]
    assert sent["rai_config"] == {"rai_policy_name": "Microsoft.DefaultV2"}
    assert sent["telemetry_config"]["endpoints"][0]["auth"] == {
        "type": "header",
        "header_name": "x-api-key",
        "secret_id": "otel-conn",
        "secret_key": "key",
    }
    # The echo adds container_protocol_versions; the recorded request does not have it.
    assert "container_protocol_versions" not in sent


def test_an_invalid_ga_field_is_refused_naming_it(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    bad = hosted_definition(
        telemetry_config=TelemetryConfig(
            endpoints=[
                OtlpTelemetryEndpoint(endpoint="otel:4317", protocol="Grpc", data=["Metrics"])
            ]
        )
    )
    with pytest.raises(HttpResponseError) as raised:
        project.agents.create_version(agent_name, definition=bad)
    assert raised.value.status_code == 400
    assert error_of(raised.value)["param"] == "definition.telemetry_config.endpoints[0].endpoint"
    assert admin.requests(agent=agent_name)[0]["status"] == 400


def test_the_strict_rule_refuses_fields_the_sdk_models_lack(
    project: AIProjectClient, strict: AdminClient, agent_name: str
) -> None:
    legacy = hosted_definition()
    legacy["tools"] = [{"type": "code_interpreter"}]  # removed from the model in 2.3.0
    with pytest.raises(HttpResponseError) as raised:
        project.agents.create_version(agent_name, definition=legacy)
    assert raised.value.status_code == 400
    error = error_of(raised.value)
    assert (error["code"], error["param"]) == ("unknown_field", "definition.tools")

    project.agents.create_version(agent_name, definition=hosted_definition())
    with pytest.raises(HttpResponseError) as raised:
        project.agents.update_details(
            agent_name,
            agent_endpoint=AgentEndpointConfig(
                protocol_configuration=ProtocolConfiguration({"responses": {}, "voice": {}})
            ),
        )
    assert error_of(raised.value)["param"] == "agent_endpoint.protocol_configuration.voice"
    agent = project.agents.update_details(
        agent_name,
        agent_endpoint=AgentEndpointConfig(
            protocol_configuration=ProtocolConfiguration({"responses": {}}),
            authorization_schemes=[EntraAuthorizationScheme()],
        ),
    )
    assert agent["agent_endpoint"]["authorization_schemes"] == [{"type": "Entra"}]
