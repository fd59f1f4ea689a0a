"""One reconcile of a serving agent, with Foundry and the ConfigMap API faked: the switch
calls spec.suspend makes, and how a ConfigMap that cannot be written is reported."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from foundry_operator.api.reserved import reserved_metadata
from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.api.status import Phase
from foundry_operator.controller import Outcome, Reconciler, Resource
from foundry_operator.kube.api import KubeError
from foundry_operator.kube.env import Resolved
from foundry_operator.reconcile.conditions import find_condition
from foundry_operator.reconcile.desired import desired_version
from foundry_operator.reconcile.nextlook import Look
from foundry_operator.reconcile.observed import AgentInfo, EndpointFacts, VersionInfo
from foundry_operator.reconcile.publish import ObservedConfigMap, observe_configmap
from foundry_operator.reconcile.report import status_patch

pytestmark = pytest.mark.unit

IMAGE = "myregistry.azurecr.io/agents/chat:1"
BASE = "https://acct.services.ai.azure.com/api/projects/p/agents/chat/endpoint/protocols/openai"


class Foundry:
    """A Foundry holding one agent, ours, serving version 1."""

    def __init__(self, spec: dict[str, Any]) -> None:
        spec_hash = desired_version(HostedAgentSpec.model_validate(spec)).spec_hash
        meta = reserved_metadata(uid="uid-1", namespace="ns", name="chat", spec_hash=spec_hash)
        version = VersionInfo("chat", "1", "active", meta, created_at=1)
        self.agent = AgentInfo("chat", routing={"1": 100}, latest=version)
        self.calls: list[str] = []

    async def get_agent(self, agent: str) -> AgentInfo:
        return self.agent

    async def list_versions(self, agent: str) -> list[VersionInfo]:
        assert self.agent.latest is not None
        return [self.agent.latest]

    async def disable(self, agent: str) -> None:
        self.calls.append("disable")
        self.agent = replace(self.agent, enabled=False, configured_enabled=False)

    async def enable(self, agent: str) -> None:
        self.calls.append("enable")
        self.agent = replace(self.agent, enabled=True, configured_enabled=True)

    def endpoint_facts(self, agent: str) -> EndpointFacts:
        return EndpointFacts(
            BASE, "v1", "https://ai.azure.com/.default", (("Foundry-Features", "x"),)
        )


class Env:
    async def resolve(self, namespace: str, spec: HostedAgentSpec) -> Resolved:
        return Resolved()


class ConfigMaps:
    def __init__(self, existing: ObservedConfigMap | None = None, fail: int | None = None) -> None:
        self.existing = existing
        self.fail = fail
        self.writes: list[str] = []

    async def get(self, namespace: str, name: str) -> ObservedConfigMap | None:
        return self.existing

    async def create(self, namespace: str, body: dict[str, Any]) -> None:
        if self.fail:
            raise KubeError(self.fail, "Forbidden", "configmaps is forbidden")
        self.writes.append("create")
        self.existing = observe_configmap(
            {**body, "metadata": {**body["metadata"], "uid": "cm", "resourceVersion": "1"}}
        )

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.writes.append("patch")

    async def delete(self, namespace: str, name: str, uid: str) -> bool:
        self.writes.append("delete")
        self.existing = None
        return True


def reconcile(
    foundry: Foundry, configmaps: ConfigMaps, spec: dict[str, Any], status: dict[str, Any]
) -> Outcome:
    reconciler = Reconciler(foundry, Env(), configmaps)  # type: ignore[arg-type]
    resource = Resource("uid-1", "ns", "chat", 1, spec, status)
    return asyncio.run(reconciler.reconcile(resource))


def after(outcome: Outcome) -> dict[str, Any]:
    assert outcome.status is not None
    return status_patch(outcome.status)


def test_suspend_disables_once_and_resume_enables_once() -> None:
    spec = {"image": IMAGE}
    foundry, configmaps = Foundry(spec), ConfigMaps()
    ready = reconcile(foundry, configmaps, spec, {})
    assert ready.result == "ready" and foundry.calls == []
    assert after(ready)["endpoint"]["baseURL"] == BASE

    suspended = reconcile(foundry, configmaps, {**spec, "suspend": True}, after(ready))
    assert foundry.calls == ["disable"]
    assert suspended.result == "suspended" and suspended.look is Look.SETTLED
    status = after(suspended)
    assert status["phase"] == "Suspended" and status["suspended"] is True
    assert [e.reason for e in suspended.events] == ["Suspended"]

    again = reconcile(foundry, configmaps, {**spec, "suspend": True}, status)
    assert foundry.calls == ["disable"]  # Foundry already agrees: no call
    assert after(again) == status

    resumed = reconcile(foundry, configmaps, spec, status)
    assert foundry.calls == ["disable", "enable"]
    assert after(resumed)["phase"] == "Ready" and after(resumed)["suspended"] is None


def test_an_agent_disabled_outside_is_left_disabled() -> None:
    spec = {"image": IMAGE}
    foundry = Foundry(spec)
    foundry.agent = replace(foundry.agent, enabled=False, configured_enabled=False)
    outcome = reconcile(foundry, ConfigMaps(), spec, {})
    assert foundry.calls == []
    assert outcome.status is not None and outcome.status.phase is Phase.FAILED
    ready = find_condition(outcome.status.conditions, "Ready")
    assert ready is not None and ready.reason == "AgentDisabled"


def test_the_configmap_is_written_once_and_then_left_alone() -> None:
    spec = {"image": IMAGE, "endpointConfigMap": {"name": "chat-endpoint"}}
    foundry, configmaps = Foundry(spec), ConfigMaps()
    first = reconcile(foundry, configmaps, spec, {})
    assert configmaps.writes == ["create"] and first.result == "ready"
    assert after(first)["endpointConfigMapName"] == "chat-endpoint"
    assert sorted(e.reason for e in first.events) == ["ConfigMapCreated", "Ready"]
    reconcile(foundry, configmaps, spec, after(first))
    assert configmaps.writes == ["create"]
    # The field removed: the ConfigMap it wrote goes, and so does the record.
    gone = reconcile(foundry, configmaps, {"image": IMAGE}, after(first))
    assert configmaps.writes == ["create", "delete"]
    assert after(gone)["endpointConfigMapName"] is None


def test_a_configmap_that_cannot_be_written_is_retried_and_keeps_the_agent_from_ready() -> None:
    spec = {"image": IMAGE, "endpointConfigMap": {"name": "chat-endpoint"}}
    outcome = reconcile(Foundry(spec), ConfigMaps(fail=403), spec, {})
    assert outcome.look is Look.RETRY and outcome.result == "retry"
    status = after(outcome)
    assert status["phase"] == "Provisioning" and status["endpointConfigMapName"] is None
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ConfigMapWriteFailed")
    assert "forbidden" in ready["message"]
    assert status["servingVersion"] == "1"


def test_a_foreign_configmap_is_a_conflict_and_is_never_written() -> None:
    spec = {"image": IMAGE, "endpointConfigMap": {"name": "chat-endpoint"}}
    theirs = ObservedConfigMap("cm", "5", {"A": "b"}, controller=("Deployment", "web", "u"))
    configmaps = ConfigMaps(existing=theirs)
    outcome = reconcile(Foundry(spec), configmaps, spec, {})
    assert configmaps.writes == []
    assert outcome.result == "failed" and outcome.look is Look.SETTLED
    status = after(outcome)
    assert status["phase"] == "Failed" and status["lastError"]["code"] == "ConfigMapConflict"
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True"
    assert [e.reason for e in outcome.events] == ["ConfigMapConflict"]
