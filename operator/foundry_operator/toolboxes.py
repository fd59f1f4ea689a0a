"""Foundry toolboxes: one converge shared by FoundryToolboxes and inline ``spec.tools``, and
the reconcile of a FoundryToolbox.

Like ``controller.py`` this module only sequences I/O; every decision is a pure function in
``reconcile/toolbox.py``. It never writes the FoundryToolbox: the engine writes the status
and posts the Events of the :class:`ToolboxOutcome` it returns.

Reconciles touching one Foundry toolbox name run one at a time (a lock per name, shared by
both kinds of owner), so two resources that want the same toolbox never both create in it:
the first claims it with its first version, the second finds it taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .api.reserved import toolbox_reserved_metadata
from .api.resource import RETRY_ANNOTATION
from .api.spec import ManagementPolicy
from .api.status import Phase
from .api.toolbox import (
    DeletionPolicy,
    FoundryToolboxSpec,
    FoundryToolboxStatus,
    ToolboxManagementPolicy,
    resolve_toolbox_name,
)
from .foundry.client import FoundryClient, FoundryError
from .kube.env import EnvResolver, Ref, resolve_keys, resolve_secret_keys
from .kube.toolboxes import Toolboxes
from .reconcile.conditions import StateReason
from .reconcile.errors import Failure, Reason, clean_message, describe_http_error
from .reconcile.nextlook import Look
from .reconcile.policy import (
    PAUSED_CONDITION,
    deletion,
    paused_conditions,
    paused_message,
    without_other_policy_conditions,
)
from .reconcile.report import Event
from .reconcile.toolbox import (
    KIND_TOOLBOX,
    DesiredToolbox,
    InvalidOpenApiDocument,
    ToolboxAction,
    ToolboxInfo,
    ToolboxPlan,
    ToolboxReport,
    ToolboxVersionInfo,
    build_toolbox_status,
    config_map_keys,
    conflict_message,
    create_toolbox_body,
    decisive_latest_toolbox,
    desired_toolbox,
    load_toolbox_status,
    mcp_url,
    openapi_documents,
    owned_toolbox_versions,
    plan_toolbox,
    secret_keys,
)

if TYPE_CHECKING:  # controller imports this module; Resource is only an annotation here
    from .controller import Resource

log = logging.getLogger("foundry_operator.toolboxes")

# Create, make default and prune fit in one look; this bounds it should Foundry keep moving.
_MAX_STEPS = 4
# How often a deletion held by ToolboxInUse looks again (the HostedAgents' own events wake
# it sooner: see handlers.py).
IN_USE_RECHECK_SECONDS = 15.0


@dataclass(frozen=True)
class ToolboxOutcome:
    """One FoundryToolbox reconcile's result, in the shape the engine reads
    (``engine.runtime.Result``; ``controller.Outcome`` is the HostedAgent's)."""

    status: FoundryToolboxStatus | None
    events: list[Event]
    look: Look
    result: str
    retry_after: float | None = None
    # The Foundry toolbox name: what the engine hands back to release_agent when it forgets.
    agent: str | None = None
    secrets: tuple[str, ...] = ()
    refs: frozenset[Ref] = frozenset()


@dataclass(frozen=True)
class ToolboxOwner:
    """Who a toolbox's versions belong to: ``kind`` ``namespace/name`` (and its UID)."""

    kind: str
    namespace: str
    name: str
    uid: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Converged:
    """Where one converge left the toolbox."""

    plan: ToolboxPlan
    # The version for the current spec, now the toolbox's default (None on a conflict).
    current: ToolboxVersionInfo | None = None
    # Our versions as far as this look knows them (None: it did not list them).
    ours: tuple[ToolboxVersionInfo, ...] | None = None
    events: tuple[Event, ...] = field(default=())


class ToolboxLocks:
    """One lock per Foundry toolbox name, shared by every reconciler that converges one."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __getitem__(self, name: str) -> asyncio.Lock:
        return self._locks[name]

    def release(self, name: str) -> None:
        lock = self._locks.get(name)
        if lock is not None and not lock.locked():
            del self._locks[name]


async def converge_toolbox(
    foundry: FoundryClient,
    name: str,
    owner: ToolboxOwner,
    desired: DesiredToolbox,
    *,
    revision_history_limit: int,
) -> Converged:
    """Make Foundry's toolbox ``name`` hold a version for ``desired`` as its default: one
    read when it already does. Raises FoundryError when a call fails."""
    info = await foundry.get_toolbox(name)
    latest = decisive_latest_toolbox(owner.ref, owner.kind, desired.spec_hash, info)
    versions: list[ToolboxVersionInfo]
    listed = False
    if info is None:
        versions = []
        listed = True
    elif latest is not None:
        versions = [latest]
    else:
        versions = await foundry.list_toolbox_versions(name)
        listed = True
    events: list[Event] = []
    for _ in range(_MAX_STEPS):
        decision = plan_toolbox(
            owner=owner.ref,
            kind=owner.kind,
            spec_hash=desired.spec_hash,
            versions=versions,
            info=info,
            revision_history_limit=revision_history_limit,
        )
        if decision.action is ToolboxAction.CONFLICT:
            return Converged(decision, events=tuple(events))
        if decision.action is ToolboxAction.CREATE:
            reserved = toolbox_reserved_metadata(
                uid=owner.uid,
                namespace=owner.namespace,
                name=owner.name,
                kind=owner.kind,
                spec_hash=desired.spec_hash,
            )
            created = await foundry.create_toolbox_version(
                name, create_toolbox_body(desired, reserved)
            )
            log.info(
                "created toolbox version %s",
                created.version,
                extra={"k8s": {"namespace": owner.namespace, "name": owner.name}, "toolbox": name},
            )
            events.append(
                Event(
                    "Normal",
                    "ToolboxVersionCreated",
                    f"Created version {created.version} of Foundry toolbox {name!r}",
                )
            )
            versions = [*versions, created]
            if info is None:
                # The first version made the toolbox; Foundry points its default at it.
                info = ToolboxInfo(name, created.version, created)
            continue
        if decision.action is ToolboxAction.SET_DEFAULT:
            assert decision.target is not None
            info = await foundry.set_default_toolbox_version(name, decision.target.version)
            if info.default_version is None:
                info = replace(info, default_version=decision.target.version)
            continue
        # READY: retention last, once the current version is the default.
        for version in decision.prune:
            await foundry.delete_toolbox_version(name, version)
        ours = tuple(v for v in decision.ours if v.version not in decision.prune)
        if decision.prune:
            events.append(
                Event(
                    "Normal",
                    "ToolboxVersionsPruned",
                    f"Deleted old versions {', '.join(decision.prune)} of Foundry toolbox "
                    f"{name!r} (revisionHistoryLimit {revision_history_limit})",
                )
            )
        return Converged(
            decision,
            current=decision.target,
            ours=ours if listed else None,
            events=tuple(events),
        )
    raise FoundryError("toolbox", None, None, "Foundry kept changing the toolbox; looking again")


def conflict_of(name: str, converged: Converged) -> Failure:
    """A converge that found the toolbox taken, as the failure people read."""
    return Failure(
        Reason.TOOLBOX_NAME_CONFLICT,
        "ToolboxNameConflict",
        conflict_message(name, converged.plan),
    )


async def delete_owned_toolbox(foundry: FoundryClient, name: str, owner: ToolboxOwner) -> int:
    """Delete the versions of toolbox ``name`` that ``owner`` created: the whole toolbox
    when every version is its own. Returns how many went (0 when none were there)."""
    versions = await foundry.list_toolbox_versions(name)
    ours = owned_toolbox_versions(owner.ref, owner.kind, versions)
    if ours and len(ours) == len(versions):
        await foundry.delete_toolbox(name)
    else:
        for version in ours:
            await foundry.delete_toolbox_version(name, version.version)
    return len(ours)


def _now() -> datetime:
    return datetime.now(UTC)


def _first_error(exc: ValueError) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg', 'invalid')}"


def parse_toolbox(resource: Resource) -> tuple[FoundryToolboxSpec, str] | Failure:
    try:
        spec = FoundryToolboxSpec.model_validate(dict(resource.spec))
        return spec, resolve_toolbox_name(spec, resource.name)
    except ValueError as exc:
        return Failure(Reason.INVALID_SPEC, "InvalidSpec", clean_message(_first_error(exc)))


class ToolboxReconciler:
    """Reconciles FoundryToolboxes, through the same engine as HostedAgents."""

    def __init__(
        self,
        foundry: FoundryClient,
        env: EnvResolver,
        toolboxes: Toolboxes,
        locks: ToolboxLocks,
    ) -> None:
        self.foundry = foundry
        self.env = env
        self.toolboxes = toolboxes
        self.locks = locks

    def release_agent(self, agent: str) -> None:
        """The engine's hook for a forgotten object (here ``agent`` is a toolbox name)."""
        self.locks.release(agent)

    def _finish(
        self,
        resource: Resource,
        previous: FoundryToolboxStatus,
        report: ToolboxReport,
        look: Look,
        result: str,
        *,
        events: tuple[Event, ...] = (),
        retry_after: float | None = None,
        secrets: tuple[str, ...] = (),
        refs: frozenset[Ref] = frozenset(),
    ) -> ToolboxOutcome:
        status = build_toolbox_status(previous, report, generation=resource.generation, now=_now())
        return ToolboxOutcome(
            status,
            [*events, *_transition_events(previous, report)],
            look,
            result,
            retry_after,
            report.toolbox_name,
            secrets=secrets,
            refs=refs,
        )

    async def reconcile(self, resource: Resource) -> ToolboxOutcome:
        previous = load_toolbox_status(resource.status)
        parsed = parse_toolbox(resource)
        if isinstance(parsed, Failure):
            report = ToolboxReport(
                Phase.FAILED, previous.toolbox_name or resource.name, failure=parsed
            )
            return self._finish(resource, previous, report, Look.SETTLED, "failed")
        spec, name = parsed
        policy = ManagementPolicy(str(spec.management_policy))
        previous = previous.model_copy(
            update={"conditions": without_other_policy_conditions(previous.conditions, policy)}
        )
        if spec.management_policy is ToolboxManagementPolicy.PAUSED:
            return self._paused(resource, previous, name)
        keys = secret_keys(spec.tools)
        maps = config_map_keys(spec.tools)
        # Both kinds are watched (kube/refwatch.py): an edited OpenAPI ConfigMap wakes this
        # toolbox like a rotated Secret does, and its new document hashes to a new version.
        refs = frozenset(Ref("Secret", k.name) for k in keys) | frozenset(
            Ref("ConfigMap", m.name) for m in maps
        )
        resolved = await resolve_secret_keys(
            self.env, resource.namespace, [(k.name, k.key) for k in keys]
        )
        texts = await resolve_keys(
            self.env, resource.namespace, "ConfigMap", [(m.name, m.key) for m in maps]
        )
        secrets = tuple(resolved.values.values())
        missing = [*resolved.missing, *texts.missing]
        if missing:
            failure = Failure(Reason.SECRET_NOT_FOUND, "SecretNotFound", "; ".join(missing))
            phase = Phase.PROVISIONING if previous.current_version else Phase.PENDING
            report = ToolboxReport(phase, name, failure=failure)
            return self._finish(
                resource, previous, report, Look.RETRY, "retry", secrets=secrets, refs=refs
            )
        try:
            documents = openapi_documents(spec.tools, texts.values)
        except InvalidOpenApiDocument as exc:
            # Settled, not retried: only an edit of the ConfigMap (watched) can fix it.
            failure = Failure(Reason.INVALID_SPEC, "InvalidSpec", clean_message(str(exc)))
            report = ToolboxReport(Phase.FAILED, name, failure=failure)
            return self._finish(
                resource, previous, report, Look.SETTLED, "failed", secrets=secrets, refs=refs
            )
        desired = desired_toolbox(
            spec.tools,
            resolved.values,
            description=spec.description,
            metadata=spec.metadata,
            retry_token=resource.annotations.get(RETRY_ANNOTATION),
            documents=documents,
        )
        owner = ToolboxOwner(KIND_TOOLBOX, resource.namespace, resource.name, resource.uid)
        async with self.locks[name]:
            try:
                converged = await converge_toolbox(
                    self.foundry,
                    name,
                    owner,
                    desired,
                    revision_history_limit=spec.revision_history_limit,
                )
            except FoundryError as err:
                failure = describe_http_error(
                    err.status, err.code, err.message, secret_values=secrets
                )
                log.warning(
                    "Foundry call failed for toolbox %s/%s: %s",
                    resource.namespace,
                    resource.name,
                    clean_message(str(err), secrets),
                    extra={"k8s": {"namespace": resource.namespace, "name": resource.name}},
                )
                if failure.transient:
                    if previous.phase is Phase.READY and previous.spec_hash == desired.spec_hash:
                        return ToolboxOutcome(None, [], Look.RETRY, "retry", err.retry_after, name)
                    report = ToolboxReport(
                        Phase.PROVISIONING, name, spec_hash=desired.spec_hash, failure=failure
                    )
                    return self._finish(
                        resource,
                        previous,
                        report,
                        Look.RETRY,
                        "retry",
                        retry_after=err.retry_after,
                        secrets=secrets,
                        refs=refs,
                    )
                report = ToolboxReport(
                    Phase.FAILED, name, spec_hash=desired.spec_hash, failure=failure
                )
                return self._finish(
                    resource, previous, report, Look.SETTLED, "failed", secrets=secrets, refs=refs
                )
        if converged.current is None:
            failure = conflict_of(name, converged)
            report = ToolboxReport(Phase.FAILED, name, spec_hash=desired.spec_hash, failure=failure)
            return self._finish(
                resource, previous, report, Look.SETTLED, "conflict", secrets=secrets, refs=refs
            )
        current = converged.current.version
        report = ToolboxReport(
            Phase.READY,
            name,
            spec_hash=desired.spec_hash,
            reason=StateReason.VERSION_ACTIVE,
            message=f"Version {current} is the toolbox's default version",
            current=current,
            mcp_endpoint=mcp_url(self.foundry.endpoint, name, current, self.foundry.api_version),
            ours=converged.ours if converged.ours is not None else _known(previous, converged),
        )
        return self._finish(
            resource,
            previous,
            report,
            Look.SETTLED,
            "ready",
            events=converged.events,
            secrets=secrets,
            refs=refs,
        )

    def _paused(
        self, resource: Resource, previous: FoundryToolboxStatus, name: str
    ) -> ToolboxOutcome:
        """spec.managementPolicy Paused: no Foundry call; status says so and keeps the rest."""
        was = next((c for c in previous.conditions if c.type == PAUSED_CONDITION), None)
        status = previous.model_copy(
            update={
                "observed_generation": resource.generation,
                "toolbox_name": previous.toolbox_name or name,
                "conditions": paused_conditions(
                    previous.conditions, generation=resource.generation, now=_now()
                ),
            }
        )
        events: list[Event] = []
        if was is None or was.status != "True":
            log.info(
                "paused: no Foundry calls for toolbox %s until spec.managementPolicy is Manage",
                name,
                extra={"k8s": {"namespace": resource.namespace, "name": resource.name}},
            )
            events.append(Event("Normal", "Paused", paused_message()))
        return ToolboxOutcome(status, events, Look.SETTLED, "paused", None, name)

    async def delete(self, resource: Resource) -> ToolboxOutcome:
        """Delete what this FoundryToolbox created, once no HostedAgent names it."""
        previous = load_toolbox_status(resource.status)
        parsed = parse_toolbox(resource)
        management = ManagementPolicy.MANAGE
        if isinstance(parsed, Failure):
            policy, name = DeletionPolicy.DELETE, previous.toolbox_name or resource.name
        else:
            policy, name = parsed[0].deletion_policy, previous.toolbox_name or parsed[1]
            management = ManagementPolicy(str(parsed[0].management_policy))
        decided = deletion(management, policy, f"Foundry toolbox {name!r}")
        decisions: list[Event] = []
        if decided.message is not None:
            # The one explicit decision a paused toolbox's deletion makes.
            log.info(
                decided.message,
                extra={"k8s": {"namespace": resource.namespace, "name": resource.name}},
            )
            decisions.append(Event("Normal", "DeletionDecision", decided.message))
        if not decided.delete_in_foundry:
            event = Event(
                "Normal", "Retained", f"Foundry toolbox {name!r} and its versions were kept"
            )
            return ToolboxOutcome(None, [*decisions, event], Look.DONE, "deleted", None, name)
        users = await self.toolboxes.users(resource.namespace, resource.name)
        if users:
            listed = ", ".join(f"{resource.namespace}/{u}" for u in users[:10])
            more = f" and {len(users) - 10} more" if len(users) > 10 else ""
            failure = Failure(
                Reason.TOOLBOX_IN_USE,
                "ToolboxInUse",
                f"Foundry toolbox {name!r} is not deleted while HostedAgent {listed}{more} uses it",
            )
            report = ToolboxReport(Phase.DELETING, name, failure=failure)
            return self._finish(
                resource,
                previous,
                report,
                Look.HOLD,
                "retry",
                retry_after=IN_USE_RECHECK_SECONDS,
            )
        owner = ToolboxOwner(KIND_TOOLBOX, resource.namespace, resource.name, resource.uid)
        async with self.locks[name]:
            try:
                deleted = await delete_owned_toolbox(self.foundry, name, owner)
            except FoundryError as err:
                failure = describe_http_error(err.status, err.code, err.message)
                report = ToolboxReport(Phase.DELETING, name, failure=failure)
                return self._finish(
                    resource, previous, report, Look.RETRY, "retry", retry_after=err.retry_after
                )
        event = Event(
            "Normal", "Deleted", f"Deleted {deleted} version(s) of Foundry toolbox {name!r}"
        )
        return ToolboxOutcome(None, [*decisions, event], Look.DONE, "deleted", None, name)


def _known(
    previous: FoundryToolboxStatus, converged: Converged
) -> tuple[ToolboxVersionInfo, ...] | None:
    """History when the look did not list: what status said, plus what was just seen."""
    if converged.current is None:
        return None
    recorded = {r.version for r in previous.versions}
    if converged.current.version in recorded:
        return None  # status already lists it: keep status's history
    seen: dict[str, ToolboxVersionInfo] = {
        r.version: ToolboxVersionInfo(
            converged.current.name, r.version, {"k8s-spec-hash": r.spec_hash}
        )
        for r in previous.versions
    }
    seen[converged.current.version] = converged.current
    return tuple(seen.values())


def _transition_events(previous: FoundryToolboxStatus, report: ToolboxReport) -> list[Event]:
    old = previous.last_error.code if previous.last_error else None
    failure = report.failure
    if failure and (previous.phase != report.phase or old != failure.code):
        return [
            Event(
                "Warning",
                str(failure.reason),
                f"{failure.message.rstrip('.')}. {failure.remediation}",
            )
        ]
    if report.phase is Phase.READY and (
        previous.phase is not Phase.READY or previous.current_version != report.current
    ):
        return [
            Event(
                "Normal",
                "Ready",
                f"Version {report.current} of Foundry toolbox {report.toolbox_name!r} is the "
                "default version",
            )
        ]
    return []


def toolbox_status_of(body: Mapping[str, Any]) -> FoundryToolboxStatus:
    """A FoundryToolbox's status as stored (tolerating any operator version's)."""
    return load_toolbox_status(body.get("status"))
