"""The operator's long-lived parts, typed, built once at startup and closed at cleanup.

kopf hands this object to every handler as ``memo``. It copies it shallowly for each watched
object, after the startup handler has filled it in, so every copy shares these parts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.identity.aio import DefaultAzureCredential

from . import metrics
from .api.resource import (
    CRD_NAME,
    GROUP,
    PLURAL,
    TOOLBOX_CRD_NAME,
    TOOLBOX_KIND,
    TOOLBOX_PLURAL,
    VERSION,
)
from .controller import Reconciler
from .engine.runtime import Engine, Key
from .engine.writer import EventRecorder, StatusWriter
from .foundry.client import FoundryClient
from .kube import config
from .kube.api import KubeClient, KubeError
from .kube.configmaps import ConfigMaps
from .kube.env import EnvResolver
from .kube.refwatch import RefIndex, RefWatcher
from .kube.toolboxes import Toolboxes
from .links import ToolboxLinks
from .reconcile.nextlook import Timing
from .settings import Settings
from .toolboxes import ToolboxLocks, ToolboxReconciler

# FoundryToolboxes change rarely and each reconcile is a read or two: a few workers do.
TOOLBOX_WORKERS_MIN = 2


@dataclass
class Runtime:
    settings: Settings
    kube: KubeClient | None = None
    credential: DefaultAzureCredential | None = None
    foundry: FoundryClient | None = None
    watcher: RefWatcher | None = None
    links: ToolboxLinks | None = None
    _engine: Engine | None = None
    _toolbox_engine: Engine | None = None

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
        toolboxes = Toolboxes(kube)
        locks = ToolboxLocks()

        def reader(plural: str) -> Callable[[Key], Awaitable[Mapping[str, Any] | None]]:
            async def read(key: Key) -> Mapping[str, Any] | None:
                try:
                    return await kube.request(
                        "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{key[0]}/{plural}/{key[1]}"
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
        engine = Engine(
            Reconciler(
                foundry,
                EnvResolver(kube),
                ConfigMaps(kube),
                directory_min_batch=settings.directory_min_batch,
                toolboxes=toolboxes,
                toolbox_locks=locks,
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
        await engine.start()
        await toolbox_engine.start()
        watcher = RefWatcher(
            kube,
            refs,
            settings.namespaces,
            engine.enqueue,
            also=[(toolbox_refs, toolbox_engine.enqueue)],
        )
        watcher.start()
        self.kube, self.credential, self.foundry = kube, credential, foundry
        self.watcher, self._engine, self._toolbox_engine = watcher, engine, toolbox_engine
        self.links = ToolboxLinks()

    async def missing_crds(self) -> list[str]:
        """The CRDs the API server does not serve (HostedAgents, FoundryToolboxes)."""
        if self.kube is None:
            return [CRD_NAME, TOOLBOX_CRD_NAME]
        namespaces = self.settings.namespaces
        # A namespaced install may list only there.
        where = f"namespaces/{namespaces[0]}/" if namespaces else ""
        missing: list[str] = []
        for plural, crd in ((PLURAL, CRD_NAME), (TOOLBOX_PLURAL, TOOLBOX_CRD_NAME)):
            try:
                await self.kube.request(
                    "GET", f"/apis/{GROUP}/{VERSION}/{where}{plural}", query={"limit": "1"}
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
        if self.watcher is not None:
            await self.watcher.stop()
        if self._engine is not None:
            await self._engine.stop()
        if self._toolbox_engine is not None:
            await self._toolbox_engine.stop()
        if self.foundry is not None:
            await self.foundry.close()
        if self.credential is not None:
            await self.credential.close()
        if self.kube is not None:
            await self.kube.close()
