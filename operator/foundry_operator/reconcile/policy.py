"""spec.managementPolicy and spec.adoptionPolicy: how far the operator may act. Pure.

Three management policies, checked before anything else a reconcile does:

- ``Manage``: create, route, prune and delete as the spec says (what the operator always did).
- ``ObserveOnly``: read the Foundry agent and report; no write to Foundry ever, not even on
  deletion. A missing agent is reported (``AgentNotFound``), not created.
- ``Paused``: no Foundry call at all. Status gains ``Paused=True`` and otherwise keeps what
  it said, ``Ready`` included. Deleting a paused HostedAgent is the one exception: the
  deletion itself is the person's explicit request, so it proceeds as ``deletionPolicy``
  says, after one logged decision (:func:`deletion`).

Adoption decides whom the versions of an agent belong to (:func:`ownership`). ``Never``
keeps the ownership model of issue #10: any version not stamped with this HostedAgent's
``namespace/name`` is a conflict. ``Adopt`` takes over versions made outside the operator
(no reserved metadata), never those stamped by another HostedAgent. Versions adopted once
are recorded in ``status.adoptedVersions`` and stay this HostedAgent's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from ..api.reserved import METADATA_REF, is_managed, is_owned_by, spec_hash_of
from ..api.spec import DeletionPolicy, ManagementPolicy
from ..api.status import ADOPTED_VERSIONS_MAX, Condition, ConditionStatus, HostedAgentStatus
from .adopt import content_hash
from .conditions import ConditionUpdate, set_condition
from .observed import ACTIVE, GONE, AgentInfo, VersionInfo

PAUSED_CONDITION: Final = "Paused"
DRIFTED_CONDITION: Final = "Drifted"
# The condition each policy owns; the others drop theirs when the policy changes.
_POLICY_CONDITIONS: Final = {
    ManagementPolicy.PAUSED: PAUSED_CONDITION,
    ManagementPolicy.OBSERVE_ONLY: DRIFTED_CONDITION,
}


class DriftReason(StrEnum):
    IN_SYNC = "InSync"
    AGENT_NOT_FOUND = "AgentNotFound"
    NO_MATCHING_VERSION = "NoMatchingVersion"  # no version of the agent is what the spec asks
    VERSION_NOT_ACTIVE = "VersionNotActive"  # the matching version is creating or failed
    NOT_SERVING = "NotServing"  # it is active, but the endpoint routes elsewhere
    ENDPOINT_SETTINGS = "EndpointSettings"  # spec.endpoint differs from the agent endpoint
    UNKNOWN = "Unknown"  # the spec could not be resolved (a missing Secret, say)


def may_call_foundry(policy: ManagementPolicy) -> bool:
    return policy is not ManagementPolicy.PAUSED


def may_write_foundry(policy: ManagementPolicy) -> bool:
    return policy is ManagementPolicy.MANAGE


def without_other_policy_conditions(
    conditions: Sequence[Condition], policy: ManagementPolicy
) -> list[Condition]:
    """The conditions with those of the policies not in force removed: a HostedAgent that
    was never paused or observed carries neither, so adding the policies costs a fleet no
    status write."""
    mine = _POLICY_CONDITIONS.get(policy)
    others = {c for p, c in _POLICY_CONDITIONS.items() if c != mine}
    return [c for c in conditions if c.type not in others]


def paused_message() -> str:
    return (
        "spec.managementPolicy is Paused: the operator makes no Foundry call and status keeps "
        "its last values; set it to Manage to reconcile again. Deleting the resource still "
        "follows deletionPolicy"
    )


def paused_conditions(
    conditions: Sequence[Condition], *, generation: int | None, now: datetime
) -> list[Condition]:
    """``conditions`` with ``Paused=True`` (any other policy's condition dropped)."""
    return set_condition(
        without_other_policy_conditions(conditions, ManagementPolicy.PAUSED),
        ConditionUpdate(PAUSED_CONDITION, ConditionStatus.TRUE, "Paused", paused_message()),
        generation=generation,
        now=now.astimezone(UTC),
    )


def paused_status(
    previous: HostedAgentStatus, *, generation: int | None, agent: str, now: datetime
) -> HostedAgentStatus:
    """Status while paused: what it said, plus ``Paused=True``. ``observedGeneration``
    moves (the operator did look at this spec, and decided to do nothing), Ready and the
    other conditions keep theirs, so their own ``observedGeneration`` says which spec they
    describe."""
    return previous.model_copy(
        update={
            "observed_generation": generation,
            "agent_name": previous.agent_name or agent,
            "conditions": paused_conditions(previous.conditions, generation=generation, now=now),
        }
    )


# --- deletion -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deletion:
    """What deleting the HostedAgent does in Foundry, and the line that says why."""

    delete_in_foundry: bool
    # Logged (and posted as an Event) once, when the policy is anything but Manage.
    message: str | None = None


def deletion(policy: ManagementPolicy, deletion_policy: StrEnum, what: str) -> Deletion:
    """The one decision a deletion makes (``what``: "Foundry agent 'x'", say). Paused
    never blocks a deletion (Crossplane's paused resources that cannot be deleted are the
    trap to avoid): the request to delete is itself the explicit instruction. ObserveOnly
    never writes, so it deletes nothing. ``deletion_policy`` is a HostedAgent's or a
    FoundryToolbox's (each kind has its own enum; both say Delete or Retain)."""
    if policy is ManagementPolicy.OBSERVE_ONLY:
        return Deletion(
            False,
            f"managementPolicy is ObserveOnly: {what} and its versions are left as they are "
            "and the finalizer is released",
        )
    delete = str(deletion_policy) == str(DeletionPolicy.DELETE)
    if policy is ManagementPolicy.PAUSED:
        action = (
            f"deleting the versions it created of {what} (deletionPolicy Delete)"
            if delete
            else f"keeping {what} (deletionPolicy Retain)"
        )
        return Deletion(
            delete,
            f"managementPolicy is Paused, but deleting the resource is an explicit "
            f"request: {action}, then releasing the finalizer",
        )
    return Deletion(delete)


# --- ownership and adoption ---------------------------------------------------------------


@dataclass(frozen=True)
class Ownership:
    """Whose the live versions of one agent are, for one HostedAgent."""

    # Created by this HostedAgent, oldest first.
    created: tuple[VersionInfo, ...] = ()
    # Made outside the operator and adopted (now, or recorded earlier), oldest first.
    adopted: tuple[VersionInfo, ...] = ()
    # The conflict, if any: the newest version in the way and, when another HostedAgent
    # stamped it, that HostedAgent's namespace/name.
    foreign_version: str | None = None
    other_owner: str | None = None

    @property
    def conflict(self) -> bool:
        return self.foreign_version is not None

    @property
    def held(self) -> tuple[VersionInfo, ...]:
        """Every version this HostedAgent holds, oldest first."""
        return tuple(sorted((*self.created, *self.adopted), key=lambda v: v.number))


def ownership(
    owner: str,
    versions: Iterable[VersionInfo],
    *,
    adopt: bool,
    recorded: Iterable[str] = (),
) -> Ownership:
    live = sorted((v for v in versions if v.status not in GONE), key=lambda v: v.number)
    created = tuple(v for v in live if is_owned_by(v.metadata, owner))
    others = [v for v in live if is_managed(v.metadata) and not is_owned_by(v.metadata, owner)]
    if others:
        last = others[-1]
        return Ownership(created, (), last.version, last.metadata.get(METADATA_REF) or None)
    known = set(recorded)
    unmanaged = [v for v in live if not is_managed(v.metadata)]
    if not adopt:
        stray = [v for v in unmanaged if v.version not in known]
        if stray:
            return Ownership(created, (), stray[-1].version, None)
    return Ownership(created, tuple(unmanaged))


def version_hash(version: VersionInfo) -> str | None:
    """The spec hash a version answers to: stamped by the operator, or computed for one
    made outside it."""
    if is_managed(version.metadata):
        return spec_hash_of(version.metadata)
    return content_hash(version) or version.recorded_hash


def adopted_record(previous: Sequence[str], adopted: Sequence[str], *, complete: bool) -> list[str]:
    """status.adoptedVersions: the versions adopted so far, oldest first. A full listing
    also forgets those that are gone; a partial look only adds."""
    seen = set(adopted)
    kept = seen if complete else seen | set(previous)
    ordered = sorted(kept, key=lambda v: (int(v) if v.isdigit() else -1, v))
    return ordered[-ADOPTED_VERSIONS_MAX:]


# --- observing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    reason: DriftReason
    message: str
    # The version the spec's hash matches, if any.
    matching: VersionInfo | None = None

    @property
    def drifted(self) -> bool:
        return self.reason is not DriftReason.IN_SYNC


def serving_of(agent: AgentInfo | None) -> str | None:
    if agent is None:
        return None
    full = [v for v, pct in agent.routing.items() if pct == 100]
    return full[0] if len(full) == 1 else None


def drift(
    *,
    spec_hash: str | None,
    versions: Sequence[VersionInfo],
    agent: AgentInfo | None,
    endpoint_in_step: bool,
) -> Drift:
    """How the Foundry agent differs from what the spec asks for (ObserveOnly's report).
    ``spec_hash`` None: the spec could not be resolved, so whether it matches is unknown."""
    if agent is None:
        return Drift(
            DriftReason.AGENT_NOT_FOUND,
            "The Foundry agent does not exist; ObserveOnly does not create it",
        )
    if spec_hash is None:
        return Drift(DriftReason.UNKNOWN, "The spec could not be resolved to compare it")
    live = sorted((v for v in versions if v.status not in GONE), key=lambda v: v.number)
    matching = [v for v in live if version_hash(v) == spec_hash]
    if not matching:
        newest = live[-1].version if live else None
        where = f" (newest version: {newest})" if newest else ""
        return Drift(
            DriftReason.NO_MATCHING_VERSION,
            f"No version of the agent is what the spec asks for{where}; Manage would create one",
        )
    target = matching[-1]
    if target.status != ACTIVE:
        return Drift(
            DriftReason.VERSION_NOT_ACTIVE,
            f"Version {target.version} matches the spec but is {target.status}",
            target,
        )
    serving = serving_of(agent)
    if serving != target.version:
        routed = " ".join(f"{v}:{p}%" for v, p in sorted(agent.routing.items())) or "nothing"
        return Drift(
            DriftReason.NOT_SERVING,
            f"Version {target.version} matches the spec, but the endpoint routes {routed}",
            target,
        )
    if not endpoint_in_step:
        return Drift(
            DriftReason.ENDPOINT_SETTINGS,
            "The agent endpoint's settings differ from spec.endpoint",
            target,
        )
    return Drift(
        DriftReason.IN_SYNC, f"Version {target.version} matches the spec and serves", target
    )


def drifted_condition(found: Drift) -> ConditionUpdate:
    status = ConditionStatus.TRUE if found.drifted else ConditionStatus.FALSE
    if found.reason is DriftReason.UNKNOWN:
        status = ConditionStatus.UNKNOWN
    return ConditionUpdate(DRIFTED_CONDITION, status, str(found.reason), found.message)
