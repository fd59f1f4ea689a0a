"""kopf wiring only: which Kubernetes event calls which controller function.

Where kopf keeps its own state, and why: progress and the last-handled spec go into
annotations under ``foundry.agents.dev/`` (not ``status``), so ``status`` holds only what
the operator reports and a user never sees kopf's bookkeeping there. The finalizer is
``foundry.agents.dev/finalizer``.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from azure.identity.aio import DefaultAzureCredential

from . import controller, metrics
from .api.resource import GROUP, PLURAL, VERSION
from .foundry.client import FoundryClient
from .kube.client import api_client
from .kube.env import EnvResolver, references
from .kube.refwatch import RefIndex, RefWatcher
from .reconcile.report import Event, status_patch
from .settings import Settings

FINALIZER = f"{GROUP}/finalizer"
# kopf logs every TemporaryError as an error; the runner lowers these planned re-looks to INFO.
REQUEUE_MARK = "requeue:"

# Set by the runner before kopf starts; handlers read it through the startup memo.
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
    # Our own backoff decides every delay; kopf's defaults would retry errors every 60 s.
    settings.execution.max_workers = 32
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.posting.level = logging.WARNING  # logs stay logs; Events are posted explicitly
    if not _settings.project_endpoint:
        raise kopf.PermanentError(
            "no Foundry project endpoint: set AZURE_AI_PROJECT_ENDPOINT or --project-endpoint"
        )
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
    if hasattr(memo, "refwatch"):
        memo.refwatch.stop()
    if hasattr(memo, "foundry"):
        await memo.foundry.close()
        await memo.credential.close()


def _resource(body: kopf.Body) -> controller.Resource:
    meta = body.get("metadata", {})
    return controller.Resource(
        uid=str(meta.get("uid", "")),
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        generation=meta.get("generation"),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
    )


def _post(body: kopf.Body, events: list[Event]) -> None:
    for event in events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def reconcile(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any
) -> None:
    resource = _resource(body)
    memo.refs.set(resource.namespace, resource.name, references(resource.spec))
    env = await memo.env.resolve(resource.namespace, resource.spec)
    outcome = await controller.reconcile(
        memo.foundry, resource, env_values=env.values, missing_env=env.missing, attempt=retry
    )
    patch.status.update(status_patch(outcome.status))
    _post(body, outcome.events)
    metrics.RECONCILES.labels(outcome.result).inc()
    if outcome.requeue_after is not None:
        # kopf keeps the patch above and calls us again after the delay; a newer spec
        # supersedes the wait.
        raise kopf.TemporaryError(
            f"{REQUEUE_MARK} {outcome.status.phase}, looking again in {outcome.requeue_after:.1f}s",
            delay=outcome.requeue_after,
        )


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def delete(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any) -> None:
    resource = _resource(body)
    outcome = await controller.delete(memo.foundry, resource, attempt=retry)
    if outcome.status is not None:
        patch.status.update(status_patch(outcome.status))
    _post(body, outcome.events)
    if outcome.done:
        memo.refs.remove(resource.namespace, resource.name)
    else:
        raise kopf.TemporaryError(
            "Foundry versions not deleted yet; the finalizer stays until they are",
            delay=outcome.requeue_after or 5.0,
        )
