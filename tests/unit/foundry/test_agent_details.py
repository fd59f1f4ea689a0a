"""What the Foundry adapter reads from AgentDetails, how it describes the agent endpoint,
and the enable/disable calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from azure.ai.projects.aio import AIProjectClient
from azure.core.credentials import AccessToken

from foundry_operator import metrics
from foundry_operator.foundry.client import FoundryClient, _agent_info
from foundry_operator.reconcile.observed import Identity

pytestmark = pytest.mark.unit

ENDPOINT = "https://acct.services.ai.azure.com/api/projects/p"


class Credential:
    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        return AccessToken("t", 2**31)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Credential:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


@pytest.fixture
def client() -> Iterator[FoundryClient]:
    made = FoundryClient(ENDPOINT, Credential())  # type: ignore[arg-type]
    yield made
    asyncio.run(made.close())


def test_details_with_identity_state_and_protocols() -> None:
    info = _agent_info(
        "chat",
        {
            "name": "chat",
            "state": "disabled",
            "configuration_state": "enabled",
            "state_source": "agent_instance_identity",
            "instance_identity": {"principal_id": "p-1", "client_id": "c-1", "status": "active"},
            "agent_endpoint": {
                "version_selector": {
                    "version_selection_rules": [
                        {"agent_version": "2", "traffic_percentage": 100, "type": "FixedRatio"}
                    ]
                },
                "protocol_configuration": {"responses": {}, "a2a": {}},
            },
        },
    )
    assert info.routing == {"2": 100}
    assert not info.enabled and info.configured_enabled
    assert info.state_source == "agent_instance_identity"
    assert info.identity == Identity(principal_id="p-1", client_id="c-1")
    assert info.protocols == ("a2a", "responses")


def test_details_carry_the_endpoint_settings_foundry_holds() -> None:
    info = _agent_info(
        "chat",
        {
            "agent_endpoint": {
                "protocol_configuration": {
                    "activity": {"enable_m365_public_endpoint": True, "access_boundaries": []},
                    "responses": {},
                },
                "authorization_schemes": [{"type": "Entra"}, {"type": "BotService"}, {}],
            }
        },
    )
    assert info.authorization_schemes == ("Entra", "BotService")
    assert info.protocol_options["activity"]["enable_m365_public_endpoint"] is True
    assert info.protocols == ("activity", "responses")
    assert _agent_info("chat", {"agent_endpoint": {}}).authorization_schemes is None


def test_details_without_the_optional_parts_read_as_enabled_and_anonymous() -> None:
    info = _agent_info("chat", {"name": "chat"})
    assert info.enabled and info.configured_enabled
    assert info.state_source is None and info.identity is None and info.protocols == ()
    only_state = _agent_info("chat", {"state": "disabled", "instance_identity": None})
    assert not only_state.enabled and not only_state.configured_enabled
    assert only_state.identity is None


def test_endpoint_facts_are_what_get_openai_client_configures(client: FoundryClient) -> None:
    facts = client.endpoint_facts("chat")

    async def sdk_view() -> tuple[str, dict[str, Any], dict[str, str]]:
        async with AIProjectClient(endpoint=ENDPOINT, credential=Credential()) as project:  # type: ignore[arg-type]
            openai = project.get_openai_client(agent_name="chat")
            try:
                query = dict(openai._custom_query)
                return str(openai.base_url), query, dict(openai._custom_headers)
            finally:
                await openai.close()

    base_url, query, headers = asyncio.run(sdk_view())
    assert facts.base_url == base_url.rstrip("/")
    assert facts.base_url == f"{ENDPOINT}/agents/chat/endpoint/protocols/openai"
    assert {"api-version": facts.api_version} == query
    assert facts.api_version == "v1"
    assert facts.token_scope == "https://ai.azure.com/.default"
    assert dict(facts.headers) == {
        k: v for k, v in headers.items() if k.lower() == "foundry-features"
    }
    assert dict(facts.headers)["Foundry-Features"]


class Agents:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def enable(self, agent_name: str) -> None:
        self.calls.append(("enable", agent_name))

    async def disable(self, agent_name: str) -> None:
        self.calls.append(("disable", agent_name))


def test_enable_and_disable_are_counted_like_every_call(
    client: FoundryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents = Agents()
    monkeypatch.setattr(client._client, "agents", agents)

    def count(operation: str) -> float:
        return metrics.FOUNDRY_REQUESTS.labels(operation, "ok")._value.get()  # type: ignore[attr-defined, no-any-return]

    before = count("enable"), count("disable")
    asyncio.run(client.disable("chat"))
    asyncio.run(client.enable("chat"))
    assert agents.calls == [("disable", "chat"), ("enable", "chat")]
    assert (count("enable"), count("disable")) == (before[0] + 1, before[1] + 1)
