"""Decide the next step for one HostedAgent from what Foundry holds. Pure: no I/O.

The operator finds its own versions by the reserved metadata it stamps on each of them
(owner and spec hash), never by remembering what it did: a crash between creating a version
and writing status therefore never leads to a second version for the same spec.

The owner is the HostedAgent's ``namespace/name``, not its UID: a Retained object applied
again, or one restored from a backup into a new cluster, is the same owner and carries on
with its versions, while any other object (another name or namespace) is not.

An agent holding any version that is not ours, whether another HostedAgent made it or it
was made outside Kubernetes, is a conflict: nothing is created, routed or pruned there;
unless ``spec.adoptionPolicy`` is Adopt and the versions in the way were made outside
Kubernetes (see ``reconcile.policy``): those are adopted, and count as ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ..api.reserved import is_owned_by, spec_hash_of
from .observed import ACTIVE, FAILED, GONE, AgentInfo, VersionInfo
from .policy import ownership, version_hash


class Action(StrEnum):
    CREATE = "Create"  # no version for the current spec yet
    WAIT = "Wait"  # the version for the current spec is still creating
    ROUTE = "Route"  # it is active; move all traffic to it
    READY = "Ready"  # it is active and serving: nothing to do
    FAILED = "Failed"  # Foundry says it failed; a person must change something
    CONFLICT = "Conflict"  # the Foundry agent holds versions that are not ours


@dataclass(frozen=True)
class Plan:
    action: Action
    # The version for the current spec (None when it must be created).
    target: VersionInfo | None = None
    # The version the endpoint sends all traffic to now, when it is one of ours.
    serving: str | None = None
    # Versions this resource created that retention says can go (never the serving one).
    prune: tuple[str, ...] = ()
    # For CONFLICT: "namespace/name" of the other HostedAgent, None when the versions in the
    # way were made outside Kubernetes.
    owner: str | None = None
    foreign_version: str | None = None
    # For FAILED: the newest active version of ours to send traffic to instead, when the
    # endpoint routes to a version that is not (or no longer) active.
    fallback: str | None = None
    # Every version this HostedAgent holds (created and adopted), oldest first.
    ours: tuple[VersionInfo, ...] = field(default=())
    # Which of those were made outside the operator and adopted (spec.adoptionPolicy).
    adopted: tuple[str, ...] = ()


def owned_versions(owner: str, versions: Sequence[VersionInfo]) -> list[VersionInfo]:
    """Versions the HostedAgent ``owner`` (namespace/name) created, oldest first."""
    return sorted(
        (v for v in versions if is_owned_by(v.metadata, owner) and v.status not in GONE),
        key=lambda v: v.number,
    )


def serving_version(agent: AgentInfo | None) -> str | None:
    """The version that takes all traffic, if exactly one does."""
    if agent is None:
        return None
    full = [v for v, pct in agent.routing.items() if pct == 100]
    return full[0] if len(full) == 1 else None


def _prunable(
    ours: Sequence[VersionInfo], keep: set[str], revision_history_limit: int
) -> tuple[str, ...]:
    older = [v for v in ours if v.version not in keep]
    excess = len(older) - revision_history_limit
    return tuple(v.version for v in older[:excess]) if excess > 0 else ()


def plan(
    *,
    owner: str,
    spec_hash: str,
    versions: Sequence[VersionInfo],
    agent: AgentInfo | None,
    revision_history_limit: int,
    adopt: bool = False,
    adopted: Sequence[str] = (),
    prune_adopted: bool = False,
) -> Plan:
    """``adopt``: spec.adoptionPolicy is Adopt; ``adopted``: the versions status recorded as
    adopted earlier (they stay this HostedAgent's); ``prune_adopted``: retention reaches
    them too (spec.adoptedVersions Include)."""
    held = ownership(owner, versions, adopt=adopt, recorded=adopted)
    if held.conflict:
        return Plan(Action.CONFLICT, owner=held.other_owner, foreign_version=held.foreign_version)

    ours = list(held.held)
    serving = serving_version(agent)
    serving_ours = serving if serving in {v.version for v in ours} else None
    matching = [v for v in ours if version_hash(v) == spec_hash]
    adopted_now = tuple(v.version for v in held.adopted)
    if not matching:
        return Plan(Action.CREATE, serving=serving_ours, ours=tuple(ours), adopted=adopted_now)

    target = matching[-1]
    keep = {target.version} | ({serving_ours} if serving_ours else set())
    prunable = ours if prune_adopted else list(held.created)
    prune = _prunable(prunable, keep, revision_history_limit)
    status = target.status
    if status == ACTIVE and serving == target.version:
        action = Action.READY
    elif status == ACTIVE:
        action = Action.ROUTE
    elif status == FAILED:
        action = Action.FAILED
    else:  # creating, or a lifecycle value this operator does not know yet: look again later
        action = Action.WAIT
    return Plan(
        action,
        target,
        serving=serving_ours,
        prune=prune if action is Action.READY else (),
        ours=tuple(ours),
        fallback=_fallback(ours, serving_ours) if action is Action.FAILED else None,
        adopted=adopted_now,
    )


def _fallback(ours: Sequence[VersionInfo], serving: str | None) -> str | None:
    """Where traffic should go when the current spec's version failed: nowhere new while
    the endpoint serves an active version of ours; otherwise the newest active one we own."""
    by_version = {v.version: v for v in ours}
    if serving is not None and by_version[serving].status == ACTIVE:
        return None
    active = [v for v in ours if v.status == ACTIVE]
    return active[-1].version if active else None


def decisive_latest(owner: str, spec_hash: str, agent: AgentInfo | None) -> VersionInfo | None:
    """The agent's latest version when it alone decides the plan: it is ours and made from the
    current spec. Anything foreign would be newer than it (we never create next to foreign
    versions), so no full list is needed to look at an object that is creating or serving."""
    latest = agent.latest if agent is not None else None
    if latest is None or latest.status in GONE:
        return None
    if not is_owned_by(latest.metadata, owner) or spec_hash_of(latest.metadata) != spec_hash:
        return None
    return latest
