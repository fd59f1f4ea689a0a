"""When each object gets its periodic look."""

from __future__ import annotations

import asyncio

from foundry_operator.resync import Entry, Resyncer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, looks: list[str], answer: float | None = None) -> Resyncer:
    async def look(entry: Entry) -> float | None:
        looks.append(entry.uid)
        return answer

    return Resyncer(100.0, look, concurrency=4, rand=lambda: 0.5, clock=clock)


def test_a_new_object_is_first_looked_at_within_its_first_period() -> None:
    clock, looks = Clock(), []
    resyncer = make(clock, looks)
    resyncer.observe("a", {})
    clock.now = 74.9
    assert resyncer.due() == []
    clock.now = 75.0  # 0.5 + 0.5 * rand of the period
    assert [e.uid for e in resyncer.due()] == ["a"]
    assert resyncer.due() == []  # handed out once


def test_a_forgotten_object_is_never_due() -> None:
    clock, looks = Clock(), []
    resyncer = make(clock, looks)
    resyncer.observe("a", {})
    resyncer.forget("a")
    clock.now = 1000
    assert resyncer.due() == []


def test_after_a_look_the_next_comes_one_jittered_period_later_or_when_asked() -> None:
    async def scenario() -> tuple[float, float]:
        clock, looks = Clock(), []
        resyncer = make(clock, looks)
        resyncer.observe("a", {"v": 1})
        clock.now = 80
        (entry,) = resyncer.due()
        await resyncer._run_one(entry)
        normal = entry.due
        asked = make(clock, looks, answer=3.0)
        asked.observe("b", {})
        clock.now = 200
        (other,) = asked.due()
        await asked._run_one(other)
        return normal, other.due

    normal, asked_for = asyncio.run(scenario())
    assert normal == 80 + 100  # 0.9 + 0.2 * 0.5 of the period
    assert asked_for == 203


def test_observe_keeps_the_schedule_but_updates_the_body() -> None:
    clock, looks = Clock(), []
    resyncer = make(clock, looks)
    resyncer.observe("a", {"v": 1})
    resyncer.observe("a", {"v": 2})
    clock.now = 75
    (entry,) = resyncer.due()
    assert entry.body == {"v": 2}
