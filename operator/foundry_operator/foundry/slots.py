"""The cap on Foundry calls in flight, with a lane for calls that others wait on.

A plain semaphore lets waiters in first come, first served. Under a burst that starves the
agent directory: its listing is a chain of pages, each of which queues behind hundreds of
polls and routes, so the new objects that wait on that listing waited seconds for nothing
(in the bench, the last 90 of 1000 new objects were created 4 s after the rest, every Foundry
slot busy meanwhile). Urgent waiters are let in before the others; the cap is the same.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    """At most ``limit`` holders at once; a freed slot goes to the longest-waiting urgent
    caller, else to the longest-waiting other one."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one slot")
        self._free = limit
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        return self._free

    async def acquire(self, *, urgent: bool = False) -> None:
        # A slot is only ever counted free when nobody waits for it (release hands it to a
        # waiter directly), so a free slot can be taken at once.
        if self._free > 0:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # handed a slot, then cancelled before using it: pass it on
            raise

    def release(self) -> None:
        for lane in (self._urgent, self._normal):
            while lane:
                waiter = lane.popleft()
                if not waiter.done():  # a cancelled waiter left its future behind
                    waiter.set_result(None)
                    return
        self._free += 1
