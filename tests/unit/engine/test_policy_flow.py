"""managementPolicy and adoptionPolicy through the Reconciler, Foundry faked: which calls
each policy makes, and what status says."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from foundry_operator.api.reserved import reserved_metadata
from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.controller import Outcome, Reconciler, Resource
from foundry_operator.kube.env import Resolved
from foundry_operator.reconcile.desired import desired_version
from foundry_operator.reconcile.endpoint import EndpointSettings
from foundry_operator.reconcile.observed import AgentInfo, EndpointFacts, VersionInfo
from foundry_operator.reconcile.report import status_patch

pytestmark = pytest.mark.unit

IMAGE = "myregistry.azurecr.io/agents/chat"
READS = frozenset({"get_agent", "list_versions"})


def definition(image: str) -> dict[str, Any]:
    return desired_version(HostedAgentSpec.model_validate({"image": image})).definition


class Foundry:
    """One agent with the given versions, serving ``serving``; every call is recorded."""

    def __init__(self, versions: list[VersionInfo], serving: str | None = None) -> None:
        self.versions = versions
        self.routing = {serving: 100} if serving else {}
        self.calls: list[str] = []

    @property
    def agent(self) -> AgentInfo | None:
        if not self.versions:
            return None
        return AgentInfo("chat", routing=dict(self.routing), latest=self.versions[-1])

    async def get_agent(self, agent: str) -> AgentInfo | None:
        self.calls.append("get_agent")
        return self.agent

    async def list_versions(self, agent: str) -> list[VersionInfo]:
        self.calls.append("list_versions")
        return list(self.versions)

    async def create_version(
        self, agent: str, definition: Any, metadata: Any, description: Any
    ) -> VersionInfo:
        self.calls.append("create_version")
        created = VersionInfo(
            "chat", str(len(self.versions) + 1), "active", dict(metadata), definition=definition
        )
        self.versions.append(created)
        return created

    async def route(self, agent: str, version: str, endpoint: EndpointSettings) -> AgentInfo:
        self.calls.append("route")
        self.routing = {version: 100}
        info = self.agent
        assert info is not None
        return info

    async def delete_version(self, agent: str, version: str) -> bool:
        self.calls.append("delete_version")
        self.versions = [v for v in self.versions if v.version != version]
        return True

    async def delete_agent(self, agent: str) -> bool:
        self.calls.append("delete_agent")
        self.versions = []
        return True

    def endpoint_facts(self, agent: str) -> EndpointFacts:
        return EndpointFacts("https://x/agents/chat/endpoint/protocols/openai", "v1", "s")

    @property
    def writes(self) -> list[str]:
        return [c for c in self.calls if c not in READS]


def by_hand(n: int, image: str = f"{IMAGE}:1") -> VersionInfo:
    return VersionInfo(
        "chat",
        str(n),
        "active",
        {"owner": "a-person"},  # a spec must say so too (metadata is part of a version)
        created_at=n,
        definition={**definition(image), "container_protocol_versions": []},
    )


def ours(n: int, image: str, name: str = "chat") -> VersionInfo:
    spec_hash = desired_version(HostedAgentSpec.model_validate({"image": image})).spec_hash
    meta = reserved_metadata(uid="u", namespace="ns", name=name, spec_hash=spec_hash)
    return VersionInfo("chat", str(n), "active", meta, created_at=n)


class Env:
    async def resolve(self, namespace: str, spec: HostedAgentSpec) -> Resolved:
        return Resolved()


def resource(spec: dict[str, Any], status: dict[str, Any], name: str = "chat") -> Resource:
    full = {"agentName": "chat", "metadata": {"owner": "a-person"}, **spec}
    return Resource(f"uid-{name}", "ns", name, 1, full, status)


def reconcile(
    foundry: Foundry,
    spec: dict[str, Any],
    status: dict[str, Any] | None = None,
    reconciler: Reconciler | None = None,
    name: str = "chat",
) -> Outcome:
    reconciler = reconciler or Reconciler(
        foundry,  # type: ignore[arg-type]
        Env(),  # type: ignore[arg-type]
        configmaps=None,  # type: ignore[arg-type]
        directory_min_batch=0,
    )
    return asyncio.run(reconciler.reconcile(resource(spec, status or {}, name)))


def delete(foundry: Foundry, spec: dict[str, Any], status: dict[str, Any]) -> Outcome:
    reconciler = Reconciler(
        foundry,  # type: ignore[arg-type]
        Env(),  # type: ignore[arg-type]
        configmaps=None,  # type: ignore[arg-type]
        directory_min_batch=0,
    )
    return asyncio.run(reconciler.delete(resource(spec, status)))


def after(outcome: Outcome) -> dict[str, Any]:
    assert outcome.status is not None
    return status_patch(outcome.status)


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_paused_makes_no_call_and_manage_again_converges() -> None:
    foundry = Foundry([ours(1, f"{IMAGE}:1")], serving="1")
    ready = after(reconcile(foundry, {"image": f"{IMAGE}:1", "metadata": {}}))
    assert ready["servingVersion"] == "1" and foundry.writes == []
    foundry.calls.clear()

    paused = reconcile(foundry, {"image": f"{IMAGE}:2", "managementPolicy": "Paused"}, ready)
    assert foundry.calls == []
    held = after(paused)
    assert conditions(held)["Paused"] == ("True", "Paused")
    assert conditions(held)["Ready"] == ("True", "VersionActive")
    assert held["servingVersion"] == "1"
    assert [e.reason for e in paused.events] == ["Paused"]

    managed = after(reconcile(foundry, {"image": f"{IMAGE}:2"}, held))
    assert "Paused" not in conditions(managed)
    assert foundry.writes == ["create_version", "route"]
    assert managed["servingVersion"] == "2"


def test_observe_only_reports_a_hand_made_agent_and_writes_nothing() -> None:
    foundry = Foundry([by_hand(1, f"{IMAGE}:0"), by_hand(2)], serving="2")
    outcome = reconcile(foundry, {"image": f"{IMAGE}:1", "managementPolicy": "ObserveOnly"})
    status = after(outcome)
    assert foundry.writes == []
    assert status["phase"] == "Ready" and status["servingVersion"] == "2"
    assert [(v["version"], v["adopted"]) for v in status["versions"]] == [("2", True), ("1", True)]
    assert conditions(status)["Drifted"] == ("False", "InSync")
    assert status["endpoint"]["baseURL"].endswith("/openai")

    drifted = after(
        reconcile(foundry, {"image": f"{IMAGE}:9", "managementPolicy": "ObserveOnly"}, status)
    )
    assert conditions(drifted)["Drifted"] == ("True", "NoMatchingVersion")
    assert foundry.writes == []
    # Back to Manage: the Drifted condition goes (and, under Never, the agent is a conflict).
    managed = after(reconcile(foundry, {"image": f"{IMAGE}:9"}, drifted))
    assert "Drifted" not in conditions(managed)
    assert conditions(managed)["Ready"][1] == "AgentNameConflict"
    assert foundry.writes == []


def test_observe_only_reports_a_missing_agent_and_creates_nothing() -> None:
    foundry = Foundry([])
    status = after(reconcile(foundry, {"image": f"{IMAGE}:1", "managementPolicy": "ObserveOnly"}))
    assert conditions(status)["Ready"] == ("False", "AgentNotFound")
    assert conditions(status)["Drifted"] == ("True", "AgentNotFound")
    assert foundry.writes == []


def test_adopt_with_the_matching_spec_writes_nothing_and_records_the_versions() -> None:
    foundry = Foundry([by_hand(1, f"{IMAGE}:0"), by_hand(2)], serving="2")
    spec = {"image": f"{IMAGE}:1", "adoptionPolicy": "Adopt", "revisionHistoryLimit": 0}
    outcome = reconcile(foundry, spec)
    status = after(outcome)
    assert foundry.writes == []
    assert status["phase"] == "Ready" and status["servingVersion"] == "2"
    assert status["adoptedVersions"] == ["1", "2"]
    assert any(e.reason == "Adopted" for e in outcome.events)

    # Set back to Never, the adopted versions stay this HostedAgent's.
    again = after(reconcile(foundry, {"image": f"{IMAGE}:1"}, status))
    assert again["phase"] == "Ready" and again["adoptedVersions"] == ["1", "2"]
    assert foundry.writes == []


def test_adopt_with_a_new_spec_creates_routes_and_deletes_only_its_own() -> None:
    foundry = Foundry([by_hand(1)], serving="1")
    spec = {"image": f"{IMAGE}:2", "adoptionPolicy": "Adopt"}
    status = after(reconcile(foundry, spec))
    assert foundry.writes == ["create_version", "route"]
    assert status["servingVersion"] == "2" and status["adoptedVersions"] == ["1"]

    foundry.calls.clear()
    gone = delete(foundry, spec, status)
    assert gone.look.name == "DONE"
    # Traffic back to the adopted version first, then only the operator's version goes.
    assert foundry.writes == ["route", "delete_version"]
    assert [v.version for v in foundry.versions] == ["1"] and foundry.routing == {"1": 100}

    foundry = Foundry([by_hand(1), ours(2, f"{IMAGE}:2")], serving="2")
    delete(foundry, {**spec, "adoptedVersions": "Include"}, status)
    assert foundry.writes == ["delete_agent"]


def test_a_second_hosted_agent_cannot_adopt_what_the_first_adopted() -> None:
    foundry = Foundry([by_hand(1)], serving="1")
    reconciler = Reconciler(
        foundry,  # type: ignore[arg-type]
        Env(),  # type: ignore[arg-type]
        configmaps=None,  # type: ignore[arg-type]
        directory_min_batch=0,
    )
    spec = {"image": f"{IMAGE}:1", "adoptionPolicy": "Adopt"}
    assert after(reconcile(foundry, spec, reconciler=reconciler))["phase"] == "Ready"
    second = after(reconcile(foundry, spec, reconciler=reconciler, name="other"))
    assert conditions(second)["Ready"][1] == "AgentNameConflict"
    assert "ns/chat" in second["lastError"]["message"]
    assert foundry.writes == []


def test_an_agent_of_another_hosted_agent_is_not_adopted() -> None:
    foundry = Foundry([ours(1, f"{IMAGE}:1", name="first")], serving="1")
    status = after(reconcile(foundry, {"image": f"{IMAGE}:1", "adoptionPolicy": "Adopt"}))
    assert conditions(status)["Ready"][1] == "AgentNameConflict"
    assert "ns/first" in status["lastError"]["message"]
    assert foundry.writes == []


@pytest.mark.parametrize(
    ("policy", "deletion_policy", "writes"),
    [
        ("Paused", "Delete", ["delete_agent"]),
        ("Paused", "Retain", []),
        ("ObserveOnly", "Delete", []),
    ],
)
def test_deleting_under_a_policy_makes_one_decision(
    policy: str, deletion_policy: str, writes: list[str]
) -> None:
    foundry = Foundry([ours(1, f"{IMAGE}:1")], serving="1")
    spec = {"image": f"{IMAGE}:1", "managementPolicy": policy, "deletionPolicy": deletion_policy}
    outcome = delete(foundry, spec, {"agentName": "chat"})
    assert outcome.look.name == "DONE"
    assert foundry.writes == writes
    decisions = [e for e in outcome.events if e.reason == "DeletionDecision"]
    assert len(decisions) == 1 and policy in decisions[0].message
