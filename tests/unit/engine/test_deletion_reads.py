"""A deletion's first look decides on the watched body (the event that started it); every
later look decides on the object as the API server holds it now.

kopf holds an object's watch events while its deletion handler waits, so after the first
look the engine reads the object fresh; that read decides the look and is not kept. kopf's
waiting handler is let go as soon as Foundry's part is done, before the closing Event.
"""

from __future__ import annotations

import asyncio
from typing import Any

from foundry_operator.controller import Outcome, Resource
from foundry_operator.engine.runtime import Engine
from foundry_operator.reconcile.nextlook import Look
from foundry_operator.reconcile.report import Event
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


def engine_with(deleter: Deleter, server: dict[str, Any], recorder: object | None = None) -> Engine:
    async def read(_: tuple[str, str]) -> dict[str, Any] | None:
        server["reads"] = server.get("reads", 0) + 1
        return server.get("object")

    return engine_for(deleter, read, recorder=recorder)


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


def test_a_deletion_done_at_its_first_look_reads_nothing_from_the_api_server() -> None:
    # A mass deletion: the event that started each deletion says all the first look needs.
    deleter = Deleter()
    server: dict[str, Any] = {"object": body("Orphan")}
    engine = engine_with(deleter, server)

    async def run() -> None:
        engine.observe("MODIFIED", body("Orphan"))
        released = asyncio.create_task(engine.release(body("Orphan")))
        await engine._process(KEY)
        await asyncio.wait_for(released, 1)

    asyncio.run(run())
    assert deleter.seen == ["Orphan"]
    assert server.get("reads", 0) == 0


class SlowRecorder:
    """Posts an Event only when the test lets it; remembers what it forgot."""

    def __init__(self) -> None:
        self.posting = asyncio.Event()
        self.go_on = asyncio.Event()
        self.posted: list[str] = []
        self.forgotten: list[str] = []

    def forget(self, uid: str) -> None:
        self.forgotten.append(uid)

    async def post(self, _: object, event: Event) -> None:
        self.posting.set()
        await self.go_on.wait()
        self.posted.append(event.reason)


class Finisher(Deleter):
    async def delete(self, resource: Resource) -> Outcome:
        return Outcome(None, [Event("Normal", "Deleted", "gone")], Look.DONE, "deleted")


def test_kopf_lets_go_of_a_deletion_before_its_closing_event_is_posted() -> None:
    recorder = SlowRecorder()
    engine = engine_with(Finisher(), {"object": body("Delete")}, recorder)

    async def run() -> None:
        engine.observe("MODIFIED", body("Delete"))
        released = asyncio.create_task(engine.release(body("Delete")))
        look = asyncio.create_task(engine._process(KEY))
        await asyncio.wait_for(recorder.posting.wait(), 1)
        # The Event is still on its way, and the handler no longer waits for it.
        await asyncio.wait_for(released, 1)
        assert recorder.posted == []
        recorder.go_on.set()
        await asyncio.wait_for(look, 1)

    asyncio.run(run())
    assert recorder.posted == ["Deleted"]
    assert recorder.forgotten == ["uid-a"]


class Blocking(Deleter):
    """Each deletion and reconcile waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.inside: list[str] = []
        self.entered = asyncio.Event()
        self.go_on = asyncio.Event()

    async def reconcile(self, resource: Resource) -> Outcome:
        self.inside.append(f"reconcile {resource.name}")
        return Outcome(None, [], Look.DONE, "ok")

    async def delete(self, resource: Resource) -> Outcome:
        self.inside.append(f"delete {resource.name}")
        self.entered.set()
        await self.go_on.wait()
        return Outcome(None, [], Look.DONE, "deleted")


def named(name: str, *, deleting: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "namespace": "ns",
        "name": name,
        "uid": f"uid-{name}",
        "generation": 1,
        "finalizers": [FINALIZER],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    return {"metadata": meta, "spec": {"deletionPolicy": "Delete"}}


def test_deletions_in_flight_are_bounded_and_live_objects_pass_them() -> None:
    # engine_for has one worker, so one deletion at a time: a mass deletion's waiting
    # reconciles hold only their keys, and a live object is reconciled meanwhile.
    blocking = Blocking()
    engine = engine_for(blocking)

    async def run() -> None:
        for name, deleting in (("d1", True), ("d2", True), ("live", False)):
            engine.observe("MODIFIED", named(name, deleting=deleting))
        looks = [asyncio.create_task(engine._process(("ns", n))) for n in ("d1", "d2")]
        await asyncio.wait_for(blocking.entered.wait(), 1)  # d1 holds the bound, d2 waits
        await asyncio.wait_for(engine._process(("ns", "live")), 1)
        assert blocking.inside == ["delete d1", "reconcile live"]
        blocking.go_on.set()
        await asyncio.wait_for(asyncio.gather(*looks), 1)

    asyncio.run(run())
    assert blocking.inside == ["delete d1", "reconcile live", "delete d2"]
