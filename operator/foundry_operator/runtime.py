"""The operator's long-lived parts, typed, built once at startup and closed at cleanup.

kopf hands this object to every handler as ``memo``. It copies it shallowly for each watched
object, after the startup handler has filled it in, so every copy shares these parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.identity.aio import DefaultAzureCredential

from .api.resource import GROUP, PLURAL, VERSION
from .controller import Reconciler
from .engine.runtime import Engine, Key
from .engine.writer import EventRecorder, StatusWriter
from .foundry.client import FoundryClient
from .kube import config
from .kube.api import KubeClient, KubeError
from .kube.configmaps import ConfigMaps
from .kube.env import EnvResolver
from .kube.refwatch import RefIndex, RefWatcher
from .reconcile.nextlook import Timing
from .settings import Settings


@dataclass
class Runtime:
    settings: Settings
    kube: KubeClient | None = None
    credential: DefaultAzureCredential | None = None
    foundry: FoundryClient | None = None
    watcher: RefWatcher | None = None
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the operator has not started")
        return self._engine

    async def start(self, finalizer: str) -> None:
        settings = self.settings
        kube = KubeClient(config.load())
        credential = DefaultAzureCredential()
        foundry = FoundryClient(
            settings.project_endpoint or "",
            credential,
            max_concurrency=settings.max_concurrency,
            connect_timeout=settings.foundry_connect_timeout,
            read_timeout=settings.foundry_read_timeout,
        )
        refs = RefIndex()

        async def read(key: Key) -> Mapping[str, Any] | None:
            try:
                return await kube.request(
                    "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{key[0]}/{PLURAL}/{key[1]}"
                )
            except KubeError as exc:
                if exc.status == 404:
                    return None
                raise

        engine = Engine(
            Reconciler(
                foundry,
                EnvResolver(kube),
                ConfigMaps(kube),
                directory_min_batch=settings.directory_min_batch,
            ),
            StatusWriter(kube),
            EventRecorder(kube),
            refs,
            read,
            finalizer=finalizer,
            workers=settings.worker_count,
            timing=Timing(
                poll_initial=settings.poll_initial_seconds,
                poll_max=settings.poll_max_seconds,
                backoff_max=settings.backoff_max_seconds,
                resync=settings.resync_seconds,
            ),
        )
        await engine.start()
        watcher = RefWatcher(kube, refs, settings.namespaces, engine.enqueue)
        watcher.start()
        self.kube, self.credential, self.foundry = kube, credential, foundry
        self.watcher, self._engine = watcher, engine

    async def crd_served(self) -> bool:
        """Whether the API server serves HostedAgents (the CRD is installed)."""
        if self.kube is None:
            return False
        namespaces = self.settings.namespaces
        # A namespaced install may list only there.
        where = f"namespaces/{namespaces[0]}/" if namespaces else ""
        try:
            await self.kube.request(
                "GET", f"/apis/{GROUP}/{VERSION}/{where}{PLURAL}", query={"limit": "1"}
            )
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self._engine is not None:
            await self._engine.stop()
        if self.foundry is not None:
            await self.foundry.close()
        if self.credential is not None:
            await self.credential.close()
        if self.kube is not None:
            await self.kube.close()
