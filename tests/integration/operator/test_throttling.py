"""Throttling and server errors: every agent converges, within a stated call budget.

Run by an operator that watches only this test's namespace, so every Foundry call counted
is one of this test's (the session operator resyncs all objects every few seconds).
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.projects import AIProjectClient

from foundry_devtools.emulator.process import EmulatorProcess
from support.hagent import IMAGE, manifest, unique, versions, wait_ready


@pytest.mark.usefixtures("dedicated_operator")
def test_twenty_agents_become_ready_through_throttling_and_errors_within_a_call_budget(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    admin = emulator.admin()
    admin.reset(state=False, stats=True)
    admin.inject_throttling(retry_after=1, rate=1 / 3)
    admin.inject_status(503, rate=0.1)
    names = [unique(f"load{i}") for i in range(20)]
    try:
        for name in names:
            kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
        for name in names:
            wait_ready(kubectl, namespace, name, timeout=240)
    finally:
        admin.clear_faults()
    for name in names:
        assert len(versions(foundry, name)) == 1
    stats = admin.stats()
    project_calls = stats.total - stats.count("token")
    # Without faults a rollout costs about 5 calls per agent, up to 10 when polls repeat.
    # With ~43 % of calls failing, each logical call takes about 1.75 attempts (the SDK's
    # own retries honour Retry-After): the bound is 2 x 10 per agent, and never a loop.
    assert project_calls <= 20 * 20, stats.operations
