"""spec.endpoint on a serving agent: one settings PATCH without the routing, no version, and
nothing more once Foundry has them. Foundry is faked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from foundry_operator.api.reserved import reserved_metadata
from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.controller import Outcome, Reconciler, Resource
from foundry_operator.kube.env import Resolved
from foundry_operator.reconcile.desired import desired_version
from foundry_operator.reconcile.endpoint import EndpointSettings, as_applied
from foundry_operator.reconcile.observed import AgentInfo, EndpointFacts, VersionInfo
from foundry_operator.reconcile.report import status_patch

pytestmark = pytest.mark.unit

IMAGE = "myregistry.azurecr.io/agents/chat:1"
SCHEMES = {"authorizationSchemes": [{"type": "Entra"}, {"type": "BotService"}]}


class Foundry:
    """One agent, ours, serving version 1."""

    def __init__(self, spec: dict[str, Any]) -> None:
        spec_hash = desired_version(HostedAgentSpec.model_validate(spec)).spec_hash
        meta = reserved_metadata(uid="uid-1", namespace="ns", name="chat", spec_hash=spec_hash)
        self.version = VersionInfo("chat", "1", "active", meta, created_at=1)
        self.agent = AgentInfo("chat", routing={"1": 100}, latest=self.version)
        self.calls: list[tuple[str, Any]] = []

    async def get_agent(self, agent: str) -> AgentInfo:
        return self.agent

    async def list_versions(self, agent: str) -> list[VersionInfo]:
        return [self.version]

    async def configure_endpoint(self, agent: str, endpoint: EndpointSettings) -> AgentInfo:
        self.calls.append(("configure_endpoint", endpoint))
        self.agent = as_applied(self.agent, endpoint)
        return self.agent

    async def route(self, *args: Any) -> AgentInfo:
        raise AssertionError("no traffic may move")

    async def route_weights(self, *args: Any) -> AgentInfo:
        raise AssertionError("no traffic may move")

    async def create_version(self, *args: Any) -> VersionInfo:
        raise AssertionError("no version may be created")

    def endpoint_facts(self, agent: str) -> EndpointFacts:
        return EndpointFacts("https://x/agents/chat/endpoint/protocols/openai", "v1", "s")


class Env:
    async def resolve(self, namespace: str, spec: HostedAgentSpec) -> Resolved:
        return Resolved()


def reconcile(foundry: Foundry, spec: dict[str, Any], status: dict[str, Any]) -> Outcome:
    reconciler = Reconciler(foundry, Env(), configmaps=None)  # type: ignore[arg-type]
    return asyncio.run(reconciler.reconcile(Resource("uid-1", "ns", "chat", 1, spec, status)))


def after(outcome: Outcome) -> dict[str, Any]:
    assert outcome.status is not None
    return status_patch(outcome.status)


def test_new_endpoint_settings_are_patched_once_without_a_version() -> None:
    spec = {"image": IMAGE}
    foundry = Foundry(spec)
    ready = reconcile(foundry, spec, {})
    assert ready.result == "ready" and foundry.calls == []

    changed = {**spec, "endpoint": SCHEMES}
    outcome = reconcile(foundry, changed, after(ready))
    assert outcome.result == "ready"
    assert [name for name, _ in foundry.calls] == ["configure_endpoint"]
    sent = foundry.calls[0][1]
    assert sent.authorization_schemes == ("Entra", "BotService")
    assert after(outcome)["servingVersion"] == "1" and foundry.agent.routing == {"1": 100}

    reconcile(foundry, changed, after(outcome))
    assert len(foundry.calls) == 1  # Foundry has them now: nothing more is written
