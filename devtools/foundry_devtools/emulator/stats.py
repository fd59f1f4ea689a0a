"""Request counters per operation and status, for tests and the benchmark."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any


class RequestStats:
    """Counts requests as ``operation -> status -> n``.

    ``status`` is the HTTP status as a string, or ``"dropped"`` for connections the fault
    injector cut, so a test can assert both "the SDK retried" and "how it ended".
    """

    def __init__(self) -> None:
        self._counts: defaultdict[str, defaultdict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self.since = time.time()

    def record(self, operation: str, status: int | str) -> None:
        self._counts[operation][str(status)] += 1

    def reset(self) -> None:
        self._counts.clear()
        self.since = time.time()

    def snapshot(self) -> dict[str, Any]:
        operations = {
            op: dict(sorted(by_status.items())) for op, by_status in sorted(self._counts.items())
        }
        return {
            "since": self.since,
            "total": sum(sum(v.values()) for v in operations.values()),
            "operations": operations,
        }
