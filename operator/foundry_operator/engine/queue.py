"""The work queue every reconcile goes through: the controller-runtime idiom, in asyncio.

Three promises, the ones controller-runtime's workqueue makes:

- **De-duplicated per key.** Adding a key that is already waiting does nothing; a burst of
  watch events for one object becomes one reconcile.
- **One in flight per key.** A key added while its reconcile runs is marked dirty and handed
  out again only after :meth:`WorkQueue.done`, so two workers never reconcile one object.
- **"Look again after T"** is :meth:`WorkQueue.add_after`. The latest decision about a key
  wins: a reconcile that says "in 30 s" replaces an earlier "in 600 s", and an immediate
  :meth:`add` (a watch event) does not wait for either.

Time comes from an injected clock and the timer is driven by :meth:`next_due`/:meth:`pop_due`,
so the ordering rules are unit tested without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ready: deque[K] = deque()
        self._dirty: set[K] = set()  # waiting in _ready, or to be re-queued after done()
        self._processing: set[K] = set()
        # key -> due time of its one pending "look again"; the heap may hold stale entries.
        self._due: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0
        self._ready_signal = asyncio.Event()
        self._timer_signal = asyncio.Event()
        self._closed = False

    # --- adding -----------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Reconcile ``key`` as soon as a worker is free (and its current reconcile ended)."""
        if self._closed or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._ready_signal.set()

    def add_after(self, key: K, delay: float) -> None:
        """Reconcile ``key`` after ``delay`` seconds, replacing any earlier "after"."""
        if self._closed:
            return
        if delay <= 0:
            self._due.pop(key, None)
            self.add(key)
            return
        due = self._clock() + delay
        self._due[key] = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, key))
        self._timer_signal.set()

    def forget(self, key: K) -> None:
        """Drop the pending "look again" of a key (the object is gone)."""
        self._due.pop(key, None)

    # --- the timer --------------------------------------------------------------------

    def next_due(self) -> float | None:
        """Seconds until the earliest pending "look again", None if there is none."""
        while self._heap:
            due, _, key = self._heap[0]
            if self._due.get(key) != due:
                heapq.heappop(self._heap)  # superseded or forgotten
                continue
            return max(0.0, due - self._clock())
        return None

    def pop_due(self) -> list[K]:
        """Move every key whose time has come to the ready queue; returns them."""
        now = self._clock()
        moved: list[K] = []
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == due:
                del self._due[key]
                self.add(key)
                moved.append(key)
        return moved

    async def run_timer(self) -> None:
        """Feed due keys into the queue until cancelled."""
        while not self._closed:
            self._timer_signal.clear()
            self.pop_due()
            wait = self.next_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_signal.wait(), timeout=wait)

    # --- taking -----------------------------------------------------------------------

    def try_get(self) -> K | None:
        if not self._ready:
            return None
        key = self._ready.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    async def get(self) -> K:
        """The next key to reconcile; the caller must call :meth:`done` with it."""
        while True:
            key = self.try_get()
            if key is not None:
                return key
            if self._closed:
                raise asyncio.CancelledError
            self._ready_signal.clear()
            await self._ready_signal.wait()

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._closed:
            self._ready.append(key)
            self._ready_signal.set()

    # --- introspection ----------------------------------------------------------------

    def pending_after(self, key: K) -> float | None:
        """Seconds until ``key``'s pending look, for tests and metrics."""
        due = self._due.get(key)
        return None if due is None else due - self._clock()

    def __len__(self) -> int:
        return len(self._ready)

    def close(self) -> None:
        self._closed = True
        self._ready_signal.set()
        self._timer_signal.set()
