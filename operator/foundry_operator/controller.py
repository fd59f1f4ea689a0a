"""One reconcile of one HostedAgent: observe Foundry, plan, act, report.

This module sequences I/O; every decision is delegated to the pure modules in
``reconcile/``. It returns an :class:`Outcome` and never touches Kubernetes itself: the
kopf handlers write the status, post the Events and schedule the next look.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from . import metrics
from .api.resource import RETRY_ANNOTATION
from .api.spec import DeletionPolicy, HostedAgentSpec, resolve_agent_name
from .api.status import HostedAgentStatus, Phase
from .foundry.client import FoundryClient, FoundryError
from .reconcile import backoff
from .reconcile.conditions import StateReason
from .reconcile.desired import DesiredVersion, MissingEnvValue, create_version_body, desired_version
from .reconcile.errors import (
    Failure,
    Reason,
    clean_message,
    describe_http_error,
    describe_version_error,
)
from .reconcile.observed import GONE, AgentInfo, VersionInfo
from .reconcile.plan import Action, Plan, owned_versions, plan, serving_version
from .reconcile.report import Event, Report, build_status, load_status, transition_events

log = logging.getLogger("foundry_operator.controller")

# Create, route and confirm can happen in one pass when Foundry answers quickly; this bounds
# the loop so a misbehaving service can never keep one reconcile spinning.
_MAX_STEPS = 4


@dataclass(frozen=True)
class Resource:
    """The parts of a HostedAgent a reconcile reads."""

    uid: str
    namespace: str
    name: str
    generation: int | None
    spec: Mapping[str, Any]
    status: Mapping[str, Any] | None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    """How closely to follow a version that is being created (from the settings)."""

    poll_base: float = backoff.POLL_BASE_SECONDS
    poll_cap: float = backoff.POLL_CAP_SECONDS

    def poll(self, attempt: int) -> float:
        return backoff.poll_delay(attempt, base=self.poll_base, cap=self.poll_cap)


@dataclass(frozen=True)
class Outcome:
    status: HostedAgentStatus
    events: list[Event]
    # Seconds until the next look; None when nothing will change without a new event.
    requeue_after: float | None
    result: str  # for metrics: ready, progressing, failed, retry, conflict


def _now() -> datetime:
    return datetime.now(UTC)


def _finish(
    resource: Resource,
    previous: HostedAgentStatus,
    report: Report,
    requeue_after: float | None,
    result: str,
) -> Outcome:
    status = build_status(previous, report, generation=resource.generation, now=_now())
    return Outcome(status, transition_events(previous, report), requeue_after, result)


async def reconcile(
    client: FoundryClient,
    resource: Resource,
    *,
    env_values: Mapping[str, str],
    missing_env: Sequence[str] = (),
    attempt: int,
    timing: Timing = Timing(),
    resync: bool = False,
) -> Outcome:
    """``env_values`` holds the resolved ``valueFrom`` variables; ``missing_env`` says which
    referenced Secrets/ConfigMaps (or keys) could not be read. ``resync`` marks the periodic
    look at a settled object: it never repeats a create that Foundry refused for this spec
    (a terminal failure waits for a new spec, value or retry annotation)."""
    previous = load_status(resource.status)
    try:
        spec = HostedAgentSpec.model_validate(dict(resource.spec))
        agent = resolve_agent_name(spec, resource.name)
    except ValueError as exc:
        # The CRD rejects almost everything first; this catches an older CRD in the cluster.
        failure = Failure(Reason.INVALID_SPEC, "InvalidSpec", clean_message(_first_error(exc)))
        report = Report(Phase.FAILED, resource.name, failure=failure)
        return _finish(resource, previous, report, None, "failed")
    secrets = list(env_values.values())
    try:
        if missing_env:
            raise MissingEnvValue("; ".join(missing_env))
        desired = desired_version(
            spec, env_values, retry_token=resource.annotations.get(RETRY_ANNOTATION)
        )
    except MissingEnvValue as exc:
        # Someone may be creating the Secret right now: look again with backoff, and the
        # ref watch brings us back as soon as it appears.
        message = "; ".join(missing_env) if missing_env else str(exc)
        failure = Failure(Reason.SECRET_NOT_FOUND, "SecretNotFound", message)
        report = Report(Phase.PENDING, agent, failure=failure)
        return _finish(resource, previous, report, backoff.backoff_delay(attempt), "retry")

    try:
        return await _converge(
            client, resource, previous, spec, agent, desired, attempt, timing, resync
        )
    except FoundryError as err:
        failure = describe_http_error(err.status, err.code, err.message, secret_values=secrets)
        phase = Phase.PROVISIONING if failure.transient else Phase.FAILED
        report = Report(phase, agent, spec_hash=desired.spec_hash, failure=failure)
        delay = (
            backoff.backoff_delay(attempt, retry_after=err.retry_after)
            if failure.transient
            else None
        )
        log.warning(
            "Foundry call failed: %s",
            clean_message(str(err), secrets),
            extra={"agent": agent, "reason": str(failure.reason)},
        )
        return _finish(resource, previous, report, delay, "retry" if delay else "failed")


async def _converge(
    client: FoundryClient,
    resource: Resource,
    previous: HostedAgentStatus,
    spec: HostedAgentSpec,
    agent: str,
    desired: DesiredVersion,
    attempt: int,
    timing: Timing,
    resync: bool,
) -> Outcome:
    versions = await client.list_versions(agent)
    agent_info = await client.get_agent(agent) if versions else None
    events: list[Event] = []
    for _ in range(_MAX_STEPS):
        decision = plan(
            uid=resource.uid,
            spec_hash=desired.spec_hash,
            versions=versions,
            agent=agent_info,
            revision_history_limit=spec.revision_history_limit,
        )
        base = Report(
            Phase.PROVISIONING,
            agent,
            spec_hash=desired.spec_hash,
            target=decision.target,
            serving=decision.serving,
            ours=decision.ours,
        )
        extra = {"agent": agent, "version": decision.target.version if decision.target else None}

        if decision.action is Action.CONFLICT:
            failure = Failure(
                Reason.AGENT_NAME_CONFLICT,
                "AgentNameConflict",
                f"Foundry agent {agent!r} is managed by HostedAgent {decision.owner}",
            )
            report = Report(Phase.FAILED, agent, spec_hash=desired.spec_hash, failure=failure)
            return _finish(resource, previous, report, None, "conflict")

        drift = _drift(previous, desired.spec_hash, decision)
        if drift is not None:
            events.append(drift)
            log.warning(drift.message, extra=extra)

        if (
            decision.action is Action.CREATE
            and resync
            and previous.phase is Phase.FAILED
            and previous.spec_hash == desired.spec_hash
        ):
            # Foundry refused this exact spec before: report what we know, create nothing.
            return Outcome(previous, [], None, "failed")

        if decision.action is Action.CREATE:
            body = create_version_body(
                desired, uid=resource.uid, namespace=resource.namespace, name=resource.name
            )
            created = await client.create_version(
                agent, body["definition"], body["metadata"], body.get("description")
            )
            log.info(
                "created version %s", created.version, extra={**extra, "version": created.version}
            )
            events.append(
                Event("Normal", "VersionCreated", f"Created Foundry version {created.version}")
            )
            versions = [*versions, created]
            continue

        if decision.action is Action.ROUTE:
            assert decision.target is not None
            _observe_provisioning(previous, decision.target)
            await client.route(
                agent, decision.target.version, [p.protocol.value for p in spec.protocols]
            )
            log.info("routed all traffic to version %s", decision.target.version, extra=extra)
            events.append(
                Event(
                    "Normal",
                    "TrafficRouted",
                    f"Agent endpoint routes 100% to version {decision.target.version}",
                )
            )
            agent_info = AgentInfo(name=agent, routing={decision.target.version: 100})
            continue

        report = replace(base, events=tuple(events))
        if decision.action is Action.WAIT:
            report = replace(
                report,
                reason=StateReason.VERSION_CREATING,
                message=f"Version {extra['version']} is being created",
            )
            return _finish(resource, previous, report, timing.poll(attempt), "progressing")
        if decision.action is Action.FAILED:
            assert decision.target is not None
            _observe_provisioning(previous, decision.target)
            failure = describe_version_error(
                decision.target.error_code, decision.target.error_message
            )
            report = replace(report, phase=Phase.FAILED, failure=failure)
            return _finish(resource, previous, report, None, "failed")
        # READY: retention last, so the serving version is settled before anything goes.
        for version in decision.prune:
            await client.delete_version(agent, version)
        if decision.prune:
            pruned = ", ".join(decision.prune)
            log.info("pruned versions %s", pruned, extra=extra)
            kept = tuple(v for v in decision.ours if v.version not in decision.prune)
            report = replace(
                report,
                ours=kept,
                events=(
                    *report.events,
                    Event(
                        "Normal",
                        "VersionsPruned",
                        f"Deleted old versions {pruned} "
                        f"(revisionHistoryLimit {spec.revision_history_limit})",
                    ),
                ),
            )
        report = replace(report, phase=Phase.READY)
        return _finish(resource, previous, report, None, "ready")

    # Only reached if Foundry keeps changing under us; look again soon.
    report = Report(Phase.PROVISIONING, agent, spec_hash=desired.spec_hash, events=tuple(events))
    return _finish(resource, previous, report, timing.poll(attempt), "progressing")


def _observe_provisioning(previous: HostedAgentStatus, target: VersionInfo) -> None:
    """Time from creation to active/failed, counted once: when we first see it settle."""
    first_sight = previous.latest_version != target.version or previous.version_status in (
        None,
        "creating",
    )
    if first_sight and target.created_at:
        outcome = "active" if target.status == "active" else "failed"
        metrics.PROVISIONING.labels(outcome).observe(max(0.0, time.time() - target.created_at))


def _drift(previous: HostedAgentStatus, spec_hash: str, decision: Plan) -> Event | None:
    """An Event when Foundry no longer matches what this resource had made Ready."""
    if previous.phase is not Phase.READY or previous.spec_hash != spec_hash:
        return None
    if decision.action is Action.CREATE:
        return Event(
            "Warning",
            "DriftDetected",
            f"Version {previous.latest_version} was deleted outside the operator; "
            "creating a new version for the same spec",
        )
    if decision.action is Action.ROUTE and decision.target is not None:
        return Event(
            "Warning",
            "DriftDetected",
            f"Traffic was moved away from version {decision.target.version} outside the "
            "operator; routing it back",
        )
    return None


def _first_error(exc: ValueError) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg', 'invalid')}"


# --- deletion ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteOutcome:
    done: bool
    status: HostedAgentStatus | None
    events: list[Event]
    requeue_after: float | None


async def delete(client: FoundryClient, resource: Resource, *, attempt: int) -> DeleteOutcome:
    """Delete what this resource created, per ``deletionPolicy``; retried until done."""
    previous = load_status(resource.status)
    try:
        spec = HostedAgentSpec.model_validate(dict(resource.spec))
        policy = spec.deletion_policy
        agent = previous.agent_name or resolve_agent_name(spec, resource.name)
    except ValueError:
        policy = DeletionPolicy.DELETE
        agent = previous.agent_name or resource.name
    if policy is DeletionPolicy.RETAIN:
        event = Event("Normal", "Retained", f"Foundry agent {agent!r} and its versions were kept")
        return DeleteOutcome(True, None, [event], None)

    try:
        versions = [v for v in await client.list_versions(agent) if v.status not in GONE]
        ours = owned_versions(resource.uid, versions)
        if ours and len(ours) == len(versions):
            # Everything there is ours: deleting the agent removes its versions in one call
            # and sidesteps any rule against deleting the version the endpoint routes to.
            await client.delete_agent(agent)
        else:
            # Someone else's versions share the agent: remove only ours, serving one last.
            serving = serving_version(await client.get_agent(agent)) if ours else None
            for version in sorted(ours, key=lambda v: v.version == serving):
                await client.delete_version(agent, version.version)
    except FoundryError as err:
        failure = describe_http_error(err.status, err.code, err.message)
        report = Report(Phase.DELETING, agent, failure=failure)
        status = build_status(previous, report, generation=resource.generation, now=_now())
        delay = backoff.backoff_delay(attempt, retry_after=err.retry_after)
        return DeleteOutcome(False, status, transition_events(previous, report), delay)
    event = Event("Normal", "Deleted", f"Deleted {len(ours)} Foundry version(s) of agent {agent!r}")
    return DeleteOutcome(True, None, [event], None)
