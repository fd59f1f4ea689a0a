"""Pure decisions of the engine: what to write, when to look again, what wakes a reconcile."""

from __future__ import annotations

from datetime import UTC, datetime

from foundry_operator.api.status import (
    Condition,
    ConditionStatus,
    HostedAgentStatus,
    Phase,
    VersionRecord,
)
from foundry_operator.controller import (
    drift_event,
    keeps_status_through_outage,
    may_prune,
    refused_before,
)
from foundry_operator.engine.runtime import trigger_of
from foundry_operator.engine.writer import merge_patch
from foundry_operator.reconcile.nextlook import Counters, Look, Timing, next_look
from foundry_operator.reconcile.observed import VersionInfo
from foundry_operator.reconcile.plan import Action, Plan

FIN = "foundry.agents.dev/finalizer"
T = Timing(poll_initial=2, poll_max=30, backoff_base=1, backoff_max=300, resync=600)


def test_equal_status_gives_an_empty_patch_so_nothing_is_written() -> None:
    status = {"phase": "Ready", "conditions": [{"type": "Ready"}], "versions": []}
    assert merge_patch(status, dict(status)) == {}


def test_patch_holds_only_what_changed_and_nulls_what_went() -> None:
    old = {"phase": "Provisioning", "lastError": {"code": "x"}, "agentName": "a"}
    new = {"phase": "Ready", "lastError": None, "agentName": "a"}
    assert merge_patch(old, new) == {"phase": "Ready", "lastError": None}
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}) == {"a": {"c": 3}}
    assert merge_patch({"gone": 1}, {}) == {"gone": None}


def test_polls_and_failures_are_separate_counters() -> None:
    delay, counters = next_look(Look.POLL, Counters(), T, rand=lambda: 0.0)
    assert delay == 2 and counters == Counters(polls=1)
    delay, counters = next_look(Look.RETRY, counters, T, retry_after=7, rand=lambda: 0.0)
    assert delay == 7 and counters == Counters(polls=1, failures=1)
    delay, counters = next_look(Look.POLL, counters, T, rand=lambda: 0.0)
    assert delay == 4 and counters.polls == 2  # the failure did not speed up or reset polling


def test_first_poll_never_comes_before_the_initial_interval() -> None:
    for r in (0.0, 0.5, 0.999):
        delay, _ = next_look(Look.POLL, Counters(), T, rand=lambda r=r: r)
        assert delay is not None and 2.0 <= delay <= 2.2


def test_settled_objects_resync_jittered_around_the_period_and_reset_counters() -> None:
    low, counters = next_look(Look.SETTLED, Counters(3, 4), T, rand=lambda: 0.0)
    high, _ = next_look(Look.SETTLED, Counters(), T, rand=lambda: 0.999)
    assert low is not None and high is not None
    assert 540 <= low < high <= 660 and counters == Counters()
    assert next_look(Look.DONE, Counters(1, 1), T, rand=lambda: 0.5) == (None, Counters())


def test_backoff_is_capped_even_after_many_failures() -> None:
    delay, _ = next_look(Look.RETRY, Counters(failures=80), T, rand=lambda: 0.999)
    assert delay is not None and delay <= 300


def body(gen: int = 1, **meta: object) -> dict[str, object]:
    return {"metadata": {"uid": "u", "generation": gen, "finalizers": [FIN], **meta}}


def test_our_own_status_writes_do_not_trigger_a_reconcile() -> None:
    old = {**body(), "status": {"phase": "Provisioning"}}
    new = {**body(), "status": {"phase": "Ready"}}
    assert trigger_of(old, FIN) == trigger_of(new, FIN)


def test_spec_deletion_finalizer_and_annotations_do() -> None:
    def moved(old: dict[str, object], new: dict[str, object]) -> bool:
        return trigger_of(old, FIN) != trigger_of(new, FIN)

    assert moved(body(1), body(2))
    assert moved(body(), body(deletionTimestamp="2026-01-01T00:00:00Z"))
    assert moved({"metadata": {"uid": "u", "generation": 1}}, body())
    assert moved(body(), body(annotations={"retry.foundry.agents.dev/token": "1"}))
    assert moved(body(), body(uid="v"))


def _failed(reason: str, spec_hash: str = "h") -> HostedAgentStatus:
    cond = Condition(
        type="Ready",
        status=ConditionStatus.FALSE,
        reason=reason,
        message="m",
        last_transition_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return HostedAgentStatus(phase=Phase.FAILED, spec_hash=spec_hash, conditions=[cond])


def test_a_create_foundry_refused_is_not_repeated_for_the_same_spec() -> None:
    assert refused_before(_failed("InvalidSpec"), "h")
    assert not refused_before(_failed("InvalidSpec"), "other-hash")


def test_failures_a_change_outside_kubernetes_can_fix_are_tried_again() -> None:
    for reason in ("AuthenticationFailed", "AgentNameConflict", "EndpointNotFound"):
        assert not refused_before(_failed(reason), "h")
    assert not refused_before(HostedAgentStatus(phase=Phase.READY, spec_hash="h"), "h")


def test_a_ready_agent_keeps_its_status_through_a_transient_outage() -> None:
    ready = HostedAgentStatus(phase=Phase.READY, spec_hash="h")
    assert keeps_status_through_outage(ready, "h")
    # A new spec is not served yet: the outage is reported on it.
    assert not keeps_status_through_outage(ready, "new")
    assert not keeps_status_through_outage(_failed("Throttled"), "h")


def _version(n: int, status: str = "active") -> VersionInfo:
    return VersionInfo(agent="a", version=str(n), status=status)


def test_drift_is_reported_only_for_what_this_spec_had_made_ready() -> None:
    ready = HostedAgentStatus(phase=Phase.READY, spec_hash="h", latest_version="3")
    recreate = drift_event(ready, "h", Plan(Action.CREATE))
    assert recreate is not None and recreate.reason == "DriftDetected"
    assert "Version 3 was deleted" in recreate.message
    rerouted = drift_event(ready, "h", Plan(Action.ROUTE, target=_version(3)))
    assert rerouted is not None and "routing it back" in rerouted.message
    assert drift_event(ready, "other", Plan(Action.CREATE)) is None  # a spec change, not drift
    assert drift_event(_failed("InvalidSpec"), "h", Plan(Action.CREATE)) is None


def test_a_first_version_needs_no_list_to_know_nothing_can_be_pruned() -> None:
    fresh = HostedAgentStatus()
    assert not may_prune(fresh, Plan(Action.ROUTE, ours=(_version(1),)), limit=3)
    many = HostedAgentStatus(
        versions=[
            VersionRecord(version=str(n), spec_hash=f"h{n}", status="active") for n in range(1, 5)
        ]
    )
    assert may_prune(many, Plan(Action.ROUTE, ours=(_version(5),)), limit=3)
