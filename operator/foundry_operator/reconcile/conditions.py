"""Status conditions, the Kubernetes way.

- ``lastTransitionTime`` moves only when a condition's status flips; a new reason or message
  alone does not move it.
- Writing the same state twice gives identical output, so the operator can compare before
  patching and make zero writes at steady state.
- Conditions of types we do not manage are kept as they are.

Three types, as design.md describes: ``Ready`` (the current generation's version is active
and serving), ``Progressing`` (a version is being created, traffic is moving, or a transient
error is being retried) and ``Degraded`` (the current generation failed in a way that needs
a person; same reason as ``Ready=False``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from foundry_operator.api.status import Condition, ConditionStatus, Phase
from foundry_operator.reconcile.errors import Reason, clean_message

TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


class ConditionType(StrEnum):
    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"


class StateReason(StrEnum):
    """Reasons for states that are not failures (failures use errors.Reason)."""

    PENDING = "Pending"
    VERSION_CREATING = "VersionCreating"
    VERSION_ACTIVE = "VersionActive"
    ROLLING_OUT = "RollingOut"  # traffic is moving to the new version in steps
    DELETING = "Deleting"
    AS_EXPECTED = "AsExpected"
    SUSPENDED = "Suspended"


@dataclass(frozen=True)
class ConditionUpdate:
    """The part of a condition the operator decides; times and generation are filled in."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


def _second(now: datetime) -> datetime:
    # metav1.Time has second precision; keeping microseconds would make our copy differ from
    # what the apiserver stores and returns, and every comparison would see a change.
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).replace(microsecond=0)


def find_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    update: ConditionUpdate,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """``conditions`` with ``update`` applied (a new list; the input is not modified)."""
    previous = find_condition(conditions, update.type)
    transition = (
        previous.last_transition_time
        if previous is not None and previous.status == update.status
        else _second(now)
    )
    new = Condition(
        # str(): plain strings, so that a condition read back from the apiserver compares
        # equal to one built here from enums.
        type=str(update.type),
        status=update.status,
        reason=str(update.reason),
        message=update.message,
        observed_generation=generation,
        last_transition_time=transition,
    )
    if previous is None:
        return [*conditions, new]
    return [new if c.type == update.type else c for c in conditions]


def merge_conditions(
    conditions: Sequence[Condition],
    updates: Iterable[ConditionUpdate],
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Apply several updates in order (see ``set_condition``)."""
    result = list(conditions)
    for update in updates:
        result = set_condition(result, update, generation=generation, now=now)
    return result


# --- the condition set for each situation -----------------------------------------------


def ready_conditions(message: str = "") -> list[ConditionUpdate]:
    """The current generation's version is active and serving."""
    reason = StateReason.VERSION_ACTIVE
    return [
        ConditionUpdate(ConditionType.READY, TRUE, reason, message),
        ConditionUpdate(ConditionType.PROGRESSING, FALSE, reason, message),
        ConditionUpdate(ConditionType.DEGRADED, FALSE, StateReason.AS_EXPECTED, ""),
    ]


def progressing_conditions(reason: StateReason, message: str = "") -> list[ConditionUpdate]:
    """Work is under way (pending, creating a version, moving traffic, deleting)."""
    return [
        ConditionUpdate(ConditionType.READY, FALSE, reason, message),
        ConditionUpdate(ConditionType.PROGRESSING, TRUE, reason, message),
        ConditionUpdate(ConditionType.DEGRADED, FALSE, StateReason.AS_EXPECTED, ""),
    ]


def suspended_conditions(message: str = "") -> list[ConditionUpdate]:
    """spec.suspend holds the agent disabled: not Ready, nothing in progress, nothing wrong."""
    reason = StateReason.SUSPENDED
    return [
        ConditionUpdate(ConditionType.READY, FALSE, reason, message),
        ConditionUpdate(ConditionType.PROGRESSING, FALSE, reason, message),
        ConditionUpdate(ConditionType.DEGRADED, FALSE, StateReason.AS_EXPECTED, ""),
    ]


def failure_message(reason: Reason, message: str) -> str:
    """What happened, then what to do: the message people read on the conditions."""
    text = clean_message(message).rstrip(". ")
    return f"{text}. {reason.remediation}" if text else reason.remediation


def failure_conditions(reason: Reason, message: str = "") -> list[ConditionUpdate]:
    """The current generation failed. Transient reasons keep Progressing=True (retrying);
    reasons that need a person set Degraded=True with the same reason as Ready=False."""
    text = failure_message(reason, message)
    return [
        ConditionUpdate(ConditionType.READY, FALSE, reason, text),
        ConditionUpdate(
            ConditionType.PROGRESSING, TRUE if reason.transient else FALSE, reason, text
        ),
        ConditionUpdate(
            ConditionType.DEGRADED,
            TRUE if reason.needs_person else FALSE,
            reason if reason.needs_person else StateReason.AS_EXPECTED,
            text if reason.needs_person else "",
        ),
    ]


_PHASE_DEFAULT_REASON: dict[Phase, StateReason] = {
    Phase.PENDING: StateReason.PENDING,
    Phase.PROVISIONING: StateReason.VERSION_CREATING,
    Phase.DELETING: StateReason.DELETING,
}


def conditions_for_phase(
    phase: Phase,
    *,
    reason: Reason | StateReason | None = None,
    message: str = "",
) -> list[ConditionUpdate]:
    """The Ready/Progressing/Degraded set for a phase.

    ``reason`` refines it: a ``Reason`` (a failure) in any phase gives the failure set, so a
    throttled create during Provisioning reads Ready=False/Throttled, Progressing=True. A
    ``StateReason`` replaces the phase's default reason (e.g. RoutingTraffic while
    Provisioning). Phase Failed requires a ``Reason``.
    """
    if isinstance(reason, Reason):
        return failure_conditions(reason, message)
    if phase is Phase.READY:
        return ready_conditions(message)
    if phase is Phase.SUSPENDED:
        return suspended_conditions(message)
    if phase is Phase.FAILED:
        raise ValueError("phase Failed needs a failure Reason")
    return progressing_conditions(reason or _PHASE_DEFAULT_REASON[phase], message)


def apply_phase(
    conditions: Sequence[Condition],
    phase: Phase,
    *,
    generation: int | None,
    now: datetime,
    reason: Reason | StateReason | None = None,
    message: str = "",
) -> list[Condition]:
    """``conditions`` updated to describe ``phase`` (the usual one-call entry point)."""
    updates = conditions_for_phase(phase, reason=reason, message=message)
    return merge_conditions(conditions, updates, generation=generation, now=now)
