"""When to look at an object again, decided from what its reconcile found. Pure.

Two counters, never mixed: ``polls`` paces the looks at a version Foundry is still creating
(a steady, growing interval: the version is fine, just not ready), ``failures`` paces the
retries after a call failed (exponential backoff with full jitter, at least the server's
Retry-After). A settled object (Ready, or failed in a way only a person can fix) is looked at
once per resync period, jittered so a fleet created together does not resync together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from . import backoff


class Look(StrEnum):
    SETTLED = "settled"  # nothing will change on its own: the periodic drift check
    POLL = "poll"  # Foundry is creating a version: look again soon
    RETRY = "retry"  # a call failed in a way that may pass: back off
    DONE = "done"  # the object is released (deleted): no further look
    HOLD = "hold"  # a planned wait (a rollout step's pause, the next probe): after exactly T


@dataclass(frozen=True)
class Counters:
    polls: int = 0
    failures: int = 0


@dataclass(frozen=True)
class Timing:
    poll_initial: float = 2.0
    poll_max: float = 30.0
    backoff_base: float = backoff.DEFAULT_BASE_SECONDS
    backoff_max: float = backoff.DEFAULT_CAP_SECONDS
    resync: float = 600.0


def poll_delay(polls: int, timing: Timing, rand: Callable[[], float]) -> float:
    """Doubling from ``poll_initial`` to ``poll_max``, jittered upwards only: a poll that
    comes early finds the version still creating and is a wasted call."""
    ceiling = min(timing.poll_max, timing.poll_initial * 2.0 ** min(polls, 30))
    return ceiling * (1.0 + 0.1 * rand())


def next_look(
    look: Look,
    counters: Counters,
    timing: Timing,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float],
) -> tuple[float | None, Counters]:
    """Seconds until the next look (None: none) and the counters to keep."""
    if look is Look.DONE:
        return None, Counters()
    if look is Look.HOLD:
        # The wait the reconcile asked for, never longer than a resync: drift is still checked.
        wait = retry_after if retry_after is not None else timing.resync
        return min(max(wait, 1.0), timing.resync), Counters()
    if look is Look.POLL:
        return poll_delay(counters.polls, timing, rand), Counters(polls=counters.polls + 1)
    if look is Look.RETRY:
        delay = backoff.backoff_delay(
            counters.failures,
            retry_after=retry_after,
            base=timing.backoff_base,
            cap=timing.backoff_max,
            rand=rand,
        )
        return delay, Counters(polls=counters.polls, failures=counters.failures + 1)
    return timing.resync * (0.9 + 0.2 * rand()), Counters()
