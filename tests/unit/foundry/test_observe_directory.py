"""Reconciler._observe: only a brand-new HostedAgent's first look goes through the directory,
and its "absent" is exactly what a 404 from get_agent gives."""

from __future__ import annotations

import asyncio
from typing import Any

from foundry_operator.api.status import HostedAgentStatus
from foundry_operator.controller import Reconciler
from foundry_operator.foundry.client import AgentNamesPage
from foundry_operator.reconcile.observed import AgentInfo, VersionInfo


class _Foundry:
    def __init__(self, agents: dict[str, AgentInfo]) -> None:
        self.agents = agents
        self.calls: list[str] = []

    async def get_agent(self, agent: str) -> AgentInfo | None:
        self.calls.append(f"get {agent}")
        return self.agents.get(agent)

    async def list_agent_names(self, after: str | None = None, **_: Any) -> AgentNamesPage:
        self.calls.append("list")
        return AgentNamesPage(tuple(self.agents), 0, None)

    async def list_versions(self, agent: str) -> list[VersionInfo]:
        self.calls.append(f"versions {agent}")
        return []


def _reconciler(foundry: _Foundry, **kwargs: Any) -> Reconciler:
    return Reconciler(foundry, None, None, **kwargs)  # type: ignore[arg-type]


def _observe(reconciler: Reconciler, agent: str, previous: HostedAgentStatus) -> Any:
    return asyncio.run(reconciler._observe("ns/name", "hash", agent, previous))


def test_a_brand_new_agent_that_does_not_exist_observes_like_a_404() -> None:
    foundry = _Foundry({})
    assert _observe(_reconciler(foundry), "new", HostedAgentStatus()) == ([], None)
    assert foundry.calls == ["get new"]  # alone, it costs the GET it always did


def test_a_hosted_agent_with_a_version_looks_at_foundry_directly() -> None:
    foundry = _Foundry({"old": AgentInfo(name="old")})
    reconciler = _reconciler(foundry)
    assert _observe(reconciler, "old", HostedAgentStatus(latest_version="1")) == (
        [],
        AgentInfo(name="old"),
    )
    assert foundry.calls == ["get old", "versions old"]


def test_a_minimum_batch_of_zero_turns_the_directory_off() -> None:
    assert _reconciler(_Foundry({}), directory_min_batch=0).directory is None
    assert _reconciler(_Foundry({}), directory_min_batch=4).directory is not None
