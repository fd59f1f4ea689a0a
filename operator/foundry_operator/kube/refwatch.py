"""Notice changes to Secrets and ConfigMaps that HostedAgents read, without reading values.

The watch asks the API server for metadata only (``PartialObjectMetadata``), so Secret data
never reaches this process through it; values are read only by ``env.EnvResolver``, only
for keys a HostedAgent names. When a referenced object changes, the HostedAgents that use
it are put on the engine's queue at once (no write to them, no wait for a backoff): the
normal reconcile runs, resolves the new value and rolls out a new version if (and only if)
the value really changed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from .api import KubeClient, KubeError
from .env import Ref

log = logging.getLogger("foundry_operator.refwatch")

# Called with (namespace, name) of a HostedAgent whose referenced object changed.
OnChange = Callable[[str, str], None]
_METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
_WATCH_METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
_PLURALS = {"Secret": "secrets", "ConfigMap": "configmaps"}


class RefIndex:
    """(namespace, Ref) -> names of HostedAgents that read it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[tuple[str, Ref], set[str]] = defaultdict(set)
        self._refs: dict[tuple[str, str], frozenset[Ref]] = {}

    def set(self, namespace: str, name: str, refs: Iterable[Ref]) -> None:
        new = frozenset(refs)
        with self._lock:
            for ref in self._refs.get((namespace, name), frozenset()) - new:
                self._users[(namespace, ref)].discard(name)
                if not self._users[(namespace, ref)]:
                    del self._users[(namespace, ref)]
            for ref in new:
                self._users[(namespace, ref)].add(name)
            if new:
                self._refs[(namespace, name)] = new
            else:
                self._refs.pop((namespace, name), None)

    def remove(self, namespace: str, name: str) -> None:
        self.set(namespace, name, ())

    def users(self, namespace: str, ref: Ref) -> list[str]:
        with self._lock:
            return sorted(self._users.get((namespace, ref), ()))


class RefWatcher:
    """One task per kind (and namespace), each a metadata-only list+watch loop that
    survives errors."""

    def __init__(
        self,
        kube: KubeClient,
        index: RefIndex,
        namespaces: list[str],
        on_change: OnChange,
        *,
        also: Sequence[tuple[RefIndex, OnChange]] = (),
    ) -> None:
        self._kube = kube
        # One watch for every kind of user: HostedAgents (index, on_change), and e.g. the
        # FoundryToolboxes whose tools read Secrets (``also``), each with its own index.
        self._subscribers = [(index, on_change), *also]
        self._namespaces = namespaces or [""]  # "" = all namespaces
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for kind in _PLURALS:
            for namespace in self._namespaces:
                self._tasks.append(
                    asyncio.create_task(self._run(kind, namespace), name=f"refwatch-{kind}")
                )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _path(self, kind: str, namespace: str) -> str:
        plural = _PLURALS[kind]
        return f"/api/v1/namespaces/{namespace}/{plural}" if namespace else f"/api/v1/{plural}"

    async def _run(self, kind: str, namespace: str) -> None:
        backoff = 1.0
        while True:
            try:
                await self._list_then_watch(kind, namespace)
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must outlive any API or network failure
                log.warning("watch of %s restarts after an error: %s", _PLURALS[kind], exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    async def _list_then_watch(self, kind: str, namespace: str) -> None:
        path = self._path(kind, namespace)
        # A list gives the starting point; past changes do not matter (reconciles read values).
        listed = await self._kube.request("GET", path, query={"limit": "1"}, accept=_METADATA_ONLY)
        resource_version = str(listed["metadata"]["resourceVersion"])
        while True:
            query = {
                "watch": "true",
                "resourceVersion": resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "300",
            }
            async for event in self._kube.stream(path, query, accept=_WATCH_METADATA_ONLY):
                obj = event.get("object", {})
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:  # too old: list again
                        return
                    raise KubeError(int(obj.get("code", 0)), "watch", obj.get("message", ""))
                resource_version = str(obj["metadata"]["resourceVersion"])
                if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    self._notify(kind, obj["metadata"], resource_version)

    def _notify(self, kind: str, meta: dict[str, str], resource_version: str) -> None:
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        for index, on_change in self._subscribers:
            for user in index.users(namespace, Ref(kind, name)):  # type: ignore[arg-type]
                log.info(
                    "%s/%s changed (resourceVersion %s): reconciling %s/%s",
                    kind,
                    name,
                    resource_version,
                    namespace,
                    user,
                )
                on_change(namespace, user)
