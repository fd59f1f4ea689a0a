"""Turn a decision into the HostedAgent's status and the Events a person should see. Pure.

The one place that writes status. Writing the same state twice gives the same document
(condition times only move when a status flips), so a resync with nothing new changes
nothing and watchers such as Argo CD see no churn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel

from ..api.reserved import is_managed
from ..api.status import (
    STATUS_VERSION_HISTORY_MAX,
    Condition,
    HostedAgentStatus,
    LastError,
    Phase,
    ProbeStatus,
    RolloutStatus,
    TrafficShare,
    VersionRecord,
)
from .conditions import StateReason, apply_phase
from .errors import Failure
from .observed import VersionInfo
from .policy import version_hash
from .publish import Seen


@dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


class Keep:
    """Marks a Report field that leaves status as it was."""


KEEP: Final = Keep()


@dataclass(frozen=True)
class Report:
    """Everything the operator wants to say about one HostedAgent after a reconcile."""

    phase: Phase
    agent_name: str
    spec_hash: str | None = None
    reason: StateReason | None = None
    message: str = ""
    failure: Failure | None = None
    target: VersionInfo | None = None
    serving: str | None = None
    ours: Sequence[VersionInfo] = ()
    events: tuple[Event, ...] = field(default=())
    # The endpoint's split as Foundry last answered (None: not looked at, keep what status has)
    traffic: Mapping[str, int] | None = None
    # status.rollout and status.probe as they should be now (KEEP: unchanged)
    rollout: RolloutStatus | Keep | None = KEEP
    probe: ProbeStatus | Keep | None = KEEP
    # What the look at the Foundry agent found for status.endpoint, identity and suspended;
    # None when this reconcile did not look (status keeps what it said).
    seen: Seen | None = None
    # status.adoptedVersions as it should be now (None: unchanged).
    adopted: Sequence[str] | None = None


def traffic_shares(routing: Mapping[str, int]) -> list[TrafficShare]:
    """The split, largest share first (then newest version first)."""
    ordered = sorted(
        ((pct, v) for v, pct in routing.items() if pct > 0),
        key=lambda item: (-item[0], -_number(item[1])),
    )
    return [TrafficShare(version=v, weight=pct) for pct, v in ordered]


def traffic_summary(shares: Sequence[TrafficShare]) -> str | None:
    return " ".join(f"{s.version}:{s.weight}%" for s in shares) or None


def _number(version: str) -> int:
    return int(version) if version.isdigit() else 0


def load_status(raw: Mapping[str, Any] | None) -> HostedAgentStatus:
    """The status as stored, tolerating anything an older or newer operator wrote."""
    try:
        return HostedAgentStatus.model_validate(dict(raw or {}))
    except ValueError:
        return HostedAgentStatus()


def _history(ours: Sequence[VersionInfo]) -> list[VersionRecord]:
    newest_first = sorted(ours, key=lambda v: v.number, reverse=True)
    return [
        VersionRecord(
            version=v.version,
            spec_hash=version_hash(v) or "",
            status=v.status,
            created_at=datetime.fromtimestamp(v.created_at, UTC) if v.created_at else None,
            adopted=None if is_managed(v.metadata) else True,
        )
        for v in newest_first[:STATUS_VERSION_HISTORY_MAX]
    ]


def build_status(
    previous: HostedAgentStatus,
    report: Report,
    *,
    generation: int | None,
    now: datetime,
) -> HostedAgentStatus:
    failure = report.failure
    message = report.message
    if failure:
        # A failure's own words first; the report's message still says what else holds
        # (e.g. the version that keeps serving while a Secret is missing).
        message = f"{failure.message.rstrip('. ')}; {message}" if message else failure.message
    conditions: list[Condition] = apply_phase(
        previous.conditions,
        report.phase,
        generation=generation,
        now=now,
        reason=failure.reason if failure else report.reason,
        message=message,
    )
    target = report.target
    traffic = traffic_shares(report.traffic) if report.traffic is not None else previous.traffic
    seen = report.seen
    return HostedAgentStatus(
        observed_generation=generation,
        agent_name=report.agent_name,
        phase=report.phase,
        # Keep what we knew when this reconcile could not look (e.g. Foundry was down).
        latest_version=target.version if target else previous.latest_version,
        serving_version=report.serving if report.ours else previous.serving_version,
        version_status=target.status if target else previous.version_status,
        spec_hash=report.spec_hash or previous.spec_hash,
        conditions=conditions,
        last_error=(
            LastError(code=failure.code, message=failure.message, remediation=failure.remediation)
            if failure
            else None
        ),
        versions=_history(report.ours) if report.ours else previous.versions,
        adopted_versions=(
            list(report.adopted) if report.adopted is not None else previous.adopted_versions
        ),
        traffic=traffic,
        traffic_summary=traffic_summary(traffic),
        rollout=previous.rollout if isinstance(report.rollout, Keep) else report.rollout,
        probe=previous.probe if isinstance(report.probe, Keep) else report.probe,
        endpoint=seen.endpoint if seen is not None else previous.endpoint,
        identity=seen.identity if seen is not None else previous.identity,
        suspended=(seen.suspended or None) if seen is not None else previous.suspended,
        # The endpoint ConfigMap step (after this) says otherwise when it changes.
        endpoint_config_map_name=previous.endpoint_config_map_name,
        # The toolbox step (after this) says otherwise when it looked.
        toolbox=previous.toolbox,
        owned_toolbox=previous.owned_toolbox,
    )


def status_patch(status: BaseModel) -> dict[str, Any]:
    """The status as a merge-patch body: fields now unset are sent as null, so they clear."""
    return status.model_dump(mode="json", by_alias=True)


def transition_events(previous: HostedAgentStatus, report: Report) -> list[Event]:
    """Events for changes a person should know about, and only for changes."""
    events = list(report.events)
    old_reason = previous.last_error.code if previous.last_error else None
    failure = report.failure
    if failure and (previous.phase != report.phase or old_reason != failure.code):
        events.append(
            Event(
                "Warning",
                str(failure.reason),
                f"{failure.message.rstrip('.')}. {failure.remediation}",
            )
        )
    elif report.phase is Phase.READY and previous.phase is not Phase.READY:
        version = report.target.version if report.target else "?"
        events.append(Event("Normal", "Ready", f"Version {version} is active and serving"))
    return events
