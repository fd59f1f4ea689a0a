"""The cap on Foundry calls in flight: never exceeded, urgent waiters first, nothing lost
to a cancelled waiter."""

from __future__ import annotations

import asyncio

import pytest

from foundry_operator.foundry.slots import Slots


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_freed_slot_goes_to_an_urgent_waiter_before_earlier_ones() -> None:
    async def run() -> list[str]:
        slots = Slots(1)
        order: list[str] = []
        await slots.acquire()  # the one slot is busy

        async def call(name: str, urgent: bool) -> None:
            await slots.acquire(urgent=urgent)
            order.append(name)
            slots.release()

        tasks = [
            asyncio.create_task(call("poll-1", False)),
            asyncio.create_task(call("poll-2", False)),
        ]
        await settle()
        tasks.append(asyncio.create_task(call("listing", True)))
        await settle()
        slots.release()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(run()) == ["listing", "poll-1", "poll-2"]


def test_never_more_holders_than_the_limit() -> None:
    async def run() -> int:
        slots = Slots(3)
        holding = peak = 0
        gate = asyncio.Event()

        async def call(urgent: bool) -> None:
            nonlocal holding, peak
            await slots.acquire(urgent=urgent)
            holding += 1
            peak = max(peak, holding)
            await gate.wait()
            holding -= 1
            slots.release()

        tasks = [asyncio.create_task(call(i % 4 == 0)) for i in range(20)]
        await settle()
        assert holding == 3
        gate.set()
        await asyncio.gather(*tasks)
        assert slots.free == 3
        return peak

    assert asyncio.run(run()) == 3


def test_a_cancelled_waiter_loses_no_slot() -> None:
    async def run() -> int:
        slots = Slots(1)
        await slots.acquire()
        waiter = asyncio.create_task(slots.acquire())
        await settle()
        waiter.cancel()
        await settle()
        slots.release()  # nobody waits now: the slot is free again
        assert slots.free == 1
        # Handed the slot, then cancelled before it ran: the slot passes on.
        await slots.acquire()
        granted = asyncio.create_task(slots.acquire())
        await settle()
        slots.release()
        granted.cancel()
        with pytest.raises(asyncio.CancelledError):
            await granted
        return slots.free

    assert asyncio.run(run()) == 1


def test_no_slots_is_refused() -> None:
    with pytest.raises(ValueError):
        Slots(0)
