"""spec.suspend: one switch call at most, and only the operator's own disable is undone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from foundry_operator.api.status import HostedAgentStatus, Phase
from foundry_operator.reconcile.conditions import conditions_for_phase, find_condition
from foundry_operator.reconcile.observed import AgentInfo
from foundry_operator.reconcile.publish import Seen
from foundry_operator.reconcile.report import Report, build_status
from foundry_operator.reconcile.suspend import Switch, held_suspended, switch, switched

pytestmark = pytest.mark.unit

ON = AgentInfo("chat", routing={"1": 100})
OFF = AgentInfo("chat", routing={"1": 100}, enabled=False, configured_enabled=False)
# Operationally disabled by its identity, while the switch is on.
IDENTITY_OFF = AgentInfo(
    "chat", routing={"1": 100}, enabled=False, state_source="agent_instance_identity"
)


@pytest.mark.parametrize(
    ("suspend", "agent", "ours", "expected"),
    [
        (True, ON, False, Switch.DISABLE),
        (True, OFF, False, Switch.KEEP),  # already off: no call
        (True, OFF, True, Switch.KEEP),
        (True, IDENTITY_OFF, False, Switch.DISABLE),  # the switch itself is still on
        (False, ON, False, Switch.KEEP),
        (False, ON, True, Switch.KEEP),  # already back on: no call
        (False, OFF, True, Switch.ENABLE),  # the operator's own disable is undone
        (False, OFF, False, Switch.KEEP),  # disabled outside: left off (AgentDisabled)
        (False, IDENTITY_OFF, False, Switch.KEEP),
        (True, None, False, Switch.KEEP),  # no agent yet: nothing to switch
        (False, None, True, Switch.KEEP),
    ],
)
def test_switch_calls_only_when_foundry_differs_from_the_spec(
    suspend: bool, agent: AgentInfo | None, ours: bool, expected: Switch
) -> None:
    assert switch(suspend=suspend, agent=agent, suspended_by_us=ours) is expected


def test_switched_agent_reads_as_foundry_would_answer_after_the_call() -> None:
    off = switched(ON, Switch.DISABLE)
    assert not off.configured_enabled and not off.enabled
    on = switched(OFF, Switch.ENABLE)
    assert on.configured_enabled and on.enabled
    assert switched(ON, Switch.KEEP) is ON


def test_enabling_the_switch_leaves_a_state_that_comes_from_the_identity() -> None:
    both = AgentInfo(
        "chat",
        enabled=False,
        configured_enabled=False,
        state_source="agent_blueprint",
    )
    after = switched(both, Switch.ENABLE)
    assert after.configured_enabled and not after.enabled


def test_status_records_suspended_only_while_the_operator_holds_it_off() -> None:
    assert held_suspended(suspend=True, agent=OFF)
    assert not held_suspended(suspend=True, agent=ON)  # the disable has not happened yet
    assert not held_suspended(suspend=False, agent=OFF)
    assert not held_suspended(suspend=True, agent=None)


def test_suspended_phase_is_not_ready_and_neither_progressing_nor_degraded() -> None:
    updates = {
        u.type: (u.status.value, str(u.reason)) for u in conditions_for_phase(Phase.SUSPENDED)
    }
    assert updates == {
        "Ready": ("False", "Suspended"),
        "Progressing": ("False", "Suspended"),
        "Degraded": ("False", "AsExpected"),
    }


def test_suspended_status_and_its_record_survive_a_reconcile_that_did_not_look() -> None:
    now = datetime.now(UTC)
    first = build_status(
        HostedAgentStatus(),
        Report(Phase.SUSPENDED, "chat", serving="1", seen=Seen(suspended=True)),
        generation=2,
        now=now,
    )
    assert first.suspended is True and first.phase is Phase.SUSPENDED
    ready = find_condition(first.conditions, "Ready")
    assert ready is not None and (ready.status.value, ready.reason) == ("False", "Suspended")
    # Foundry could not be looked at: what status recorded stays.
    kept = build_status(first, Report(Phase.PROVISIONING, "chat"), generation=2, now=now)
    assert kept.suspended is True
    # Resumed: the record goes (written as null, so it clears).
    resumed = build_status(first, Report(Phase.READY, "chat", seen=Seen()), generation=3, now=now)
    assert resumed.suspended is None
