"""kopf wiring only: which Kubernetes event feeds which part of the engine.

kopf watches HostedAgents, FoundryToolboxes and the project kinds and holds the finalizer
``foundry.agents.dev/finalizer`` on them; every watch event goes to :meth:`Engine.observe`
of that resource's engine, and a deletion waits in :meth:`Engine.release` until the
engine's reconcile of the deleted object says it is done. The HostedAgent and toolbox
watches also feed the toolbox links (``links.py``), which only say whom to enqueue: the
HostedAgents of a toolbox whose current version moved, and the toolbox a HostedAgent
stopped using. No handler decides anything or raises to be called again, so kopf keeps no
progress or last-handled spec on the object: nothing of its bookkeeping is written to it
(no annotation churn for watchers, and no copy of a large spec that could outgrow the
annotation size limit). The one thing a handler changes is kopf's own copy of an event:
it drops the event's managedFields (:func:`drop_managed_fields`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import kopf

from .api.resource import (
    CLUSTER_PROJECT_KIND,
    CLUSTER_PROJECT_PLURAL,
    GROUP,
    PLURAL,
    PROJECT_KIND,
    PROJECT_PLURAL,
    TOOLBOX_PLURAL,
    VERSION,
)
from .kube import config
from .reconcile.project import ready_marker
from .runtime import Runtime

FINALIZER = f"{GROUP}/finalizer"
IDLE_WORKER_SECONDS = 0.5


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

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        # kopf deep-copies every watched body to build this essence (about 2% of the
        # operator's CPU in a mass rollout), only to diff it against a base never stored.
        return {}

    def fetch(self, *, body: Any) -> None:
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None


@kopf.on.login()
async def login(memo: Runtime, **_: Any) -> kopf.AiohttpSession:
    """kopf and the operator's own client authenticate the same way (kube/config.py).

    kopf's own session has no cap on connections: a burst of new objects (each one's
    finalizer PATCH at once) opened one TLS session per request, well over a hundred, whose
    handshakes and buffers cost more than the requests. So kopf gets a session like its own
    but capped, and closes it itself when the credentials are renewed or the operator stops.
    """
    try:
        info = kopf.ConnectionInfo(**await config.kopf_login(config.load()))
    except config.ConfigError as exc:
        raise kopf.LoginError(str(exc)) from None
    # Every watch stream holds a connection for as long as it runs, on top of the cap.
    return capped_session(
        info, memo.settings.kube_connections + watch_streams(memo.settings.namespaces)
    )


def watch_streams(namespaces: Sequence[str]) -> int:
    """kopf's watch streams: one per namespaced kind and watched namespace (or one
    cluster-wide), and the ClusterFoundryProjects' when cluster-wide."""
    namespaced = len((PLURAL, TOOLBOX_PLURAL, PROJECT_PLURAL))
    if not namespaces:
        return namespaced + 1
    return namespaced * len(namespaces)


def capped_session(info: kopf.ConnectionInfo, connections: int) -> kopf.AiohttpSession:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=connections,
            ssl=info.as_ssl_context(),
        ),
        headers=info.as_http_headers(),
    )
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        expiration=info.expiration,
        priority=info.priority,
    )


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Runtime, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = _NoProgress()
    settings.persistence.diffbase_storage = _NoDiffBase()
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # kopf keeps a worker per object until it has idled this long, and the worker holds the
    # object's last raw event (managedFields and all) while it waits. The engine has its own
    # copy and queue, so a worker need not outlive its event: under a burst of a thousand
    # new objects, kopf's default of 5 s kept every one of those bodies alive.
    settings.queueing.idle_timeout = IDLE_WORKER_SECONDS
    # Events come from the engine's recorder as foundry-agent-operator, never from kopf.
    settings.posting.enabled = False
    settings.posting.level = logging.CRITICAL
    # kopf resolves the HostedAgent resource once at startup and keeps watching it. Its CRD
    # watch is off on purpose: when the CRD is deleted with objects present, kopf would see
    # the terminating CRD lose its patch verb and stop serving it, so no finalizer would
    # ever run and the CRD would stay Terminating for good. Watching on, the deletions run
    # and the CRD goes. (It also spares a namespaced install, which has no ClusterRole, a
    # minute of refused cluster-wide calls.) A CRD installed after the operator started is
    # therefore not seen: the startup check below makes the operator exit, and Kubernetes
    # starts it again, until the CRD exists.
    settings.scanning.disabled = True
    if not memo.settings.project_endpoint:
        raise kopf.PermanentError(
            "no Foundry project endpoint: set AZURE_AI_PROJECT_ENDPOINT or --project-endpoint"
        )
    await memo.start(FINALIZER)
    missing = await memo.missing_crds()
    if missing:
        which = f"CRD {missing[0]} is" if len(missing) == 1 else f"CRDs {', '.join(missing)} are"
        raise kopf.PermanentError(
            f"the {which} not installed: install them (kubectl apply --server-side -f crds/, "
            "or the chart); the operator exits so that it starts again once they are"
        )


@kopf.on.cleanup()
async def cleanup(memo: Runtime, **_: Any) -> None:
    await memo.stop()


def drop_managed_fields(event: kopf.RawEvent) -> None:
    """Remove managedFields from the event kopf is processing.

    kopf hands its on.event handlers the very event (and a Body over the very dict) it keeps
    until this event's processing ends: through a deletion handler's wait, its finalizer
    PATCH and the worker's idle time. managedFields are often the largest part of a body,
    and neither kopf nor the operator reads them. Under a burst of a thousand objects these
    held copies were a large part of the run's memory peak (the README's benchmark notes
    have the figures).
    """
    obj: Any = event.get("object")
    meta: Any = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(meta, dict):
        meta.pop("managedFields", None)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def observe(event: kopf.RawEvent, body: kopf.Body, memo: Runtime, **_: Any) -> None:
    drop_managed_fields(event)
    memo.engine.observe(event.get("type"), body)
    for namespace, name in memo.toolbox_links.agent_seen(event.get("type"), body):
        memo.toolbox_engine.enqueue(namespace, name)
    memo.projects.agent_seen(event.get("type"), body)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def release(body: kopf.Body, memo: Runtime, **_: Any) -> None:
    await memo.engine.release(body)


@kopf.on.event(GROUP, VERSION, TOOLBOX_PLURAL)
async def observe_toolbox(event: kopf.RawEvent, body: kopf.Body, memo: Runtime, **_: Any) -> None:
    drop_managed_fields(event)
    memo.toolbox_engine.observe(event.get("type"), body)
    for namespace, name in memo.toolbox_links.toolbox_seen(event.get("type"), body):
        memo.engine.enqueue(namespace, name)


@kopf.on.delete(GROUP, VERSION, TOOLBOX_PLURAL)
async def release_toolbox(body: kopf.Body, memo: Runtime, **_: Any) -> None:
    await memo.toolbox_engine.release(body)


def _project_event(kind: str, event: kopf.RawEvent, body: kopf.Body, memo: Runtime) -> None:
    drop_managed_fields(event)
    engine = memo.project_engine(kind)
    if engine is None:
        return
    engine.observe(event.get("type"), body)
    marker = ready_marker(body)
    for namespace, name in memo.projects.project_seen(kind, event.get("type"), body, marker):
        memo.engine.enqueue(namespace, name)


async def _project_release(kind: str, body: kopf.Body, memo: Runtime) -> None:
    engine = memo.project_engine(kind)
    if engine is not None:
        await engine.release(body)


@kopf.on.event(GROUP, VERSION, PROJECT_PLURAL)
async def observe_project(event: kopf.RawEvent, body: kopf.Body, memo: Runtime, **_: Any) -> None:
    _project_event(PROJECT_KIND, event, body, memo)


@kopf.on.delete(GROUP, VERSION, PROJECT_PLURAL)
async def release_project(body: kopf.Body, memo: Runtime, **_: Any) -> None:
    await _project_release(PROJECT_KIND, body, memo)


async def observe_cluster_project(
    event: kopf.RawEvent, body: kopf.Body, memo: Runtime, **_: Any
) -> None:
    _project_event(CLUSTER_PROJECT_KIND, event, body, memo)


async def release_cluster_project(body: kopf.Body, memo: Runtime, **_: Any) -> None:
    await _project_release(CLUSTER_PROJECT_KIND, body, memo)


_cluster_served: list[bool] = []


def serve_cluster_projects() -> None:
    """Watch ClusterFoundryProjects too: only a cluster-wide install may (a namespaced one
    has no cluster-scoped rule, and kopf would retry a refused watch forever)."""
    if _cluster_served:
        return
    _cluster_served.append(True)
    kopf.on.event(GROUP, VERSION, CLUSTER_PROJECT_PLURAL)(observe_cluster_project)
    kopf.on.delete(GROUP, VERSION, CLUSTER_PROJECT_PLURAL)(release_cluster_project)
