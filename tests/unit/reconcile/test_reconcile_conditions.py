"""Conditions behave like a built-in type's: stable timestamps, idempotent writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from foundry_operator.api.status import Condition, ConditionStatus, HostedAgentStatus, Phase
from foundry_operator.reconcile.conditions import (
    ConditionType,
    ConditionUpdate,
    StateReason,
    apply_phase,
    conditions_for_phase,
    find_condition,
    merge_conditions,
    set_condition,
)
from foundry_operator.reconcile.errors import Reason

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def status_of(conditions: list[Condition], type_: str) -> tuple[str, str]:
    c = find_condition(conditions, type_)
    assert c is not None
    return c.status.value, c.reason


def test_condition_transition_time_kept_when_status_unchanged() -> None:
    first = set_condition(
        [], ConditionUpdate("Ready", FALSE, "VersionCreating"), generation=1, now=T0
    )
    second = set_condition(
        first,
        ConditionUpdate("Ready", FALSE, "ImagePullBackOff", "pull failed"),
        generation=2,
        now=T1,
    )
    (c,) = second
    assert c.last_transition_time == first[0].last_transition_time
    assert (c.reason, c.message, c.observed_generation) == ("ImagePullBackOff", "pull failed", 2)


def test_transition_time_moves_when_status_flips() -> None:
    first = set_condition(
        [], ConditionUpdate("Ready", FALSE, "VersionCreating"), generation=1, now=T0
    )
    flipped = set_condition(
        first, ConditionUpdate("Ready", TRUE, "VersionActive"), generation=1, now=T1
    )
    assert flipped[0].last_transition_time == T1.replace(microsecond=0)


def test_timestamps_have_second_precision_like_metav1_time() -> None:
    (c,) = set_condition([], ConditionUpdate("Ready", TRUE, "VersionActive"), generation=1, now=T0)
    assert c.last_transition_time.microsecond == 0
    dumped = c.model_dump(by_alias=True, mode="json")
    assert dumped["lastTransitionTime"] == "2026-01-01T12:00:00Z"


def test_writing_the_same_state_twice_is_identical() -> None:
    once = apply_phase([], Phase.READY, generation=3, now=T0)
    twice = apply_phase(once, Phase.READY, generation=3, now=T1)
    assert twice == once
    # Also after a round trip through the apiserver's JSON.
    status = HostedAgentStatus(conditions=once).model_dump(by_alias=True, mode="json")
    reread = HostedAgentStatus.model_validate(status).conditions
    assert apply_phase(reread, Phase.READY, generation=3, now=T1) == reread


def test_unmanaged_condition_types_are_preserved() -> None:
    foreign = Condition(
        type="Synced", status=TRUE, reason="ArgoSynced", message="", last_transition_time=T0
    )
    result = apply_phase([foreign], Phase.READY, generation=1, now=T1)
    assert result[0] == foreign
    assert [c.type for c in result] == ["Synced", "Ready", "Progressing", "Degraded"]


def test_inputs_are_not_mutated() -> None:
    before = apply_phase([], Phase.PROVISIONING, generation=1, now=T0)
    snapshot = [c.model_copy() for c in before]
    apply_phase(before, Phase.READY, generation=2, now=T1)
    assert before == snapshot


def test_ready_phase_sets_ready_true_and_nothing_else() -> None:
    result = apply_phase([], Phase.READY, generation=1, now=T0)
    assert status_of(result, "Ready") == ("True", "VersionActive")
    assert status_of(result, "Progressing") == ("False", "VersionActive")
    assert status_of(result, "Degraded") == ("False", "AsExpected")


def test_provisioning_is_progressing_not_ready() -> None:
    result = apply_phase([], Phase.PROVISIONING, generation=1, now=T0)
    assert status_of(result, "Ready") == ("False", "VersionCreating")
    assert status_of(result, "Progressing") == ("True", "VersionCreating")
    assert status_of(result, "Degraded")[0] == "False"
    routed = apply_phase(
        [], Phase.PROVISIONING, generation=1, now=T0, reason=StateReason.VERSION_CREATING
    )
    assert status_of(routed, "Progressing") == ("True", "VersionCreating")


def test_image_pull_failure_sets_degraded_with_remediation() -> None:
    result = apply_phase(
        [],
        Phase.FAILED,
        generation=2,
        now=T0,
        reason=Reason.IMAGE_PULL_BACK_OFF,
        message="Failed to pull image acr.azurecr.io/a:1",
    )
    assert status_of(result, "Ready") == ("False", "ImagePullBackOff")
    assert status_of(result, "Progressing") == ("False", "ImagePullBackOff")
    assert status_of(result, "Degraded") == ("True", "ImagePullBackOff")
    degraded = find_condition(result, "Degraded")
    assert degraded is not None
    assert degraded.message.startswith("Failed to pull image acr.azurecr.io/a:1. ")
    assert "AcrPull" in degraded.message


def test_transient_failure_keeps_progressing_and_is_not_degraded() -> None:
    result = apply_phase([], Phase.PROVISIONING, generation=1, now=T0, reason=Reason.THROTTLED)
    assert status_of(result, "Ready") == ("False", "Throttled")
    assert status_of(result, "Progressing") == ("True", "Throttled")
    assert status_of(result, "Degraded") == ("False", "AsExpected")


def test_missing_secret_is_retried_but_needs_a_person() -> None:
    result = apply_phase([], Phase.PENDING, generation=1, now=T0, reason=Reason.SECRET_NOT_FOUND)
    assert status_of(result, "Progressing") == ("True", "SecretNotFound")
    assert status_of(result, "Degraded") == ("True", "SecretNotFound")


def test_deleting_phase() -> None:
    result = apply_phase([], Phase.DELETING, generation=1, now=T0)
    assert status_of(result, "Ready") == ("False", "Deleting")
    assert status_of(result, "Progressing") == ("True", "Deleting")


def test_failed_phase_requires_a_reason() -> None:
    with pytest.raises(ValueError, match="Reason"):
        conditions_for_phase(Phase.FAILED)


def test_every_phase_yields_the_three_condition_types() -> None:
    for phase in Phase:
        reason = Reason.INVALID_SPEC if phase is Phase.FAILED else None
        types = [u.type for u in conditions_for_phase(phase, reason=reason)]
        assert types == [ConditionType.READY, ConditionType.PROGRESSING, ConditionType.DEGRADED]


def test_reasons_written_are_valid_condition_reasons() -> None:
    # The CRD pattern for reason; a bad reason would make the whole status patch fail.
    import re

    pattern = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    for reason in [*Reason, *StateReason]:
        assert pattern.fullmatch(str(reason)), reason


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        merge_conditions(
            [],
            [ConditionUpdate("Ready", TRUE, "VersionActive")],
            generation=1,
            now=datetime(2026, 1, 1),
        )
