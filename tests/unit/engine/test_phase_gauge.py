"""The per-phase gauge follows every object's phase as it changes, without recounting."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from foundry_operator.api.status import HostedAgentStatus, Phase
from foundry_operator.controller import Outcome, Resource
from foundry_operator.reconcile.nextlook import Look
from support.engine import FINALIZER, engine_for


class Reconciler:
    def __init__(self) -> None:
        self.phase = Phase.PROVISIONING

    async def reconcile(self, resource: Resource) -> Outcome:
        return Outcome(HostedAgentStatus(phase=self.phase), [], Look.SETTLED, "ready")

    async def delete(self, resource: Resource) -> Outcome:
        return Outcome(None, [], Look.DONE, "deleted")

    def release_agent(self, agent: str) -> None: ...


def body(name: str) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": name,
            "uid": f"uid-{name}",
            "generation": 1,
            "finalizers": [FINALIZER],
        },
        "spec": {},
    }


def test_the_gauge_follows_phases_and_forgets_deleted_objects() -> None:
    gauge = Gauge("agents", "per phase", ["phase"], registry=(registry := CollectorRegistry()))
    reconciler = Reconciler()
    engine = engine_for(reconciler, phases=gauge)

    def counts() -> dict[str, float]:
        return {
            each.value: registry.get_sample_value("agents", {"phase": each.value}) or 0.0
            for each in (Phase.PROVISIONING, Phase.READY)
        }

    async def run() -> list[dict[str, float]]:
        seen = [counts()]
        for name in ("a", "b", "c"):
            engine.observe("ADDED", body(name))
            await engine._process(("ns", name))
        seen.append(counts())
        reconciler.phase = Phase.READY
        for name in ("a", "b"):
            await engine._process(("ns", name))
        seen.append(counts())
        engine.observe("DELETED", body("a"))
        seen.append(counts())
        return seen

    assert asyncio.run(run()) == [
        {"Provisioning": 0.0, "Ready": 0.0},  # every phase is on /metrics from the start
        {"Provisioning": 3.0, "Ready": 0.0},
        {"Provisioning": 1.0, "Ready": 2.0},
        {"Provisioning": 1.0, "Ready": 1.0},
    ]
