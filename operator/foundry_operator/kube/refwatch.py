"""Notice changes to Secrets and ConfigMaps that HostedAgents read, without reading values.

The watch asks the API server for metadata only (``PartialObjectMetadata``), so Secret data
never reaches this process through it; values are read only by ``env.EnvResolver``, only
for keys a HostedAgent names. When a referenced object changes, the HostedAgents that use
it are put on the engine's queue at once (no write to them, no wait for a backoff): the
normal reconcile runs, resolves the new value and rolls out a new version if (and only if)
the value really changed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

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
    """One thread per kind, each a metadata-only list+watch loop that survives errors."""

    def __init__(
        self, api: ApiClient, index: RefIndex, namespaces: list[str], on_change: OnChange
    ) -> None:
        self._api = api
        self._index = index
        self._on_change = on_change
        self._namespaces = namespaces or [""]  # "" = all namespaces
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for kind in _PLURALS:
            for namespace in self._namespaces:
                thread = threading.Thread(
                    target=self._run, args=(kind, namespace), name=f"refwatch-{kind}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()

    def _path(self, kind: str, namespace: str) -> str:
        plural = _PLURALS[kind]
        return f"/api/v1/namespaces/{namespace}/{plural}" if namespace else f"/api/v1/{plural}"

    def _get(self, path: str, query: list[tuple[str, str]], accept: str, stream: bool) -> Any:
        """The raw urllib3 response of a GET (the generated client cannot ask for metadata
        only, so the request is built by hand but authenticated by the client)."""
        method, url, headers, _, _ = self._api.param_serialize(
            "GET",
            path,
            query_params=query,
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(
            method, url, header_params=headers, _request_timeout=(10, 330) if stream else 30
        )
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason)
        return response.response

    def _run(self, kind: str, namespace: str) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._list_then_watch(kind, namespace)
                backoff = 1.0
            except Exception as exc:  # the loop must outlive any API or network failure
                log.warning("watch of %s restarts after an error: %s", _PLURALS[kind], exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)

    def _list_then_watch(self, kind: str, namespace: str) -> None:
        path = self._path(kind, namespace)
        # A list gives the starting point; past changes do not matter (reconciles read values).
        listed = json.loads(self._get(path, [("limit", "1")], _METADATA_ONLY, stream=False).data)
        resource_version = listed["metadata"]["resourceVersion"]
        while not self._stop.is_set():
            query = [
                ("watch", "true"),
                ("resourceVersion", resource_version),
                ("allowWatchBookmarks", "true"),
                ("timeoutSeconds", "300"),
            ]
            raw = self._get(path, query, _WATCH_METADATA_ONLY, stream=True)
            try:
                for line in iter_resp_lines(raw):  # type: ignore[no-untyped-call]
                    event = json.loads(line)
                    obj = event.get("object", {})
                    if event.get("type") == "ERROR":
                        if obj.get("code") == 410:  # too old: list again
                            return
                        raise RuntimeError(obj.get("message", "watch error"))
                    resource_version = obj["metadata"]["resourceVersion"]
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self._notify(kind, obj["metadata"], resource_version)
            finally:
                raw.release_conn()

    def _notify(self, kind: str, meta: dict[str, str], resource_version: str) -> None:
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        for user in self._index.users(namespace, Ref(kind, name)):  # type: ignore[arg-type]
            log.info(
                "%s/%s changed (resourceVersion %s): reconciling %s/%s",
                kind,
                name,
                resource_version,
                namespace,
                user,
            )
            self._on_change(namespace, user)
