"""One reconcile of one HostedAgent: observe Foundry, plan, act, and say what to report.

This module sequences I/O; every decision is a pure function in ``reconcile/``. It never
writes to the HostedAgent: it returns an :class:`Outcome` (the status to hold, the Events
worth posting, the kind of next look), and the engine writes, posts and schedules. The one
Kubernetes object it writes is the endpoint ConfigMap a HostedAgent asks for
(``spec.endpointConfigMap``), after Foundry, because what it holds comes from status.

Reconciles of HostedAgents that name the same Foundry agent run one at a time (a lock per
agent name): the first to look either finds the agent free and claims it with its first
write (the version it creates carries its owner), or finds it taken and touches nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from . import metrics
from .api.reserved import MANAGED_BY_VALUE, METADATA_MANAGED_BY, METADATA_SPEC_HASH, is_managed
from .api.resource import RETRY_ANNOTATION
from .api.spec import (
    DEFAULT_TOOLBOX_ENV,
    AdoptedVersions,
    AdoptionPolicy,
    DeletionPolicy,
    HostedAgentSpec,
    ManagementPolicy,
    resolve_agent_name,
)
from .api.status import AgentToolbox, HostedAgentStatus, Phase, ProbeStatus, RolloutStatus
from .foundry.client import FoundryClient, FoundryError
from .foundry.directory import AgentDirectory
from .foundry.directory_policy import MIN_BATCH, is_brand_new
from .foundry.probe import ProbeResult
from .kube.api import KubeError
from .kube.configmaps import ConfigMaps
from .kube.env import EnvResolver, Ref, Resolved, references
from .kube.toolboxes import Toolboxes
from .reconcile.conditions import StateReason, find_condition, set_condition
from .reconcile.desired import DesiredVersion, create_version_body, desired_version
from .reconcile.endpoint import EndpointSettings, as_applied, desired_endpoint, endpoint_in_step
from .reconcile.errors import (
    Failure,
    Reason,
    clean_message,
    describe_http_error,
    describe_version_error,
)
from .reconcile.nextlook import Look
from .reconcile.observed import ACTIVE, GONE, AgentInfo, VersionInfo
from .reconcile.plan import (
    Action,
    Plan,
    decisive_latest,
    owned_versions,
    plan,
    serving_version,
)
from .reconcile.policy import (
    DRIFTED_CONDITION,
    PAUSED_CONDITION,
    adopted_record,
    deletion,
    drift,
    drifted_condition,
    may_call_foundry,
    may_write_foundry,
    paused_message,
    paused_status,
    without_other_policy_conditions,
)
from .reconcile.publish import (
    NOTHING,
    Owner,
    Seen,
    Step,
    configmap_body,
    configmap_data,
    configmap_patch,
    configmap_step,
    conflict_message,
    owned_by,
    seen,
    stale_configmap,
)
from .reconcile.report import (
    KEEP,
    Event,
    Keep,
    Report,
    build_status,
    load_status,
    transition_events,
)
from .reconcile.rollout import Move, Progress, previous_version
from .reconcile.rollout import Step as RolloutStep
from .reconcile.rollout import decide as decide_rollout
from .reconcile.suspend import Switch, held_suspended, switch, switched
from .reconcile.toolbox import (
    KIND_AGENT,
    desired_toolbox,
    from_preview_tools,
    inline_toolbox_name,
    load_toolbox_status,
    mcp_url,
)
from .toolboxes import (
    ToolboxLocks,
    ToolboxOwner,
    conflict_of,
    converge_toolbox,
    delete_owned_toolbox,
)

log = logging.getLogger("foundry_operator.controller")

# Phases in which the agent is settled as the spec wants it.
SETTLED_PHASES = frozenset({Phase.READY, Phase.SUSPENDED})

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

    @property
    def owner(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Outcome:
    # The status to hold; None keeps the one the object has (e.g. Foundry could not be read
    # while the agent was serving: saying nothing beats flipping a fleet to not-Ready).
    status: HostedAgentStatus | None
    events: list[Event]
    look: Look
    result: str  # for metrics: ready, progressing, failed, retry, conflict, deleted
    retry_after: float | None = None
    agent: str | None = None
    # Secret values the reconcile resolved: every message that leaves is redacted of them.
    secrets: tuple[str, ...] = ()
    # The Secrets and ConfigMaps the spec reads (and the endpoint ConfigMap it asks for), so
    # that a change to one wakes this object.
    refs: frozenset[Ref] = frozenset()
    # What status was built from (None when status is kept as it is).
    report: Report | None = None


@dataclass(frozen=True)
class ToolboxUse:
    """The toolbox a spec's version is pinned to: the variable the operator sets, and what
    status says about it."""

    env: dict[str, str]
    status: AgentToolbox
    # The Foundry toolbox this HostedAgent owns (spec.tools), to delete with it.
    owned: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _agent_extra(resource: Resource, agent: str, version: str | None = None) -> dict[str, Any]:
    return {
        "k8s": {"namespace": resource.namespace, "name": resource.name},
        "agent": agent,
        "version": version,
    }


def _first_error(exc: ValueError) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg', 'invalid')}"


def parse_spec(resource: Resource) -> tuple[HostedAgentSpec, str] | Failure:
    """The typed spec and the agent name, or InvalidSpec (an older CRD in the cluster may
    let through what this operator's model refuses)."""
    try:
        spec = HostedAgentSpec.model_validate(dict(resource.spec))
        return spec, resolve_agent_name(spec, resource.name)
    except ValueError as exc:
        return Failure(Reason.INVALID_SPEC, "InvalidSpec", clean_message(_first_error(exc)))


class Reconciler:
    """Everything one reconcile needs that outlives it: the Foundry client, the agent
    directory, the env resolver, and the per-agent-name locks."""

    def __init__(
        self,
        foundry: FoundryClient,
        env: EnvResolver,
        configmaps: ConfigMaps,
        *,
        directory_min_batch: int = MIN_BATCH,
        toolboxes: Toolboxes | None = None,
        toolbox_locks: ToolboxLocks | None = None,
        explain_deletion: Callable[[Failure], Failure] | None = None,
    ) -> None:
        self.foundry = foundry
        # How a deletion that Foundry refused is explained (a project's client adds which
        # project, and how to let go without Foundry).
        self.explain_deletion = explain_deletion or (lambda failure: failure)
        self.env = env
        self.configmaps = configmaps
        # FoundryToolboxes named in spec.toolbox are read through this (None: not wired).
        self.toolboxes = toolboxes
        # Shared with the FoundryToolbox reconciler: one converge per Foundry toolbox name.
        self.toolbox_locks = toolbox_locks or ToolboxLocks()
        # First looks of brand-new HostedAgents, answered many at a time (None: one GET each).
        self.directory = (
            AgentDirectory(foundry, min_batch=directory_min_batch)
            if directory_min_batch > 0
            else None
        )
        self._agent_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # agent -> namespace/name of the HostedAgent that adopted it (adoption writes
        # nothing to Foundry that a second HostedAgent could see).
        self._adopters: dict[str, str] = {}
        # (agent, version) -> monotonic time of its last passing probe. Kept in memory, not in
        # status, so a fleet at rest writes nothing between probes; a restart asks once more.
        self._probed: dict[tuple[str, str], float] = {}

    def release_agent(self, agent: str) -> None:
        lock = self._agent_locks.get(agent)
        if lock is not None and not lock.locked():
            del self._agent_locks[agent]

    # --- live objects -----------------------------------------------------------------

    async def reconcile(self, resource: Resource) -> Outcome:
        previous = load_status(resource.status)
        parsed = parse_spec(resource)
        if isinstance(parsed, Failure):
            report = Report(Phase.FAILED, resource.name, failure=parsed)
            return self._finish(resource, previous, report, Look.SETTLED, "failed")
        spec, agent = parsed
        policy = spec.management_policy
        # Conditions of a policy no longer in force go (e.g. Paused once back to Manage).
        previous = previous.model_copy(
            update={"conditions": without_other_policy_conditions(previous.conditions, policy)}
        )
        warnings = (
            [Event("Warning", "SpecWarning", w) for w in spec.warnings()]
            if previous.observed_generation != resource.generation
            else []
        )

        refs = references(spec)
        if spec.endpoint_config_map is not None:
            refs = refs | {Ref("ConfigMap", spec.endpoint_config_map.name)}
        if not may_call_foundry(policy):
            return replace(self._paused(resource, previous, agent), refs=refs)
        resolved = await self.env.resolve(resource.namespace, spec)
        if not may_write_foundry(policy):
            outcome = await self._observe_only(resource, previous, spec, agent, resolved)
            outcome = await self._publish(resource, previous, spec, agent, outcome)
            return replace(
                outcome,
                agent=agent,
                secrets=tuple(resolved.values.values()),
                refs=refs,
                events=warnings + outcome.events,
            )
        secrets = tuple(resolved.values.values())
        if resolved.missing:
            failure = Failure(
                Reason.SECRET_NOT_FOUND, "SecretNotFound", "; ".join(resolved.missing)
            )
            return replace(
                self._unresolvable(resource, previous, agent, failure, secrets), refs=refs
            )
        use: ToolboxUse | Failure | None = None
        if spec.toolbox is not None:
            use = await self._referenced_toolbox(resource, spec)
            if isinstance(use, Failure):
                return replace(
                    self._unresolvable(resource, previous, agent, use, secrets), refs=refs
                )
        retry_token = resource.annotations.get(RETRY_ANNOTATION)
        async with self._agent_locks[agent]:
            spec_hash = previous.spec_hash or ""
            try:
                if spec.tools and spec.toolbox is None:
                    use = await self._inline_toolbox(resource, spec, agent, retry_token)
                if isinstance(use, Failure):
                    report = Report(Phase.FAILED, agent, failure=use, seen=NOTHING)
                    outcome = self._finish(resource, previous, report, Look.SETTLED, "conflict")
                else:
                    desired = desired_version(
                        spec,
                        resolved.values,
                        retry_token=retry_token,
                        injected_env=use.env if use is not None else None,
                    )
                    spec_hash = desired.spec_hash
                    outcome = await self._converge(
                        resource, previous, spec, agent, desired, secrets
                    )
            except FoundryError as err:
                outcome = self._foundry_failed(resource, previous, agent, spec_hash, err, secrets)
        outcome = await self._publish(resource, previous, spec, agent, outcome)
        outcome = _with_toolbox(outcome, previous, use if isinstance(use, ToolboxUse) else None)
        return replace(
            outcome, agent=agent, secrets=secrets, refs=refs, events=warnings + outcome.events
        )

    async def _referenced_toolbox(
        self, resource: Resource, spec: HostedAgentSpec
    ) -> ToolboxUse | Failure:
        """spec.toolbox: the MCP URL of the FoundryToolbox's current version, from its
        status (the operator's own word on which version is current)."""
        assert spec.toolbox is not None
        name, namespace = spec.toolbox.name, resource.namespace
        if self.toolboxes is None:
            body = None
        else:
            try:
                body = await self.toolboxes.get(namespace, name)
            except KubeError as exc:
                return Failure(
                    Reason.TOOLBOX_NOT_FOUND,
                    "ToolboxNotFound",
                    clean_message(f"FoundryToolbox {name!r} could not be read: {exc}"),
                )
        if body is None:
            return Failure(
                Reason.TOOLBOX_NOT_FOUND,
                "ToolboxNotFound",
                f"FoundryToolbox {name!r} was not found in namespace {namespace!r}",
            )
        status = load_toolbox_status(body.get("status"))
        if not status.current_version or not status.toolbox_name:
            phase = status.phase.value if status.phase else "Pending"
            return Failure(
                Reason.TOOLBOX_NOT_FOUND,
                "ToolboxNotFound",
                f"FoundryToolbox {name!r} has no toolbox version yet (phase {phase})",
            )
        url = mcp_url(
            self.foundry.endpoint,
            status.toolbox_name,
            status.current_version,
            self.foundry.api_version,
        )
        return ToolboxUse(
            env={spec.toolbox.env: url},
            status=AgentToolbox(
                name=status.toolbox_name,
                version=status.current_version,
                env=spec.toolbox.env,
                resource=name,
            ),
        )

    async def _inline_toolbox(
        self, resource: Resource, spec: HostedAgentSpec, agent: str, retry_token: str | None
    ) -> ToolboxUse | Failure:
        """spec.tools, the preview shorthand: a Foundry toolbox this HostedAgent owns, kept
        like a FoundryToolbox's (same converge), pinned into MCP_SERVER_URL."""
        name = inline_toolbox_name(agent)
        owner = ToolboxOwner(KIND_AGENT, resource.namespace, resource.name, resource.uid)
        desired = desired_toolbox(
            from_preview_tools(spec.tools),
            description=f"Tools of HostedAgent {resource.owner} (spec.tools)",
            retry_token=retry_token,
        )
        async with self.toolbox_locks[name]:
            converged = await converge_toolbox(
                self.foundry,
                name,
                owner,
                desired,
                revision_history_limit=spec.revision_history_limit,
            )
        for event in converged.events:
            log.info(event.message, extra=_agent_extra(resource, agent))
        if converged.current is None:
            return conflict_of(name, converged)
        env_name = DEFAULT_TOOLBOX_ENV
        version = converged.current.version
        url = mcp_url(self.foundry.endpoint, name, version, self.foundry.api_version)
        return ToolboxUse(
            env={env_name: url},
            status=AgentToolbox(name=name, version=version, env=env_name),
            owned=name,
        )

    # --- management policies ------------------------------------------------------------

    def _paused(self, resource: Resource, previous: HostedAgentStatus, agent: str) -> Outcome:
        """spec.managementPolicy Paused: no Foundry call; status says so and keeps the rest."""
        status = paused_status(previous, generation=resource.generation, agent=agent, now=_now())
        was = find_condition(previous.conditions, PAUSED_CONDITION)
        events: list[Event] = []
        if was is None or was.status != "True":
            log.info(
                "paused: no Foundry calls until spec.managementPolicy is Manage or ObserveOnly",
                extra=_agent_extra(resource, agent),
            )
            events.append(Event("Normal", "Paused", paused_message()))
        return Outcome(status, events, Look.SETTLED, "paused", None, agent)

    async def _observed_hash(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        spec: HostedAgentSpec,
        agent: str,
        resolved: Resolved,
    ) -> str | None:
        """The spec hash to compare with Foundry, without writing anything: None when the
        spec cannot be resolved (a missing Secret, a toolbox with no version yet, or the
        toolbox of spec.tools, which only a managing look keeps)."""
        if resolved.missing:
            return None
        injected: dict[str, str] | None = None
        if spec.toolbox is not None:
            use = await self._referenced_toolbox(resource, spec)
            if isinstance(use, Failure):
                return None
            injected = use.env
        elif spec.tools:
            known = previous.toolbox
            if known is None or known.name != inline_toolbox_name(agent):
                return None
            injected = {
                DEFAULT_TOOLBOX_ENV: mcp_url(
                    self.foundry.endpoint, known.name, known.version, self.foundry.api_version
                )
            }
        return desired_version(
            spec,
            resolved.values,
            retry_token=resource.annotations.get(RETRY_ANNOTATION),
            injected_env=injected,
        ).spec_hash

    async def _observe_only(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        spec: HostedAgentSpec,
        agent: str,
        resolved: Resolved,
    ) -> Outcome:
        """spec.managementPolicy ObserveOnly: read the agent and report it, whoever made it;
        never a write to Foundry. Ready means the agent serves an active version; Drifted
        says whether that is what the spec asks for."""
        secrets = tuple(resolved.values.values())
        spec_hash = await self._observed_hash(resource, previous, spec, agent, resolved)
        try:
            info = await self.foundry.get_agent(agent)
            versions = await self.foundry.list_versions(agent) if info is not None else []
        except FoundryError as err:
            return self._foundry_failed(resource, previous, agent, spec_hash or "", err, secrets)
        found = drift(
            spec_hash=spec_hash,
            versions=versions,
            agent=info,
            endpoint_in_step=info is None or endpoint_in_step(desired_endpoint(spec), info),
        )
        if info is None:
            failure = Failure(
                Reason.AGENT_NOT_FOUND,
                "AgentNotFound",
                f"Foundry agent {agent!r} does not exist; ObserveOnly does not create it",
            )
            report = Report(Phase.FAILED, agent, spec_hash=spec_hash, failure=failure, seen=NOTHING)
        else:
            live = tuple(
                sorted((v for v in versions if v.status not in GONE), key=lambda v: v.number)
            )
            serving = serving_version(info)
            by_version = {v.version: v for v in live}
            target = found.matching or (live[-1] if live else None)
            report = Report(
                Phase.READY,
                agent,
                spec_hash=spec_hash,
                target=target,
                serving=serving,
                ours=live,
                traffic=dict(info.routing),
                seen=seen(
                    self.foundry.endpoint_facts(agent),
                    info,
                    [p.protocol.value for p in spec.protocols],
                    suspended=False,
                ),
                message=f"observed only: {found.message}",
                rollout=None,
                probe=None,
            )
            routed_active = [
                v
                for v, pct in info.routing.items()
                if pct > 0 and v in by_version and by_version[v].status == "active"
            ]
            if not info.enabled:
                failure = Failure(Reason.AGENT_DISABLED, "AgentDisabled", disabled_message(info))
                report = replace(report, phase=Phase.FAILED, failure=failure)
            elif not routed_active:
                failure = Failure(
                    Reason.AGENT_NOT_SERVING,
                    "AgentNotServing",
                    f"Foundry agent {agent!r} routes no traffic to an active version",
                )
                report = replace(report, phase=Phase.FAILED, failure=failure)
        outcome = self._finish(resource, previous, report, Look.SETTLED, "observed")
        assert outcome.status is not None
        status = outcome.status.model_copy(
            update={
                "conditions": set_condition(
                    outcome.status.conditions,
                    drifted_condition(found),
                    generation=resource.generation,
                    now=_now(),
                )
            }
        )
        events = list(outcome.events)
        before = find_condition(previous.conditions, DRIFTED_CONDITION)
        if before is None or before.reason != str(found.reason):
            kind = "Warning" if found.drifted else "Normal"
            events.append(Event(kind, "Drift" if found.drifted else "InSync", found.message))
        return replace(outcome, status=status, events=events, secrets=secrets)

    def _finish(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        report: Report,
        look: Look,
        result: str,
        retry_after: float | None = None,
    ) -> Outcome:
        status = build_status(previous, report, generation=resource.generation, now=_now())
        return Outcome(
            status,
            transition_events(previous, report),
            look,
            result,
            retry_after,
            report.agent_name,
            report=report,
        )

    def _unresolvable(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        agent: str,
        failure: Failure,
        secrets: tuple[str, ...],
    ) -> Outcome:
        """A referenced Secret or ConfigMap is missing or unusable. The version Foundry
        already serves keeps serving: that is reported, not hidden (the Deployment model:
        the rollout is stuck, the old replicas are still available)."""
        serving = previous.phase is Phase.READY or (
            previous.serving_version is not None and previous.phase is not Phase.PENDING
        )
        if serving and previous.serving_version:
            report = Report(
                Phase.PROVISIONING,
                agent,
                failure=failure,
                serving=previous.serving_version,
                message=f"version {previous.serving_version} keeps serving",
            )
        else:
            report = Report(Phase.PENDING, agent, failure=failure)
        outcome = self._finish(resource, previous, report, Look.RETRY, "retry")
        return replace(outcome, secrets=secrets)

    def _foundry_failed(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        agent: str,
        spec_hash: str,
        err: FoundryError,
        secrets: tuple[str, ...],
    ) -> Outcome:
        """A Foundry call failed; ``spec_hash`` is the current spec's (the last one status
        knew when the call that failed came before the hash, e.g. the inline toolbox's)."""
        failure = describe_http_error(err.status, err.code, err.message, secret_values=secrets)
        log.warning(
            "Foundry call failed for %s/%s: %s",
            resource.namespace,
            resource.name,
            clean_message(str(err), secrets),
            extra={**_agent_extra(resource, agent), "reason": str(failure.reason)},
        )
        if failure.transient:
            if keeps_status_through_outage(previous, spec_hash):
                return Outcome(None, [], Look.RETRY, "retry", err.retry_after, agent)
            report = Report(Phase.PROVISIONING, agent, spec_hash=spec_hash, failure=failure)
            return self._finish(resource, previous, report, Look.RETRY, "retry", err.retry_after)
        report = Report(Phase.FAILED, agent, spec_hash=spec_hash, failure=failure)
        return self._finish(resource, previous, report, Look.SETTLED, "failed")

    async def _observe(
        self, owner: str, spec_hash: str, agent: str, previous: HostedAgentStatus
    ) -> tuple[list[VersionInfo], AgentInfo | None]:
        """What Foundry holds, with one read when the agent's details settle it. The first
        look of a HostedAgent that never had a version asks the directory, which answers
        "no such agent" for many new names with one listing; any other answer it gives is
        the same GET as here, so ownership and conflicts are judged as always."""
        if self.directory is not None and is_brand_new(previous):
            info = await self.directory.get_agent(agent)
        else:
            info = await self.foundry.get_agent(agent)
        if info is None:
            return [], None
        latest = decisive_latest(owner, spec_hash, info)
        if latest is not None:
            return [latest], info
        return await self.foundry.list_versions(agent), info

    async def _converge(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        spec: HostedAgentSpec,
        agent: str,
        desired: DesiredVersion,
        secrets: tuple[str, ...],
    ) -> Outcome:
        owner = resource.owner
        endpoint = desired_endpoint(spec)
        versions, agent_info = await self._observe(owner, desired.spec_hash, agent, previous)
        complete = len(versions) != 1 or agent_info is None or agent_info.latest is None
        events: list[Event] = []
        for _ in range(_MAX_STEPS):
            decision = plan(
                owner=owner,
                spec_hash=desired.spec_hash,
                versions=versions,
                agent=agent_info,
                revision_history_limit=spec.revision_history_limit,
                adopt=spec.adoption_policy is AdoptionPolicy.ADOPT,
                adopted=previous.adopted_versions,
                prune_adopted=spec.adopted_versions is AdoptedVersions.INCLUDE,
            )
            if decision.adopted and self._adopters.setdefault(agent, owner) != owner:
                # Adoption writes nothing to Foundry, so the claim lives here: the first
                # HostedAgent to adopt an agent holds it; the others are refused.
                decision = Plan(Action.CONFLICT, owner=self._adopters[agent])
            target = decision.target
            extra = _agent_extra(resource, agent, target.version if target else None)
            base = Report(
                Phase.PROVISIONING,
                agent,
                spec_hash=desired.spec_hash,
                target=target,
                serving=decision.serving,
                ours=decision.ours if complete else _merge_known(previous, decision.ours),
                traffic=dict(agent_info.routing) if agent_info is not None else None,
                adopted=(
                    adopted_record(previous.adopted_versions, decision.adopted, complete=complete)
                    if decision.adopted or previous.adopted_versions
                    else None
                ),
            )

            if decision.action is Action.CONFLICT:
                return self._conflict(resource, previous, agent, desired, decision)
            newly = sorted(set(decision.adopted) - set(previous.adopted_versions), key=_number)
            if newly and not any(e.reason == "Adopted" for e in events):
                adopted_event = Event(
                    "Normal",
                    "Adopted",
                    f"Adopted Foundry agent {agent!r}: version(s) {', '.join(newly)} were made "
                    "outside the operator and are kept (spec.adoptionPolicy Adopt)",
                )
                events.append(adopted_event)
                log.info(adopted_event.message, extra=extra)
            if agent_info is not None:
                agent_info = await self._endpoint_in_step(resource, agent, agent_info, endpoint)

            drift = drift_event(previous, desired.spec_hash, decision)
            if drift is not None:
                events.append(drift)
                log.warning(drift.message, extra=extra)

            if decision.action is Action.CREATE:
                if refused_before(previous, desired.spec_hash):
                    # Foundry refused this exact spec: report what we know, create nothing
                    # until the spec, a referenced value or the retry annotation changes.
                    return Outcome(None, [], Look.SETTLED, "failed", None, agent)
                body = create_version_body(
                    desired, uid=resource.uid, namespace=resource.namespace, name=resource.name
                )
                created = await self.foundry.create_version(
                    agent, body["definition"], body["metadata"], body.get("description")
                )
                log.info("created version %s", created.version, extra=extra)
                versions = [*versions, created]
                continue

            if decision.action is Action.ROUTE:
                assert target is not None
                _observe_provisioning(previous, target)
                routing = dict(agent_info.routing) if agent_info is not None else {}
                if not complete and any(v != target.version for v in routing):
                    # Traffic is shared: the full list says which of those versions are ours.
                    versions = await self.foundry.list_versions(agent)
                    complete = True
                    continue
                if drift is None:
                    rolled = await self._roll(
                        resource, previous, spec, agent, desired, decision, routing, base, events
                    )
                    if isinstance(rolled, Outcome):
                        return rolled
                    routed = rolled
                else:  # traffic moved away from a version that served: put it back at once
                    routed = await self.foundry.route(agent, target.version, endpoint)
                log.info("routed all traffic to version %s", target.version, extra=extra)
                agent_info = routed or as_applied(
                    AgentInfo(name=agent, routing={target.version: 100}, latest=target), endpoint
                )
                if not complete and may_prune(previous, decision, spec.revision_history_limit):
                    versions = await self.foundry.list_versions(agent)
                    complete = True
                continue

            suspend = bool(spec.suspend)
            looked: Seen | None = None
            if agent_info is not None:
                agent_info, flipped = await self._switch(
                    resource, previous, agent, suspend, agent_info
                )
                if flipped is not None:
                    events.append(flipped)
                looked = seen(
                    self.foundry.endpoint_facts(agent),
                    agent_info,
                    [p.protocol.value for p in spec.protocols],
                    suspended=held_suspended(suspend=suspend, agent=agent_info),
                )
            report = replace(base, events=tuple(events), seen=looked)
            if agent_info is not None and not agent_info.enabled and not suspend:
                failure = Failure(
                    Reason.AGENT_DISABLED, "AgentDisabled", disabled_message(agent_info)
                )
                report = replace(report, phase=Phase.FAILED, failure=failure)
                return self._finish(resource, previous, report, Look.SETTLED, "failed")
            if decision.action is Action.WAIT:
                report = replace(
                    report,
                    reason=StateReason.VERSION_CREATING,
                    message=f"Version {extra['version']} is being created",
                )
                return self._finish(resource, previous, report, Look.POLL, "progressing")
            if decision.action is Action.FAILED:
                assert target is not None
                if not complete and decision.serving == target.version:
                    # The version that serves has failed: the full list says whether an
                    # older active one can take the traffic back.
                    versions = await self.foundry.list_versions(agent)
                    complete = True
                    continue
                _observe_provisioning(previous, target)
                if decision.fallback is not None:
                    await self.foundry.route(agent, decision.fallback, endpoint)
                    log.warning(
                        "version %s failed; routed all traffic back to version %s",
                        target.version,
                        decision.fallback,
                        extra=extra,
                    )
                    fell_back = Event(
                        "Warning",
                        "TrafficFallback",
                        f"Version {target.version} failed; the endpoint routes 100% to "
                        f"version {decision.fallback}, the newest active version of this "
                        "HostedAgent",
                    )
                    report = replace(
                        report, serving=decision.fallback, events=(*report.events, fell_back)
                    )
                failure = describe_version_error(
                    target.error_code, target.error_message, secret_values=secrets
                )
                report = replace(report, phase=Phase.FAILED, failure=failure)
                return self._finish(resource, previous, report, Look.SETTLED, "failed")
            # READY: retention last, so the serving version is settled before anything goes.
            report = await self._prune(resource, report, spec, agent, decision, extra)
            if suspend:
                report = replace(
                    report,
                    phase=Phase.SUSPENDED,
                    reason=StateReason.SUSPENDED,
                    message=f"Foundry agent {agent!r} is disabled because spec.suspend is true; "
                    f"version {decision.serving} stays routed and serves again when it is "
                    "resumed",
                )
                return self._finish(resource, previous, report, Look.SETTLED, "suspended")
            assert target is not None
            checked = await self._probe_serving(resource, previous, spec, agent, target, report)
            if isinstance(checked, Outcome):
                return checked
            report, look, wait = checked
            report = replace(report, phase=Phase.READY, rollout=None)
            return self._finish(resource, previous, report, look, "ready", wait)

        # Only reached if Foundry keeps changing under us; look again soon.
        report = Report(
            Phase.PROVISIONING, agent, spec_hash=desired.spec_hash, events=tuple(events)
        )
        return self._finish(resource, previous, report, Look.POLL, "progressing")

    async def _endpoint_in_step(
        self, resource: Resource, agent: str, info: AgentInfo, endpoint: EndpointSettings
    ) -> AgentInfo:
        """PATCH the endpoint's settings (spec.endpoint) when Foundry's differ, without the
        routing, so no traffic moves. An agent not routed yet gets them with its first
        route instead."""
        if not info.routing or endpoint_in_step(endpoint, info):
            return info
        updated = await self.foundry.configure_endpoint(agent, endpoint)
        log.info("updated the agent endpoint's settings", extra=_agent_extra(resource, agent))
        if updated is None:
            return as_applied(info, endpoint)
        # The answer's routing is Foundry's word, but keep what was known of the latest
        # version if the answer left it out.
        return updated if updated.latest is not None else replace(updated, latest=info.latest)

    async def _ask(self, spec: HostedAgentSpec, agent: str, version: str) -> ProbeResult:
        assert spec.probe is not None
        result = await self.foundry.probe(
            agent,
            version,
            prompt=spec.probe.input,
            expect=spec.probe.expect,
            seconds=float(spec.probe.timeout_seconds),
        )
        if result.passed:
            self._probed[(agent, version)] = time.monotonic()
        else:
            self._probed.pop((agent, version), None)
        return result

    def _probe_record(
        self, previous: HostedAgentStatus, version: str, result: ProbeResult, now: datetime
    ) -> ProbeStatus:
        """status.probe, whose time moves only when the outcome does (no churn at rest)."""
        old = previous.probe
        message = clean_message(result.message)[:1024]
        if old is not None and old.version == version and old.passed == result.passed:
            return ProbeStatus(
                version=version,
                passed=result.passed,
                message=old.message if result.passed else message,
                last_transition_time=old.last_transition_time,
            )
        return ProbeStatus(
            version=version,
            passed=result.passed,
            message=message,
            last_transition_time=now.replace(microsecond=0),
        )

    def _probe_events(self, version: str, result: ProbeResult) -> list[Event]:
        if result.passed or not result.logs:
            return []
        tail = "\n".join(result.logs[-10:])
        return [
            Event(
                "Warning",
                "AgentLogs",
                f"Last log lines of version {version} after {result.reason}:\n{tail}",
            )
        ]

    async def _probe_serving(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        spec: HostedAgentSpec,
        agent: str,
        target: VersionInfo,
        report: Report,
    ) -> Outcome | tuple[Report, Look, float | None]:
        """A serving version is asked again every probe period; a failed answer makes the
        HostedAgent not Ready (traffic stays: there is nothing better to send it to)."""
        probe = spec.probe
        if probe is None:
            return replace(report, probe=None), Look.SETTLED, None
        period = float(probe.period_seconds)
        last = self._probed.get((agent, target.version))
        fresh = last is not None and (period == 0 or time.monotonic() - last < period)
        settled_once = (
            period == 0
            and previous.probe is not None
            and previous.probe.passed
            and previous.probe.version == target.version
        )
        if (
            fresh
            and not settled_once
            and (
                previous.probe is None
                or previous.probe.version != target.version
                or not previous.probe.passed
            )
        ):
            # It answered before it took the traffic (in an earlier step of this look).
            report = replace(
                report,
                probe=ProbeStatus(
                    version=target.version,
                    passed=True,
                    message="answered before taking traffic",
                    last_transition_time=_now().replace(microsecond=0),
                ),
            )
        if not fresh and not settled_once:
            result = await self._ask(spec, agent, target.version)
            record = self._probe_record(previous, target.version, result, _now())
            if not result.passed:
                failure = Failure(
                    Reason(result.reason),
                    result.reason,
                    f"version {target.version}: {result.message}",
                )
                failed = replace(
                    report,
                    phase=Phase.PROVISIONING,
                    failure=failure,
                    probe=record,
                    events=(*report.events, *self._probe_events(target.version, result)),
                )
                return self._finish(resource, previous, failed, Look.RETRY, "retry")
            report = replace(report, probe=record)
            last = time.monotonic()
        if period == 0 or last is None:
            return report, Look.SETTLED, None
        return report, Look.HOLD, max(1.0, period - (time.monotonic() - last))

    async def _roll(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        spec: HostedAgentSpec,
        agent: str,
        desired: DesiredVersion,
        decision: Plan,
        routing: Mapping[str, int],
        base: Report,
        events: list[Event],
    ) -> Outcome | AgentInfo | None:
        """Move traffic to the plan's target the way spec.rollout and spec.probe ask. Returns
        the agent once the target has all the traffic, or the Outcome of this look."""
        target = decision.target
        assert target is not None
        endpoint = desired_endpoint(spec)
        ours = [v.version for v in decision.ours]
        before = previous_version(routing, target.version, ours)
        state = previous.rollout
        if (
            state is not None
            and state.aborted
            and state.version == target.version
            and state.spec_hash == desired.spec_hash
        ):
            # Aborted for this spec: say so again, move nothing until a person asks.
            failure = Failure(
                Reason.ROLLOUT_ABORTED,
                "RolloutAborted",
                f"the rollout of version {target.version} was aborted",
            )
            report = replace(base, phase=Phase.FAILED, failure=failure, events=tuple(events))
            return self._finish(resource, previous, report, Look.SETTLED, "failed")
        progress = (
            Progress(state.version, state.step, state.step_started_at)
            if state is not None and not state.aborted
            else None
        )
        steps = [RolloutStep(w, p) for w, p in spec.rollout.ordered()] if spec.rollout else []
        result: ProbeResult | None = None
        passed: bool | None = None
        if spec.probe is not None and (agent, target.version) in self._probed and not steps:
            passed = True  # answered moments ago (e.g. a look cut short by a conflict)
        for _ in range(3):
            move = decide_rollout(
                target=target.version,
                previous=before,
                routing=routing,
                steps=steps,
                progress=progress,
                now=_now(),
                probe=spec.probe is not None,
                probe_passed=passed,
            )
            if move.move is Move.PROBE:
                result = await self._ask(spec, agent, target.version)
                passed = result.passed
                continue
            record: ProbeStatus | Keep | None = (
                self._probe_record(previous, target.version, result, _now())
                if result is not None
                else KEEP
            )
            if move.move in (Move.DONE, Move.SHIFT) and (
                move.weights is None or move.weights.get(target.version, 0) >= 100
            ):
                routed = (
                    await self.foundry.route(agent, target.version, endpoint)
                    if move.move is Move.SHIFT
                    else None
                )
                return routed
            if move.move is Move.SHIFT:
                assert move.weights is not None and move.progress is not None
                routed = await self.foundry.route_weights(agent, move.weights, endpoint)
                log.info(
                    "rollout of version %s: %s",
                    target.version,
                    move.message,
                    extra=_agent_extra(resource, agent, target.version),
                )
                events.append(
                    Event("Normal", "RollingOut", f"Version {target.version}: {move.message}")
                )
                pause = steps[move.progress.step].pause_seconds
                report = replace(
                    base,
                    reason=StateReason.ROLLING_OUT,
                    message=f"Version {target.version}: {move.message}",
                    traffic=dict(routed.routing) if routed is not None else dict(move.weights),
                    rollout=_rollout_status(move.progress, desired.spec_hash),
                    probe=record,
                    events=tuple(events),
                )
                return self._finish(resource, previous, report, Look.HOLD, "progressing", pause)
            if move.move is Move.HOLD:
                assert move.progress is not None
                report = replace(
                    base,
                    reason=StateReason.ROLLING_OUT,
                    message=f"Version {target.version}: {move.message}",
                    rollout=_rollout_status(move.progress, desired.spec_hash),
                    probe=record,
                    events=tuple(events),
                )
                return self._finish(resource, previous, report, Look.HOLD, "progressing", move.wait)
            # ABORT: the probe failed.
            assert result is not None
            probe_events = self._probe_events(target.version, result)
            if before is None or move.weights is None:
                # Nothing served before: not Ready, asked again with backoff.
                failure = Failure(
                    Reason(result.reason),
                    result.reason,
                    f"version {target.version}: {result.message}",
                )
                report = replace(
                    base,
                    failure=failure,
                    probe=record,
                    events=(*events, *probe_events),
                )
                return self._finish(resource, previous, report, Look.RETRY, "retry")
            routed = await self.foundry.route_weights(agent, move.weights, endpoint)
            log.warning(
                "rollout of version %s aborted (%s); all traffic back to version %s",
                target.version,
                result.reason,
                before,
                extra=_agent_extra(resource, agent, target.version),
            )
            failure = Failure(
                Reason.ROLLOUT_ABORTED,
                "RolloutAborted",
                f"version {target.version} failed its probe ({result.reason}: "
                f"{result.message}); all traffic went back to version {before}",
            )
            report = replace(
                base,
                phase=Phase.FAILED,
                failure=failure,
                serving=before,
                traffic=dict(routed.routing) if routed is not None else {before: 100},
                rollout=RolloutStatus(
                    version=target.version,
                    step=progress.step if progress is not None else -1,
                    aborted=True,
                    spec_hash=desired.spec_hash,
                ),
                probe=record,
                events=(*events, *probe_events),
            )
            return self._finish(resource, previous, report, Look.SETTLED, "failed")
        raise AssertionError("the rollout decides within three moves")

    def _conflict(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        agent: str,
        desired: DesiredVersion,
        decision: Plan,
    ) -> Outcome:
        if decision.owner:
            message = f"Foundry agent {agent!r} is managed by HostedAgent {decision.owner}"
        else:
            message = (
                f"Foundry agent {agent!r} exists outside Kubernetes (version "
                f"{decision.foreign_version} was not created by this operator); nothing "
                "there was changed"
            )
        failure = Failure(Reason.AGENT_NAME_CONFLICT, "AgentNameConflict", message)
        # Not this HostedAgent's agent: status says nothing about calling it.
        report = Report(
            Phase.FAILED, agent, spec_hash=desired.spec_hash, failure=failure, seen=NOTHING
        )
        return self._finish(resource, previous, report, Look.SETTLED, "conflict")

    async def _switch(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        agent: str,
        suspend: bool,
        info: AgentInfo,
    ) -> tuple[AgentInfo, Event | None]:
        """Put the agent's enable/disable switch where spec.suspend wants it: at most one
        call, none when Foundry already agrees."""
        step = switch(suspend=suspend, agent=info, suspended_by_us=bool(previous.suspended))
        extra = _agent_extra(resource, agent)
        if step is Switch.DISABLE:
            await self.foundry.disable(agent)
            log.info("disabled the Foundry agent (spec.suspend)", extra=extra)
            event = Event(
                "Normal",
                "Suspended",
                f"Disabled Foundry agent {agent!r} because spec.suspend is true; its versions "
                "and traffic split are unchanged",
            )
        elif step is Switch.ENABLE:
            await self.foundry.enable(agent)
            log.info("enabled the Foundry agent again (spec.suspend unset)", extra=extra)
            event = Event(
                "Normal",
                "Resumed",
                f"Enabled Foundry agent {agent!r} again because spec.suspend is no longer true",
            )
        else:
            return info, None
        return switched(info, step), event

    # --- the endpoint ConfigMap ----------------------------------------------------------

    async def _publish(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        spec: HostedAgentSpec,
        agent: str,
        outcome: Outcome,
    ) -> Outcome:
        """Keep spec.endpointConfigMap's ConfigMap in step with status.endpoint: created once
        the endpoint is known, patched only when its data differs, deleted when the field is
        removed or renamed, and never written when someone else owns that name."""
        status, report = outcome.status, outcome.report
        if status is None or report is None:
            return outcome  # this look learned nothing new; the next one publishes
        namespace = resource.namespace
        wanted = spec.endpoint_config_map.name if spec.endpoint_config_map else None
        recorded = status.endpoint_config_map_name
        owner = Owner(resource.name, resource.uid)
        extra = _agent_extra(resource, agent)
        events: list[Event] = []
        name = wanted or recorded or ""
        try:
            stale = stale_configmap(recorded, wanted)
            if stale is not None:
                name = stale
                existing = await self.configmaps.get(namespace, stale)
                if existing is not None and owned_by(existing, owner):
                    await self.configmaps.delete(namespace, stale, existing.uid)
                    log.info("deleted endpoint ConfigMap %s", stale, extra=extra)
                    events.append(
                        Event(
                            "Normal",
                            "ConfigMapDeleted",
                            f"Deleted ConfigMap {stale!r}: spec.endpointConfigMap no longer "
                            "names it",
                        )
                    )
                recorded = None
            if wanted is not None and status.endpoint is not None:
                name = wanted
                data = configmap_data(agent, status.endpoint)
                existing = await self.configmaps.get(namespace, wanted)
                step = configmap_step(existing, owner, data)
                if step is Step.CONFLICT:
                    assert existing is not None
                    failure = Failure(
                        Reason.CONFIG_MAP_CONFLICT,
                        "ConfigMapConflict",
                        conflict_message(wanted, existing, owner),
                    )
                    return self._configmap_failed(
                        resource, previous, outcome, report, failure, None, events
                    )
                if step is Step.CREATE:
                    await self.configmaps.create(namespace, configmap_body(wanted, owner, data))
                    log.info("created endpoint ConfigMap %s", wanted, extra=extra)
                    events.append(
                        Event(
                            "Normal",
                            "ConfigMapCreated",
                            f"Created ConfigMap {wanted!r} with the agent's endpoint",
                        )
                    )
                elif step is Step.UPDATE:
                    assert existing is not None
                    await self.configmaps.patch(namespace, wanted, configmap_patch(existing, data))
                    log.info("updated endpoint ConfigMap %s", wanted, extra=extra)
                recorded = wanted
        except KubeError as exc:
            log.warning("could not write endpoint ConfigMap %s: %s", name, exc, extra=extra)
            failure = Failure(
                Reason.CONFIG_MAP_WRITE_FAILED,
                "ConfigMapWriteFailed",
                clean_message(f"ConfigMap {name!r}: {exc}"),
            )
            return self._configmap_failed(
                resource, previous, outcome, report, failure, recorded, events
            )
        status = status.model_copy(update={"endpoint_config_map_name": recorded})
        return replace(outcome, status=status, events=[*outcome.events, *events])

    def _configmap_failed(
        self,
        resource: Resource,
        previous: HostedAgentStatus,
        outcome: Outcome,
        report: Report,
        failure: Failure,
        recorded: str | None,
        events: list[Event],
    ) -> Outcome:
        """The ConfigMap could not be written. An agent that is otherwise Ready (or
        suspended, or on its way) reports it: Ready means the ConfigMap holds the endpoint. A
        failure already reported stays the one reported."""
        if report.failure is not None or report.phase not in (*SETTLED_PHASES, Phase.PROVISIONING):
            assert outcome.status is not None
            status = outcome.status.model_copy(update={"endpoint_config_map_name": recorded})
            return replace(outcome, status=status, events=[*outcome.events, *events])
        failed = replace(
            report,
            phase=Phase.PROVISIONING if failure.transient else Phase.FAILED,
            failure=failure,
            reason=None,
            message="the Foundry agent itself is unaffected",
            events=(*report.events, *events),
        )
        if failure.transient:
            result = self._finish(resource, previous, failed, Look.RETRY, "retry")
        else:
            result = self._finish(resource, previous, failed, Look.SETTLED, "failed")
        assert result.status is not None
        status = result.status.model_copy(update={"endpoint_config_map_name": recorded})
        return replace(result, status=status)

    async def _prune(
        self,
        resource: Resource,
        report: Report,
        spec: HostedAgentSpec,
        agent: str,
        decision: Plan,
        extra: dict[str, Any],
    ) -> Report:
        for version in decision.prune:
            await self.foundry.delete_version(agent, version)
        if not decision.prune:
            return report
        pruned = ", ".join(decision.prune)
        log.info("pruned versions %s", pruned, extra=extra)
        kept = tuple(v for v in report.ours if v.version not in decision.prune)
        if report.adopted is not None:
            report = replace(report, adopted=[a for a in report.adopted if a not in decision.prune])
        event = Event(
            "Normal",
            "VersionsPruned",
            f"Deleted old versions {pruned} (revisionHistoryLimit {spec.revision_history_limit})",
        )
        return replace(report, ours=kept, events=(*report.events, event))

    # --- deletion ---------------------------------------------------------------------

    async def delete(self, resource: Resource) -> Outcome:
        """Delete what this resource created, per ``deletionPolicy`` and
        ``managementPolicy``; DONE releases it."""
        previous = load_status(resource.status)
        parsed = parse_spec(resource)
        spec: HostedAgentSpec | None = None
        if isinstance(parsed, Failure):
            policy, agent = DeletionPolicy.DELETE, previous.agent_name or resource.name
            management = ManagementPolicy.MANAGE
            inline = False
        else:
            spec = parsed[0]
            policy, agent = spec.deletion_policy, previous.agent_name or parsed[1]
            management = spec.management_policy
            inline = bool(spec.tools)
        # The toolbox of spec.tools: the one status recorded (it stays recorded after the
        # tools are removed), or the one the spec's tools would have made.
        owned = previous.owned_toolbox or (inline_toolbox_name(agent) if inline else None)
        decided = deletion(management, policy, f"Foundry agent {agent!r}")
        events: list[Event] = []
        if decided.message is not None:
            # The one explicit decision a paused or observed object's deletion makes.
            log.info(decided.message, extra=_agent_extra(resource, agent))
            events.append(Event("Normal", "DeletionDecision", decided.message))
        if not decided.delete_in_foundry:
            self._release_adoption(agent, resource.owner)
            if management is ManagementPolicy.MANAGE:
                events.append(
                    Event(
                        "Normal", "Retained", f"Foundry agent {agent!r} and its versions were kept"
                    )
                )
            return Outcome(None, events, Look.DONE, "deleted", None, agent)

        include = (
            frozenset(previous.adopted_versions)
            if spec is not None and spec.adopted_versions is AdoptedVersions.INCLUDE
            else frozenset()
        )
        async with self._agent_locks[agent]:
            try:
                deleted = await self._delete_ours(
                    resource.owner,
                    agent,
                    include=include,
                    keep_serving=frozenset(previous.adopted_versions) - include,
                    endpoint=desired_endpoint(spec) if spec is not None else None,
                )
                if owned is not None:
                    owner = ToolboxOwner(
                        KIND_AGENT, resource.namespace, resource.name, resource.uid
                    )
                    async with self.toolbox_locks[owned]:
                        await delete_owned_toolbox(self.foundry, owned, owner)
            except FoundryError as err:
                failure = describe_http_error(err.status, err.code, err.message)
                blocked = self.deletion_blocked(resource, self.explain_deletion(failure))
                return replace(blocked, events=events + blocked.events, retry_after=err.retry_after)
        self._release_adoption(agent, resource.owner)
        events.append(
            Event("Normal", "Deleted", f"Deleted {deleted} Foundry version(s) of agent {agent!r}")
        )
        return Outcome(None, events, Look.DONE, "deleted", None, agent)

    def deletion_blocked(self, resource: Resource, failure: Failure) -> Outcome:
        """Deleting, and why it cannot finish yet: looked at again with backoff (never a hot
        loop), while deletionPolicy: Retain or a removed finalizer still lets go."""
        previous = load_status(resource.status)
        parsed = parse_spec(resource)
        agent = previous.agent_name or (
            parsed[1] if not isinstance(parsed, Failure) else resource.name
        )
        report = Report(Phase.DELETING, agent, failure=failure)
        status = build_status(previous, report, generation=resource.generation, now=_now())
        return Outcome(
            status, transition_events(previous, report), Look.RETRY, "retry", None, agent
        )

    def released_untouched(self, resource: Resource, failure: Failure) -> Outcome:
        """Deletion of a HostedAgent that never had a Foundry version: let go at once."""
        previous = load_status(resource.status)
        agent = previous.agent_name or resource.name
        event = Event(
            "Normal",
            "Released",
            f"Nothing of it was created in Foundry ({failure.message.rstrip('.')}); released",
        )
        return Outcome(None, [event], Look.DONE, "deleted", None, agent)

    def refuse(self, resource: Resource, failure: Failure) -> Outcome:
        """The HostedAgent cannot be reconciled for a reason outside Foundry (its project):
        a transient one is retried with backoff and keeps what is serving in status; one
        that needs a change waits for it (a changed project or spec wakes the object)."""
        previous = load_status(resource.status)
        parsed = parse_spec(resource)
        if isinstance(parsed, Failure):
            report = Report(Phase.FAILED, resource.name, failure=parsed)
            return self._finish(resource, previous, report, Look.SETTLED, "failed")
        agent = parsed[1]
        if failure.transient:
            return replace(self._unresolvable(resource, previous, agent, failure, ()), agent=agent)
        report = Report(Phase.FAILED, agent, failure=failure)
        return replace(
            self._finish(resource, previous, report, Look.SETTLED, "failed"), agent=agent
        )

    def _release_adoption(self, agent: str, owner: str) -> None:
        if self._adopters.get(agent) == owner:
            del self._adopters[agent]

    async def _delete_ours(
        self,
        owner: str,
        agent: str,
        *,
        include: frozenset[str] = frozenset(),
        keep_serving: frozenset[str] = frozenset(),
        endpoint: EndpointSettings | None = None,
    ) -> int:
        """Delete the versions this HostedAgent created, and the adopted ones in
        ``include``. When adopted versions stay (``keep_serving``) and one of ours serves,
        the traffic goes back to the newest active of them first, so the agent Foundry keeps
        still answers."""
        versions = [v for v in await self.foundry.list_versions(agent) if v.status not in GONE]
        doomed = owned_versions(owner, versions) + [
            v for v in versions if v.version in include and not is_managed(v.metadata)
        ]
        if doomed and len(doomed) == len(versions):
            # Everything there is ours: deleting the agent removes its versions in one call.
            await self.foundry.delete_agent(agent)
        elif doomed:
            # Someone else's versions share the agent: remove only ours, serving one last.
            serving = serving_version(await self.foundry.get_agent(agent))
            gone = {v.version for v in doomed}
            back = [
                v
                for v in sorted(versions, key=lambda v: v.number)
                if v.version in keep_serving and v.status == ACTIVE and v.version not in gone
            ]
            if serving in gone and back and endpoint is not None:
                await self.foundry.route(agent, back[-1].version, endpoint)
                log.info(
                    "routed all traffic back to adopted version %s before deleting ours",
                    back[-1].version,
                    extra={"agent": agent},
                )
            for version in sorted(doomed, key=lambda v: v.version == serving):
                await self.foundry.delete_version(agent, version.version)
        return len(doomed)


def _with_toolbox(outcome: Outcome, previous: HostedAgentStatus, use: ToolboxUse | None) -> Outcome:
    """status.toolbox and status.ownedToolbox as this look found them. The owned toolbox
    stays recorded once made, so that deletion finds it even after spec.tools is emptied."""
    if outcome.status is None:
        return outcome
    update: dict[str, Any] = {"toolbox": use.status if use is not None else None}
    if use is not None and use.owned is not None:
        update["owned_toolbox"] = use.owned
    else:
        update["owned_toolbox"] = previous.owned_toolbox
    return replace(outcome, status=outcome.status.model_copy(update=update))


def disabled_message(info: AgentInfo) -> str:
    source = f" (state source: {info.state_source})" if info.state_source else ""
    return f"Foundry agent {info.name!r} is disabled{source}"


def keeps_status_through_outage(previous: HostedAgentStatus, spec_hash: str) -> bool:
    """A serving agent that could not be looked at (Foundry or the token endpoint briefly
    away) is still serving: its status stays as it is and the look is retried with backoff,
    rather than a fleet flipping to not-Ready for the length of an outage."""
    return previous.phase in SETTLED_PHASES and previous.spec_hash == spec_hash


# Refusals of a create that only a change can fix: asking again gets the same answer. An
# authentication failure or a missing endpoint is not among them (a role assignment or a
# new project fixes those without touching the HostedAgent), nor is a conflict.
_REFUSALS = frozenset(
    {
        Reason.INVALID_SPEC,
        Reason.PROTOCOL_VERSION_NOT_SUPPORTED,
        Reason.VERSION_QUOTA_EXCEEDED,
        Reason.INVALID_CONTAINER_IMAGE,
        Reason.IMAGE_PULL_BACK_OFF,
        Reason.CAPABILITY_HOST_NOT_FOUND,
        Reason.SUBSCRIPTION_NOT_REGISTERED,
        Reason.FEATURE_NOT_AVAILABLE,
    }
)


def refused_before(previous: HostedAgentStatus, spec_hash: str) -> bool:
    """Whether Foundry already refused to create a version for exactly this spec: creating
    again would meet the same refusal, so it waits for a new spec, a changed referenced
    value or the retry annotation (each gives a new spec hash)."""
    if previous.phase is not Phase.FAILED or previous.spec_hash != spec_hash:
        return False
    ready = find_condition(previous.conditions, "Ready")
    return ready is not None and ready.reason in {str(r) for r in _REFUSALS}


def _merge_known(
    previous: HostedAgentStatus, seen: Sequence[VersionInfo]
) -> tuple[VersionInfo, ...]:
    """Our versions as far as a one-read look knows them: those just seen, plus the history
    status recorded (a look that did not list keeps what the last list said)."""
    by_version = {
        r.version: VersionInfo(
            agent=previous.agent_name or "",
            version=r.version,
            status=r.status,
            metadata={}
            if r.adopted
            else {METADATA_MANAGED_BY: MANAGED_BY_VALUE, METADATA_SPEC_HASH: r.spec_hash},
            created_at=int(r.created_at.timestamp()) if r.created_at else 0,
            recorded_hash=r.spec_hash or None if r.adopted else None,
        )
        for r in previous.versions
    }
    for version in seen:
        by_version[version.version] = version
    return tuple(sorted(by_version.values(), key=lambda v: v.number))


def may_prune(previous: HostedAgentStatus, decision: Plan, limit: int) -> bool:
    """Whether retention could have anything to delete, judged from status's history: a
    new agent's first version needs no list of versions to know that nothing can go."""
    known = {r.version for r in previous.versions} | {v.version for v in decision.ours}
    return len(known) > limit + 1


def _observe_provisioning(previous: HostedAgentStatus, target: VersionInfo) -> None:
    """Time from creation to active/failed, counted once: when we first see it settle."""
    first_sight = previous.latest_version != target.version or previous.version_status in (
        None,
        "creating",
    )
    if first_sight and target.created_at:
        outcome = "active" if target.status == "active" else "failed"
        metrics.PROVISIONING.labels(outcome).observe(max(0.0, time.time() - target.created_at))


def drift_event(previous: HostedAgentStatus, spec_hash: str, decision: Plan) -> Event | None:
    """An Event when Foundry no longer matches what this resource had made Ready."""
    if previous.phase not in SETTLED_PHASES or previous.spec_hash != spec_hash:
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


def _rollout_status(progress: Progress, spec_hash: str) -> RolloutStatus:
    return RolloutStatus(
        version=progress.version,
        step=progress.step,
        step_started_at=progress.since.replace(microsecond=0) if progress.since else None,
        spec_hash=spec_hash,
    )


def _number(version: str) -> int:
    return int(version) if version.isdigit() else -1
