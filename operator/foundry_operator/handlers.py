"""kopf wiring only: which Kubernetes event feeds which part of the engine.

kopf watches HostedAgents and holds the finalizer ``foundry.agents.dev/finalizer``; every
watch event goes to :meth:`Engine.observe`, and a deletion waits in :meth:`Engine.release`
until the engine's reconcile of the deleted object says it is done. No handler decides
anything or raises to be called again, so kopf keeps no progress or last-handled spec on
the object: nothing of its bookkeeping is written to it (no annotation churn for watchers,
and no copy of a large spec that could outgrow the annotation size limit).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from .api.resource import GROUP, PLURAL, VERSION
from .runtime import Runtime

FINALIZER = f"{GROUP}/finalizer"


class _NoProgress(kopf.ProgressStorage):
    """Handlers here never retry through kopf, so there is no progress to keep."""

    def fetch(self, *, key: Any, body: Any) -> None:
        return None

    def store(self, *, key: Any, record: Any, body: Any, patch: Any) -> None:
        return None

    def purge(self, *, key: Any, body: Any, patch: Any) -> None:
        return None

    def touch(self, *, body: Any, patch: Any, value: Any) -> None:
        return None

    def clear(self, *, essence: Any) -> Any:
        return essence


class _NoDiffBase(kopf.DiffBaseStorage):
    """The engine compares nothing with a last-handled spec: it is level-triggered."""

    def fetch(self, *, body: Any) -> None:
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Runtime, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = _NoProgress()
    settings.persistence.diffbase_storage = _NoDiffBase()
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # Events come from the engine's recorder as foundry-agent-operator, never from kopf.
    settings.posting.enabled = False
    settings.posting.level = logging.CRITICAL
    if memo.settings.namespaces:
        # Named namespaces need no cluster-wide discovery: without this, kopf lists
        # Namespaces and watches CRDs cluster-wide, and a namespaced install (no ClusterRole)
        # sees each call refused and retried for about a minute before it falls back.
        settings.scanning.disabled = True
    if not memo.settings.project_endpoint:
        raise kopf.PermanentError(
            "no Foundry project endpoint: set AZURE_AI_PROJECT_ENDPOINT or --project-endpoint"
        )
    await memo.start(FINALIZER)


@kopf.on.cleanup()
async def cleanup(memo: Runtime, **_: Any) -> None:
    await memo.stop()


@kopf.on.event(GROUP, VERSION, PLURAL)
async def observe(event: kopf.RawEvent, body: kopf.Body, memo: Runtime, **_: Any) -> None:
    memo.engine.observe(event.get("type"), body)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def release(body: kopf.Body, memo: Runtime, **_: Any) -> None:
    await memo.engine.release(body)
