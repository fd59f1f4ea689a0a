"""How long to wait before trying again: exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads the retries of
many HostedAgents that failed together (a Foundry outage, a throttling burst) instead of
having them return in lock-step. A server's Retry-After is a floor, never shortened.

Pure: the random source is injected, so tests pass a constant.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

DEFAULT_BASE_SECONDS: Final = 1.0
DEFAULT_CAP_SECONDS: Final = 300.0
# A Retry-After beyond this is treated as this: a misconfigured proxy must not park an
# object for a day.
MAX_RETRY_AFTER_SECONDS: Final = 3600.0

Random = Callable[[], float]


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = DEFAULT_BASE_SECONDS,
    cap: float = DEFAULT_CAP_SECONDS,
    rand: Random = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    ``rand`` returns a float in [0, 1). With ``retry_after`` (seconds, from the server), the
    result is at least that, up to ``MAX_RETRY_AFTER_SECONDS``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    # Cap the exponent before computing: 2**attempt overflows a float around 1024.
    ceiling = min(cap, base * 2.0 ** min(attempt, 62))
    delay = rand() * ceiling
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
