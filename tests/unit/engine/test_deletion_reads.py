"""A deletion decides on the object as the API server holds it now, look after look.

kopf holds an object's watch events while its deletion handler waits, so the engine reads
the object fresh at each look of a deletion; that read decides the look and is not kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from foundry_operator.controller import Outcome, Resource
from foundry_operator.engine.runtime import Engine
from foundry_operator.reconcile.nextlook import Look
from support.engine import FINALIZER, engine_for

KEY = ("ns", "a")


class Deleter:
    """Deletes only when the spec it is given says Delete; otherwise it waits."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def reconcile(self, resource: Resource) -> Outcome:
        raise AssertionError("a deleted object is never reconciled as live")

    async def delete(self, resource: Resource) -> Outcome:
        policy = str(resource.spec.get("deletionPolicy"))
        self.seen.append(policy)
        done = policy == "Orphan"
        return Outcome(None, [], Look.DONE if done else Look.RETRY, "deleting")

    def release_agent(self, agent: str) -> None: ...


def body(policy: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "namespace": "ns",
        "name": "a",
        "uid": "uid-a",
        "generation": 1,
        "finalizers": [FINALIZER],
        "deletionTimestamp": "2026-12-03T00:00:00Z",
    }
    return {"metadata": meta, "spec": {"deletionPolicy": policy}}


def engine_with(deleter: Deleter, server: dict[str, Any]) -> Engine:
    async def read(_: tuple[str, str]) -> dict[str, Any] | None:
        return server.get("object")

    return engine_for(deleter, read)


def test_each_look_of_a_deletion_reads_the_policy_the_server_holds() -> None:
    deleter = Deleter()
    server = {"object": body("Retain")}
    engine = engine_with(deleter, server)

    async def run() -> bool:
        engine.observe("MODIFIED", body("Retain"))
        released = asyncio.create_task(engine.release(body("Retain")))
        await engine._process(KEY)  # Retain: not done, looks again later
        assert not released.done()
        # Changed while kopf holds the events: only the API server knows it yet.
        server["object"] = body("Orphan")
        await engine._process(KEY)
        await asyncio.wait_for(released, 1)
        return released.done()

    assert asyncio.run(run())
    assert deleter.seen == ["Retain", "Orphan"]
