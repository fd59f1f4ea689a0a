"""Request counters per operation and status, for tests and the benchmark."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Final

_READS: Final = frozenset({"GET", "HEAD"})


class RequestStats:
    """Counts requests as ``operation -> status -> n``.

    ``status`` is the HTTP status as a string, or ``"dropped"`` for connections the fault
    injector cut, so a test can assert both "the SDK retried" and "how it ended".
    ``writes`` counts the requests whose method may change something (anything but GET and
    HEAD, invocations included), so "this client wrote nothing" is one number.
    """

    def __init__(self) -> None:
        self._counts: defaultdict[str, defaultdict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self.since = time.time()
        self.writes = 0

    def record(self, operation: str, status: int | str, *, method: str = "GET") -> None:
        self._counts[operation][str(status)] += 1
        if method.upper() not in _READS:
            self.writes += 1

    def reset(self) -> None:
        self._counts.clear()
        self.writes = 0
        self.since = time.time()

    def snapshot(self) -> dict[str, Any]:
        operations = {
            op: dict(sorted(by_status.items())) for op, by_status in sorted(self._counts.items())
        }
        return {
            "since": self.since,
            "total": sum(sum(v.values()) for v in operations.values()),
            "writes": self.writes,
            "operations": operations,
        }
