"""The one status writer, and the one Event recorder.

Status: the writer compares the status a reconcile wants with the last one it knows the API
server holds and PATCHes only the difference (a JSON merge patch), so a look that changes
nothing writes nothing and watchers (Argo CD among them) see no churn.

"The last one it knows" is the object's status from the watch, except just after a write of
its own: until the watch delivers the resourceVersion that write produced, the watch's copy
is older than the truth, and the writer compares with what it wrote instead.

Events: one per transition, never one per look. A reason and message that repeat for the
same object within :data:`EVENT_SERIES_SECONDS` bump the count of the Event already posted
(as kubectl describe shows: "x3 over 5m") instead of adding another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ..api.resource import GROUP, KIND, PLURAL, VERSION
from ..kube.api import MERGE_PATCH, KubeClient, KubeError
from ..reconcile.report import Event

log = logging.getLogger("foundry_operator.writer")

FIELD_MANAGER: Final = "foundry-agent-operator"
COMPONENT: Final = "foundry-agent-operator"
EVENT_SERIES_SECONDS: Final = 600.0


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The RFC 7386 merge patch that turns ``old`` into ``new`` (empty when they are equal).

    Keys ``new`` lacks or holds as None are sent as null (removed); nested objects are
    diffed key by key; lists are replaced whole, as merge patches require.
    """
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if value is None:
            if before is not None:
                patch[key] = None
        elif isinstance(value, Mapping) and isinstance(before, Mapping):
            sub = merge_patch(before, value)
            if sub:
                patch[key] = sub
        elif value != before:
            patch[key] = value
    for key, before in old.items():
        if key not in new and before is not None:
            patch[key] = None
    return patch


CLUSTER_EVENTS_NAMESPACE = "default"


@dataclass(frozen=True)
class ObjectRef:
    namespace: str
    name: str
    uid: str


@dataclass
class _Written:
    resource_version: str
    status: dict[str, Any]


class StatusWriter:
    def __init__(self, kube: KubeClient, plural: str = PLURAL) -> None:
        self._kube = kube
        self._plural = plural  # which resource's status (one writer per engine)
        self._written: dict[str, _Written] = {}

    def observed(self, uid: str, resource_version: str) -> None:
        """The watch delivered ``resource_version`` of the object: once it is the one our
        last write produced, the watch's copy is as new as ours again."""
        written = self._written.get(uid)
        if written is not None and written.resource_version == resource_version:
            del self._written[uid]

    def forget(self, uid: str) -> None:
        self._written.pop(uid, None)

    def known(self, uid: str, watched: Mapping[str, Any]) -> Mapping[str, Any]:
        written = self._written.get(uid)
        return written.status if written is not None else watched

    async def write(
        self, ref: ObjectRef, watched: Mapping[str, Any], new: Mapping[str, Any]
    ) -> bool:
        """PATCH the difference between the known status and ``new``; False if none."""
        patch = merge_patch(self.known(ref.uid, watched), new)
        if not patch:
            return False
        # A cluster-scoped object (ClusterFoundryProject) has no namespace in its path.
        where = f"namespaces/{ref.namespace}/" if ref.namespace else ""
        path = f"/apis/{GROUP}/{VERSION}/{where}{self._plural}/{ref.name}/status"
        try:
            result = await self._kube.request(
                "PATCH",
                path,
                {"status": patch},
                content_type=MERGE_PATCH,
                query={"fieldManager": FIELD_MANAGER},
            )
        except KubeError as exc:
            if exc.status == 404:
                return False  # the object is gone: nothing left to report on
            raise
        meta = result.get("metadata", {})
        rv = str(meta.get("resourceVersion", ""))
        self._written[ref.uid] = _Written(rv, {k: v for k, v in new.items() if v is not None})
        return True


@dataclass
class _Series:
    name: str
    count: int
    last: float


class EventRecorder:
    """core/v1 Events from the component ``foundry-agent-operator``."""

    def __init__(
        self,
        kube: KubeClient,
        clock: Callable[[], float] = time.monotonic,
        kind: str = KIND,
    ) -> None:
        self._kube = kube
        self._clock = clock
        self._kind = kind  # the involvedObject's kind (one recorder per engine)
        self._series: dict[tuple[str, str, str, str], _Series] = {}

    def forget(self, uid: str) -> None:
        for key in [k for k in self._series if k[0] == uid]:
            del self._series[key]

    async def post(self, ref: ObjectRef, event: Event) -> None:
        try:
            await self._post(ref, event)
        except Exception as exc:  # an Event is informational: never fail a reconcile on it
            log.warning(
                "could not post Event %s: %s",
                event.reason,
                exc,
                extra={"k8s": {"namespace": ref.namespace, "name": ref.name}},
            )

    async def _post(self, ref: ObjectRef, event: Event) -> None:
        key = (ref.uid, event.type, event.reason, event.message)
        now = self._clock()
        stamp = datetime.now(UTC).replace(microsecond=0)
        series = self._series.get(key)
        if series is not None and now - series.last < EVENT_SERIES_SECONDS:
            series.count += 1
            series.last = now
            try:
                await self._kube.request(
                    "PATCH",
                    f"/api/v1/namespaces/{ref.namespace or CLUSTER_EVENTS_NAMESPACE}/events/"
                    f"{series.name}",
                    {"count": series.count, "lastTimestamp": stamp.isoformat()},
                    content_type=MERGE_PATCH,
                )
                return
            except KubeError as exc:
                if exc.status != 404:
                    raise
        # Events about a cluster-scoped object live in "default", as kubectl describe looks
        # for them there.
        namespace = ref.namespace or CLUSTER_EVENTS_NAMESPACE
        involved = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": self._kind,
            "name": ref.name,
            "uid": ref.uid,
        }
        if ref.namespace:
            involved["namespace"] = ref.namespace
        body = {
            "metadata": {"generateName": f"{ref.name}.", "namespace": namespace},
            "involvedObject": involved,
            "type": event.type,
            "reason": event.reason,
            "message": event.message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": stamp.isoformat(),
            "lastTimestamp": stamp.isoformat(),
            "count": 1,
        }
        created = await self._kube.request("POST", f"/api/v1/namespaces/{namespace}/events", body)
        self._series[key] = _Series(str(created["metadata"]["name"]), 1, now)
