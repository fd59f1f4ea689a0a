"""One scheduler for the periodic drift check of every HostedAgent.

A kopf daemon per object would hold a task, a stopper and a logger for each of thousands of
objects; this keeps one small entry per object (its latest body, from the watch) and one
loop that wakes when the next object is due. Each object is looked at once per period,
with jitter, so a fleet spreads its reads instead of resyncing in lock-step.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("foundry_operator.resync")


@dataclass
class Entry:
    """What the scheduler knows about one object."""

    uid: str
    body: Mapping[str, Any]
    due: float
    attempt: int = 0  # consecutive looks that could not read Foundry
    repairing: bool = False  # the last look started a change that it is following
    generation: int = field(default=0)  # bumps on every schedule change (heap invalidation)


# A look returns the seconds until the next one, or None for the normal period.
Look = Callable[[Entry], Awaitable[float | None]]


class Resyncer:
    def __init__(
        self,
        period: float,
        look: Look,
        *,
        concurrency: int,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period = period
        self._look = look
        self._rand = rand
        self._clock = clock
        self._entries: dict[str, Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._wakeup = asyncio.Event()
        self._limit = asyncio.Semaphore(concurrency)
        self._busy: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def _schedule(self, entry: Entry, delay: float) -> None:
        entry.due = self._clock() + delay
        entry.generation += 1
        heapq.heappush(self._heap, (entry.due, entry.generation, entry.uid))
        self._wakeup.set()

    def observe(self, uid: str, body: Mapping[str, Any]) -> None:
        """The latest body of an object; a new object gets its first look within a period
        (uniformly spread over its second half, so a fleet created together does not
        resync together)."""
        entry = self._entries.get(uid)
        if entry is None:
            entry = self._entries[uid] = Entry(uid, body, 0.0)
            self._schedule(entry, self.period * (0.5 + 0.5 * self._rand()))
        else:
            entry.body = body

    def forget(self, uid: str) -> None:
        self._entries.pop(uid, None)

    def due(self) -> list[Entry]:
        """Entries whose time has come (each once), in due order."""
        now = self._clock()
        ready: list[Entry] = []
        while self._heap and self._heap[0][0] <= now:
            _, generation, uid = heapq.heappop(self._heap)
            entry = self._entries.get(uid)
            if entry is not None and entry.generation == generation and uid not in self._busy:
                ready.append(entry)
        return ready

    def _next_wait(self) -> float:
        if not self._heap:
            return self.period
        return max(0.0, self._heap[0][0] - self._clock())

    async def _run_one(self, entry: Entry) -> None:
        async with self._limit:
            try:
                delay = await self._look(entry)
            except Exception:  # one object's failure must not stop the others' resync
                log.exception("resync of %s failed", entry.uid)
                delay = None
            finally:
                self._busy.discard(entry.uid)
        if entry.uid in self._entries:
            jittered = self.period * (0.9 + 0.2 * self._rand())
            self._schedule(entry, delay if delay is not None else jittered)

    async def run(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        while True:
            self._wakeup.clear()
            for entry in self.due():
                self._busy.add(entry.uid)
                task = asyncio.create_task(self._run_one(entry))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._next_wait())
