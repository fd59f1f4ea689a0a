"""An Engine for unit tests: the status writer does nothing, the Event recorder does
nothing unless the test brings its own, the reconciler and the read of a fresh object are
the test's."""

from __future__ import annotations

from typing import Any, cast

from prometheus_client import Gauge

from foundry_operator import metrics
from foundry_operator.engine.runtime import Engine, Key, Reader, Reconciles
from foundry_operator.engine.writer import EventRecorder, StatusWriter
from foundry_operator.kube.refwatch import RefIndex
from foundry_operator.reconcile.nextlook import Timing

FINALIZER = "foundry.agents.dev/finalizer"


class NullWriter:
    def observed(self, uid: str, resource_version: str) -> None: ...
    def forget(self, uid: str) -> None: ...
    async def write(self, *_: Any) -> None: ...


class NullRecorder:
    def forget(self, uid: str) -> None: ...
    async def post(self, *_: Any) -> None: ...


async def no_read(_: Key) -> None:
    return None


def engine_for(
    reconciler: object,
    read: Reader = no_read,
    *,
    phases: Gauge = metrics.RESOURCES,
    recorder: object | None = None,
) -> Engine:
    return Engine(
        cast(Reconciles, reconciler),
        cast(StatusWriter, NullWriter()),
        cast(EventRecorder, recorder or NullRecorder()),
        RefIndex(),
        read,
        finalizer=FINALIZER,
        workers=1,
        timing=Timing(),
        phases=phases,
    )
