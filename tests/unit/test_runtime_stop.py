"""Stopping: the flag kopf waits on is set at cleanup, so a terminating pod exits at once.

kopf gives every task still alive after its cleanup handlers up to 5 s before cancelling
it, and its own waiter on ``stop_flag`` is one of them: left unset, each SIGTERM cost those
5 s (a rolling upgrade, a failover, every operator restart in the tests).
"""

from __future__ import annotations

import asyncio

from foundry_operator.runtime import Runtime
from foundry_operator.settings import Settings


def test_cleanup_sets_the_stop_flag_kopf_waits_on() -> None:
    async def stop_once() -> tuple[bool, bool]:
        runtime = Runtime(Settings(project_endpoint="https://example.invalid/api/projects/p"))
        before = runtime.stopping.is_set()
        await runtime.stop()  # nothing was started: stopping must still be safe
        return before, runtime.stopping.is_set()

    assert asyncio.run(stop_once()) == (False, True)
