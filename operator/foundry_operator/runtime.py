"""The operator's long-lived parts, typed, built once at startup and closed at cleanup.

kopf hands this object to every handler as ``memo``. It copies it shallowly for each watched
object, after the startup handler has filled it in, so every copy shares these parts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.identity.aio import DefaultAzureCredential

from . import metrics
from .api.resource import (
    CLUSTER_PROJECT_CRD_NAME,
    CLUSTER_PROJECT_KIND,
    CLUSTER_PROJECT_PLURAL,
    CRD_NAME,
    GROUP,
    PLURAL,
    PROJECT_CRD_NAME,
    PROJECT_KIND,
    PROJECT_PLURAL,
    TOOLBOX_CRD_NAME,
    TOOLBOX_KIND,
    TOOLBOX_PLURAL,
    VERSION,
)
from .controller import Reconciler
from .engine.runtime import Engine, Key
from .engine.writer import EventRecorder, StatusWriter
from .foundry.client import FoundryClient
from .foundry.projects import ProjectClients
from .kube import config
from .kube.api import KubeClient, KubeError
from .kube.configmaps import ConfigMaps
from .kube.env import EnvResolver
from .kube.refwatch import RefIndex, RefWatcher
from .kube.toolboxes import Toolboxes
from .links import ProjectLinks, ToolboxLinks
from .project_routing import AgentRouter, ProjectResolver
from .projects import ProjectReconciler
from .reconcile.errors import Failure
from .reconcile.nextlook import Timing
from .reconcile.project import ProjectKey
from .settings import Settings
from .toolboxes import ToolboxLocks, ToolboxReconciler

# FoundryToolboxes change rarely and each reconcile is a read or two: a few workers do.
TOOLBOX_WORKERS_MIN = 2
# Projects are few and each reconcile is one read.
PROJECT_WORKERS = 2


@dataclass
class Runtime:
    settings: Settings
    kube: KubeClient | None = None
    credential: DefaultAzureCredential | None = None
    foundry: FoundryClient | None = None
    watcher: RefWatcher | None = None
    links: ToolboxLinks | None = None
    project_links: ProjectLinks | None = None
    clients: ProjectClients | None = None
    _engine: Engine | None = None
    _toolbox_engine: Engine | None = None
    # One engine instance per project kind; the cluster one only in a cluster-wide install.
    _project_engines: dict[str, Engine] | None = None
    # kopf's stop flag. kopf waits up to 5 s for every task still alive after cleanup, its
    # own waiter on this flag included: setting it at cleanup lets a stopping pod exit at once.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def engine(self) -> Engine:
        """The engine of HostedAgents."""
        if self._engine is None:
            raise RuntimeError("the operator has not started")
        return self._engine

    @property
    def toolbox_engine(self) -> Engine:
        """The engine of FoundryToolboxes: the same engine, a second instance, so that each
        resource has its own queue, cache and status writer while sharing the Foundry
        client (one cap on calls in flight), the Secret watch and the toolbox locks."""
        if self._toolbox_engine is None:
            raise RuntimeError("the operator has not started")
        return self._toolbox_engine

    def project_engine(self, kind: str) -> Engine | None:
        """The engine of FoundryProjects or ClusterFoundryProjects (None: not served)."""
        if self._project_engines is None:
            raise RuntimeError("the operator has not started")
        return self._project_engines.get(kind)

    @property
    def projects(self) -> ProjectLinks:
        if self.project_links is None:
            raise RuntimeError("the operator has not started")
        return self.project_links

    @property
    def toolbox_links(self) -> ToolboxLinks:
        if self.links is None:
            raise RuntimeError("the operator has not started")
        return self.links

    async def start(self, finalizer: str) -> None:
        settings = self.settings
        kube = KubeClient(config.load(), connections=settings.kube_connections)
        credential = DefaultAzureCredential()
        foundry = FoundryClient(
            settings.project_endpoint or "",
            credential,
            max_concurrency=settings.max_concurrency,
            connect_timeout=settings.foundry_connect_timeout,
            read_timeout=settings.foundry_read_timeout,
        )
        refs = RefIndex()
        toolbox_refs = RefIndex()
        project_refs = RefIndex()
        toolboxes = Toolboxes(kube)
        locks = ToolboxLocks()
        project_links = ProjectLinks()
        cluster = not settings.namespaces

        def client_for(endpoint: str, token: Any, cap: int) -> FoundryClient:
            return FoundryClient(
                endpoint,
                token,
                max_concurrency=cap,
                connect_timeout=settings.foundry_connect_timeout,
                read_timeout=settings.foundry_read_timeout,
            )

        clients = ProjectClients(
            credential, client_for, default_concurrency=settings.max_concurrency
        )

        def reader(plural: str) -> Callable[[Key], Awaitable[Mapping[str, Any] | None]]:
            async def read(key: Key) -> Mapping[str, Any] | None:
                where = f"namespaces/{key[0]}/" if key[0] else ""
                try:
                    return await kube.request(
                        "GET", f"/apis/{GROUP}/{VERSION}/{where}{plural}/{key[1]}"
                    )
                except KubeError as exc:
                    if exc.status == 404:
                        return None
                    raise

            return read

        timing = Timing(
            poll_initial=settings.poll_initial_seconds,
            poll_max=settings.poll_max_seconds,
            backoff_max=settings.backoff_max_seconds,
            resync=settings.resync_seconds,
        )

        def reconciler(
            client: FoundryClient, explain: Callable[[Failure], Failure] | None = None
        ) -> Reconciler:
            return Reconciler(
                client,
                EnvResolver(kube),
                ConfigMaps(kube),
                directory_min_batch=settings.directory_min_batch,
                toolboxes=toolboxes,
                toolbox_locks=locks,
                explain_deletion=explain,
            )

        engine = Engine(
            AgentRouter(
                reconciler(foundry), reconciler, ProjectResolver(kube, clients, cluster=cluster)
            ),
            StatusWriter(kube),
            EventRecorder(kube),
            refs,
            reader(PLURAL),
            finalizer=finalizer,
            workers=settings.worker_count,
            timing=timing,
        )
        toolbox_engine = Engine(
            ToolboxReconciler(foundry, EnvResolver(kube), toolboxes, locks),
            StatusWriter(kube, plural=TOOLBOX_PLURAL),
            EventRecorder(kube, kind=TOOLBOX_KIND),
            toolbox_refs,
            reader(TOOLBOX_PLURAL),
            finalizer=finalizer,
            workers=max(TOOLBOX_WORKERS_MIN, settings.worker_count // 8),
            timing=timing,
            phases=metrics.TOOLBOXES,
        )

        def wake_users(key: ProjectKey) -> None:
            for namespace, name in project_links.users(key.kind, key.namespace, key.name):
                engine.enqueue(namespace, name)

        project_engines: dict[str, Engine] = {}
        kinds = [(PROJECT_KIND, PROJECT_PLURAL)]
        if cluster:
            kinds.append((CLUSTER_PROJECT_KIND, CLUSTER_PROJECT_PLURAL))
        for kind, plural in kinds:
            project_engines[kind] = Engine(
                ProjectReconciler(kind, clients, EnvResolver(kube), wake_users),
                StatusWriter(kube, plural=plural),
                EventRecorder(kube, kind=kind),
                # Only FoundryProjects' Secrets are in the namespace the ref watch indexes by.
                project_refs if kind == PROJECT_KIND else RefIndex(),
                reader(plural),
                finalizer=finalizer,
                workers=PROJECT_WORKERS,
                timing=timing,
                phases=metrics.PROJECTS if kind == PROJECT_KIND else metrics.CLUSTER_PROJECTS,
            )
        await engine.start()
        await toolbox_engine.start()
        for each in project_engines.values():
            await each.start()
        watcher = RefWatcher(
            kube,
            refs,
            settings.namespaces,
            engine.enqueue,
            also=[
                (toolbox_refs, toolbox_engine.enqueue),
                (project_refs, project_engines[PROJECT_KIND].enqueue),
            ],
        )
        watcher.start()
        self.kube, self.credential, self.foundry = kube, credential, foundry
        self.watcher, self._engine, self._toolbox_engine = watcher, engine, toolbox_engine
        self._project_engines, self.clients = project_engines, clients
        self.links, self.project_links = ToolboxLinks(), project_links

    async def missing_crds(self) -> list[str]:
        """The CRDs the API server does not serve (HostedAgents, FoundryToolboxes,
        FoundryProjects, and ClusterFoundryProjects in a cluster-wide install)."""
        if self.kube is None:
            return [CRD_NAME, TOOLBOX_CRD_NAME, PROJECT_CRD_NAME]
        namespaces = self.settings.namespaces
        # A namespaced install may list only there.
        where = f"namespaces/{namespaces[0]}/" if namespaces else ""
        missing: list[str] = []
        served = [
            (where, PLURAL, CRD_NAME),
            (where, TOOLBOX_PLURAL, TOOLBOX_CRD_NAME),
            (where, PROJECT_PLURAL, PROJECT_CRD_NAME),
        ]
        if not namespaces:
            served.append(("", CLUSTER_PROJECT_PLURAL, CLUSTER_PROJECT_CRD_NAME))
        for prefix, plural, crd in served:
            try:
                await self.kube.request(
                    "GET", f"/apis/{GROUP}/{VERSION}/{prefix}{plural}", query={"limit": "1"}
                )
            except KubeError as exc:
                if exc.status != 404:
                    raise
                missing.append(crd)
        return missing

    async def crd_served(self) -> bool:
        """Whether the API server serves both resources (the CRDs are installed)."""
        return not await self.missing_crds()

    async def stop(self) -> None:
        self.stopping.set()
        if self.watcher is not None:
            await self.watcher.stop()
        if self._engine is not None:
            await self._engine.stop()
        if self._toolbox_engine is not None:
            await self._toolbox_engine.stop()
        for each in (self._project_engines or {}).values():
            await each.stop()
        if self.clients is not None:
            await self.clients.close()
        if self.foundry is not None:
            await self.foundry.close()
        if self.credential is not None:
            await self.credential.close()
        if self.kube is not None:
            await self.kube.close()
