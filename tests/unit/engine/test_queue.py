"""The work queue's promises: one entry per key, one reconcile in flight per key, and the
latest "look again after" wins."""

from __future__ import annotations

import asyncio

from foundry_operator.engine.queue import WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_events_for_one_key_is_one_reconcile() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert [queue.try_get(), queue.try_get(), queue.try_get()] == ["a", "b", None]


def test_a_key_added_while_it_is_reconciled_waits_until_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert queue.try_get() == "a"
    queue.add("a")  # a watch event during the reconcile
    assert queue.try_get() is None  # never two reconciles of one object at once
    queue.done("a")
    assert queue.try_get() == "a"
    queue.done("a")
    assert queue.try_get() is None


def test_look_again_after_fires_when_due_and_the_latest_decision_wins() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add_after("a", 600)
    queue.add_after("a", 30)  # a newer reconcile said "sooner"
    clock.now += 29
    assert queue.pop_due() == []
    clock.now += 1
    assert queue.pop_due() == ["a"]
    clock.now += 1000
    assert queue.pop_due() == []  # the superseded 600 s entry does not fire too


def test_a_later_decision_also_replaces_an_earlier_one() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add_after("a", 5)
    queue.add_after("a", 600)  # the object settled: back to the resync period
    clock.now += 10
    assert queue.pop_due() == []
    assert queue.pending_after("a") == 590


def test_forget_drops_the_pending_look_of_a_deleted_object() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add_after("a", 5)
    queue.forget("a")
    clock.now += 10
    assert queue.pop_due() == [] and queue.next_due() is None


def test_get_waits_for_work_without_spinning() -> None:
    async def scenario() -> str:
        queue: WorkQueue[str] = WorkQueue()
        waiter = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        assert not waiter.done()
        queue.add("x")
        return await asyncio.wait_for(waiter, timeout=5)

    assert asyncio.run(scenario()) == "x"
