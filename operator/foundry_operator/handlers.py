"""kopf wiring only: which Kubernetes event calls which controller function.

Where kopf keeps its own state, and why: progress and the last-handled spec go into
annotations under ``foundry.agents.dev/`` (not ``status``), so ``status`` holds only what
the operator reports and a user never sees kopf's bookkeeping there. The finalizer is
``foundry.agents.dev/finalizer``.

Two paths reconcile an object, never at the same time (one lock per object):
- the change handler (create/update/resume), which kopf re-runs after each planned delay
  until the object settles;
- the resync loop (``resync.py``), which every ``resync_seconds`` (jittered) looks at a
  settled object with reads only, and writes only if Foundry drifted from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import kopf
from azure.identity.aio import DefaultAzureCredential
from kubernetes.client import CustomObjectsApi

from . import controller, metrics
from .api.resource import GROUP, PLURAL, VERSION
from .api.status import Phase
from .foundry.client import FoundryClient
from .kube.client import api_client
from .kube.env import EnvResolver, references
from .kube.refwatch import FIELD_MANAGER, RefIndex, RefWatcher
from .reconcile.report import Event, status_patch
from .resync import Entry, Resyncer
from .settings import Settings

FINALIZER = f"{GROUP}/finalizer"
# kopf logs every TemporaryError as an error; the runner lowers these planned re-looks to INFO.
REQUEUE_MARK = "requeue:"

log = logging.getLogger("foundry_operator.handlers")

# Set by the runner before kopf starts.
_settings = Settings()


def use_settings(settings: Settings) -> None:
    global _settings
    _settings = settings


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.posting.level = logging.WARNING  # logs stay logs; Events are posted explicitly
    if _settings.namespaces:
        # Named namespaces need no cluster-wide discovery: without this, kopf lists
        # Namespaces and watches CRDs cluster-wide, and a namespaced install (no ClusterRole)
        # sees each call refused and retried for about a minute before it falls back.
        settings.scanning.disabled = True
    if not _settings.project_endpoint:
        raise kopf.PermanentError(
            "no Foundry project endpoint: set AZURE_AI_PROJECT_ENDPOINT or --project-endpoint"
        )
    memo.locks = defaultdict(asyncio.Lock)
    # Reconciles in flight at once: enough to keep the Foundry cap busy, few enough that a
    # thousand objects created together do not all hold their working state at once.
    memo.gate = asyncio.Semaphore(max(32, 4 * _settings.max_concurrency))
    memo.resync = Resyncer(
        _settings.resync_seconds,
        lambda entry: _look(memo, entry),
        concurrency=_settings.max_concurrency,
    )
    memo.resync_task = None  # started by the first event: see remember()
    memo.phases = {}
    memo.refs = RefIndex()
    memo.kube = api_client()
    memo.env = EnvResolver(memo.kube)
    memo.refwatch = RefWatcher(memo.kube, memo.refs, _settings.namespaces)
    memo.refwatch.start()
    credential = DefaultAzureCredential()
    memo.credential = credential
    memo.foundry = FoundryClient(
        _settings.project_endpoint, credential, max_concurrency=_settings.max_concurrency
    )


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    if getattr(memo, "resync_task", None) is not None:
        memo.resync_task.cancel()
    if hasattr(memo, "refwatch"):
        memo.refwatch.stop()
    if hasattr(memo, "foundry"):
        await memo.foundry.close()
        await memo.credential.close()


def _resource(body: Mapping[str, Any]) -> controller.Resource:
    meta = body.get("metadata", {})
    return controller.Resource(
        uid=str(meta.get("uid", "")),
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        generation=meta.get("generation"),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        annotations=dict(meta.get("annotations") or {}),
    )


def _post(body: Mapping[str, Any], events: list[Event]) -> None:
    for event in events:
        # kopf accepts any mapping with apiVersion/kind/metadata as the involved object.
        kopf.event(
            body,  # type: ignore[arg-type]
            type=event.type,
            reason=event.reason,
            message=event.message,
        )


def _track_phase(memo: kopf.Memo, key: str, phase: Phase | None) -> None:
    if phase is None:
        memo.phases.pop(key, None)
    else:
        memo.phases[key] = phase
    counts = Counter(memo.phases.values())
    for each in Phase:
        metrics.RESOURCES.labels(each.value).set(counts.get(each, 0))


async def _reconcile(
    memo: kopf.Memo, resource: controller.Resource, attempt: int, *, resync: bool = False
) -> Any:
    async with memo.gate:
        return await _reconcile_gated(memo, resource, attempt, resync=resync)


async def _reconcile_gated(
    memo: kopf.Memo, resource: controller.Resource, attempt: int, *, resync: bool
) -> Any:
    memo.refs.set(resource.namespace, resource.name, references(resource.spec))
    env = await memo.env.resolve(resource.namespace, resource.spec)
    outcome = await controller.reconcile(
        memo.foundry,
        resource,
        env_values=env.values,
        missing_env=env.missing,
        attempt=attempt,
        timing=controller.Timing(_settings.poll_initial_seconds, _settings.poll_max_seconds),
        resync=resync,
    )
    metrics.RECONCILES.labels(outcome.result).inc()
    _track_phase(memo, resource.uid, outcome.status.phase)
    return outcome


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def reconcile(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any
) -> None:
    resource = _resource(body)
    async with memo.locks[resource.uid]:
        outcome = await _reconcile(memo, resource, retry)
    patch.status.update(status_patch(outcome.status))
    _post(body, outcome.events)
    if outcome.requeue_after is not None:
        # kopf keeps the patch above and calls us again after the delay; a newer spec
        # supersedes the wait.
        raise kopf.TemporaryError(
            f"{REQUEUE_MARK} {outcome.status.phase}, looking again in {outcome.requeue_after:.1f}s",
            delay=outcome.requeue_after,
        )


def _settled(body: Mapping[str, Any]) -> bool:
    status = body.get("status") or {}
    generation = body.get("metadata", {}).get("generation")
    return status.get("phase") in (Phase.READY, Phase.FAILED) and (
        status.get("observedGeneration") == generation
    )


async def _write_status(memo: kopf.Memo, body: Mapping[str, Any], new: dict[str, Any]) -> None:
    if dict(body.get("status") or {}) == {k: v for k, v in new.items() if v is not None}:
        return  # nothing new: no write, so watchers (and Argo CD) see no churn
    meta = body.get("metadata", {})
    await asyncio.to_thread(
        CustomObjectsApi(memo.kube).patch_namespaced_custom_object_status,
        GROUP,
        VERSION,
        meta["namespace"],
        PLURAL,
        meta["name"],
        {"status": new},
        field_manager=FIELD_MANAGER,
    )


@kopf.on.event(GROUP, VERSION, PLURAL)
async def remember(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Keep the latest body of every object for the resync loop."""
    if memo.resync_task is None:
        # Started from a handler, not from startup: a task inherits the context it is
        # created in, and kopf's Event posting needs the context its handlers run in.
        memo.resync_task = asyncio.create_task(memo.resync.run())
    uid = body.get("metadata", {}).get("uid", "")
    if event.get("type") == "DELETED":
        memo.resync.forget(uid)
    else:
        memo.resync.observe(uid, _snapshot(body))


def _snapshot(body: kopf.Body) -> dict[str, Any]:
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            k: meta.get(k) for k in ("name", "namespace", "uid", "generation", "annotations")
        },
        "spec": dict(body.get("spec") or {}),
        "status": dict(body.get("status") or {}),
    }


async def _look(memo: kopf.Memo, entry: Entry) -> float | None:
    """One periodic look at an object: reads only, unless Foundry drifted from it."""
    body = entry.body
    if not entry.repairing and not _settled(body):
        return None  # the change handler owns objects that are still moving
    resource = _resource(body)
    async with memo.locks[resource.uid]:
        outcome = await _reconcile(memo, resource, entry.attempt, resync=not entry.repairing)
    if outcome.result == "retry":
        # Foundry could not be read: say nothing (the agent may well be serving) and look
        # again soon, with backoff.
        entry.attempt += 1
        return float(outcome.requeue_after) if outcome.requeue_after else None
    entry.attempt = 0
    await _write_status(memo, body, status_patch(outcome.status))
    _post(body, outcome.events)
    entry.repairing = outcome.requeue_after is not None  # follow a drift repair to its end
    return float(outcome.requeue_after) if outcome.requeue_after else None


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def delete(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any) -> None:
    resource = _resource(body)
    async with memo.locks[resource.uid]:
        outcome = await controller.delete(memo.foundry, resource, attempt=retry)
    if outcome.status is not None:
        patch.status.update(status_patch(outcome.status))
    _post(body, outcome.events)
    if not outcome.done:
        _track_phase(memo, resource.uid, Phase.DELETING)
        raise kopf.TemporaryError(
            f"{REQUEUE_MARK} Foundry versions not deleted yet; the finalizer stays until they are",
            delay=outcome.requeue_after or 5.0,
        )
    memo.refs.remove(resource.namespace, resource.name)
    memo.locks.pop(resource.uid, None)
    _track_phase(memo, resource.uid, None)
