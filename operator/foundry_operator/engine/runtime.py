"""The reconcile engine: a cache of watched objects, one queue, a pool of workers.

kopf watches and holds the finalizer; its handlers call :meth:`Engine.observe` (every watch
event) and :meth:`Engine.release` (deletion). Nothing else drives a reconcile: a worker
takes a key from the queue, reconciles the latest body of that object, hands the outcome to
the one status writer and the Event recorder, and puts the key back with the delay the
outcome's kind of look asks for. A failing reconcile never raises out of a worker: it is
logged and looked at again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from prometheus_client import Gauge

from .. import metrics
from ..api.project import FoundryProjectStatus
from ..api.status import HostedAgentStatus, Phase
from ..api.toolbox import FoundryToolboxStatus
from ..controller import Resource
from ..kube.env import Ref
from ..kube.refwatch import RefIndex
from ..reconcile.errors import redact
from ..reconcile.nextlook import Counters, Look, Timing, next_look
from ..reconcile.report import Event, status_patch
from .queue import WorkQueue
from .writer import EventRecorder, ObjectRef, StatusWriter

log = logging.getLogger("foundry_operator.engine")

Key = tuple[str, str]  # (namespace, name)
Body = Mapping[str, Any]
# Reads one object fresh from the API server (None when it is gone).
Reader = Callable[[Key], Awaitable[Body | None]]


# The kinds of status the engine writes: one engine instance per kind of resource.
StatusDocument = HostedAgentStatus | FoundryToolboxStatus | FoundryProjectStatus


class Result(Protocol):
    """What the engine reads of a reconcile's outcome (controller.Outcome and the
    toolboxes' ToolboxOutcome are two shapes of it)."""

    @property
    def status(self) -> StatusDocument | None: ...
    @property
    def events(self) -> list[Event]: ...
    @property
    def look(self) -> Look: ...
    @property
    def result(self) -> str: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def secrets(self) -> tuple[str, ...]: ...
    @property
    def refs(self) -> frozenset[Ref]: ...


class Reconciles(Protocol):
    """One kind of resource's reconciler (controller.Reconciler, toolboxes.ToolboxReconciler)."""

    async def reconcile(self, resource: Resource) -> Result: ...
    async def delete(self, resource: Resource) -> Result: ...
    def release_agent(self, agent: str) -> None: ...


def slim(body: Body) -> dict[str, Any]:
    """What the engine keeps of a watched object: managedFields (often the largest part of
    a body) are never read, so a fleet of thousands is not held twice over."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return {**body, "metadata": meta}


def key_of(body: Body) -> Key:
    meta = body.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


class Trigger(NamedTuple):
    """What a watch event must change for a reconcile to act on it. Our own status writes
    (and anyone's label edits) come back as events too; looking at Foundry for each of those
    would double the reads for nothing."""

    uid: str
    generation: object
    deleting: bool
    finalized: bool  # holds our finalizer
    annotations: tuple[tuple[str, str], ...]


def trigger_of(body: Body, finalizer: str) -> Trigger:
    meta = body.get("metadata") or {}
    return Trigger(
        str(meta.get("uid", "")),
        meta.get("generation"),
        bool(meta.get("deletionTimestamp")),
        finalizer in (meta.get("finalizers") or []),
        tuple(sorted((str(k), str(v)) for k, v in (meta.get("annotations") or {}).items())),
    )


def resource_of(body: Body) -> Resource:
    meta = body.get("metadata") or {}
    return Resource(
        uid=str(meta.get("uid", "")),
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        generation=meta.get("generation"),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        annotations=dict(meta.get("annotations") or {}),
    )


@dataclass
class _Entry:
    # The watched object, slimmed, as compact JSON: a thousand bodies held as dicts took
    # about 10 KB each, three times their JSON. A reconcile decodes its copy (tens of
    # microseconds) when it starts.
    raw: bytes
    trigger: Trigger
    counters: Counters = field(default_factory=Counters)
    phase: Phase | None = None
    agent: str | None = None
    looked: bool = False  # reconciled at least once by this process
    deletion_looked: bool = False  # a look of its deletion has decided on the watched body

    @property
    def body(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.raw)
        return decoded

    def keep(self, watched: Body, trigger: Trigger) -> None:
        self.raw, self.trigger = _encode(watched), trigger


def _encode(watched: Body) -> bytes:
    return json.dumps(slim(watched), separators=(",", ":")).encode()


class Engine:
    def __init__(
        self,
        reconciler: Reconciles,
        writer: StatusWriter,
        recorder: EventRecorder,
        refs: RefIndex,
        read: Reader,
        *,
        finalizer: str,
        workers: int,
        timing: Timing,
        rand: Callable[[], float] = random.random,
        phases: Gauge = metrics.RESOURCES,
    ) -> None:
        self.queue: WorkQueue[Key] = WorkQueue()
        self._reconciler = reconciler
        self._writer = writer
        self._recorder = recorder
        self._refs = refs
        self._read = read
        self._finalizer = finalizer
        self._workers = workers
        # Deletions are Foundry-bound (two calls each), so a quarter of the workers keeps
        # every slot busy. The rest wait here holding only a key, not a decoded body and its
        # models: under a mass deletion those were hundreds of copies at once.
        self._deleting = asyncio.Semaphore(max(1, workers // 4))
        self._timing = timing
        self._rand = rand
        self._phases = phases
        self._entries: dict[Key, _Entry] = {}
        # Objects per phase, kept as phases change: recounting the whole cache at every
        # status write made a burst of N objects cost N squared.
        self._tally: Counter[Phase] = Counter()
        for each in Phase:
            phases.labels(each.value).set(0)
        self._released: dict[Key, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- inputs -----------------------------------------------------------------------

    def observe(self, event_type: str | None, watched: Body) -> None:
        """Every watch event of a HostedAgent."""
        key = key_of(watched)
        meta = watched.get("metadata") or {}
        self._writer.observed(str(meta.get("uid", "")), str(meta.get("resourceVersion", "")))
        if event_type == "DELETED":
            self._forget(key, str(meta.get("uid", "")))
            return
        trigger = trigger_of(watched, self._finalizer)
        entry = self._entries.get(key)
        if entry is None or entry.trigger.uid != trigger.uid:
            if entry is not None:
                self._set_phase(entry, None)
            self._entries[key] = _Entry(_encode(watched), trigger)
            self.queue.add(key)
            return
        before = entry.trigger
        entry.keep(watched, trigger)
        if trigger != before:
            self.queue.add(key)

    def enqueue(self, namespace: str, name: str) -> None:
        """Reconcile now (a Secret it reads changed). Thread-safe: the ref watch calls it
        from its own thread."""
        key = (namespace, name)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._enqueue_now, key)

    def _enqueue_now(self, key: Key) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            # A watched change is news, not a retry: it does not wait out the backoff.
            entry.counters = Counters()
            self.queue.add(key)

    async def release(self, body: Body) -> None:
        """Wait until the object's deletion is done (kopf then drops the finalizer)."""
        key = key_of(body)
        done = self._released.setdefault(key, asyncio.Event())
        if key not in self._entries:
            self._entries[key] = _Entry(_encode(body), trigger_of(body, self._finalizer))
        self.queue.add(key)
        await done.wait()
        self._released.pop(key, None)

    def _forget(self, key: Key, uid: str) -> None:
        entry = self._entries.pop(key, None)
        self.queue.forget(key)
        self._writer.forget(uid)
        self._recorder.forget(uid)
        self._refs.remove(*key)
        if entry is not None:
            self._set_phase(entry, None)
            if entry.agent:
                self._wake_agent_users(entry.agent)
                self._reconciler.release_agent(entry.agent)

    def _wake_agent_users(self, agent: str) -> None:
        """The owner of a Foundry agent went away: whoever else names the agent (and was
        refused as a conflict) looks again now instead of at its next resync."""
        for key, entry in self._entries.items():
            if entry.agent == agent and entry.phase is Phase.FAILED:
                self.queue.add(key)

    # --- running ----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks.append(asyncio.create_task(self.queue.run_timer(), name="engine-timer"))
        for n in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"engine-worker-{n}"))

    async def stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self._process(key)
            except Exception:  # one object's trouble must never stop a worker
                log.exception(
                    "reconcile failed unexpectedly; looking again with backoff",
                    extra={"k8s": {"namespace": key[0], "name": key[1]}},
                )
                entry = self._entries.get(key)
                if entry is not None:
                    self._schedule(key, entry, Look.RETRY, None)
            finally:
                self.queue.done(key)

    async def _process(self, key: Key) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        if entry.trigger.deleting:
            async with self._deleting:
                await self._process_deletion(key, entry)
            return
        if not entry.trigger.finalized:
            return  # kopf adds it first; its event brings us back before any Foundry work
        resource = resource_of(entry.body)
        outcome = await self._reconciler.reconcile(resource)
        self._refs.set(key[0], key[1], outcome.refs)
        metrics.RECONCILES.labels(outcome.result).inc()
        before = entry.phase
        await self._report(resource, entry, outcome)
        delay = self._schedule(key, entry, outcome.look, outcome.retry_after)
        if not entry.looked or entry.phase is not before:
            # One line per object when this process first looks at it and whenever its phase
            # moves; every other look is silent (a fleet at rest logs nothing).
            log.info(
                "reconciled %s/%s: %s, next look in %.0fs",
                key[0],
                key[1],
                outcome.result,
                delay or 0.0,
                extra={
                    "k8s": {"namespace": key[0], "name": key[1]},
                    "agent": outcome.agent,
                    "phase": str(entry.phase) if entry.phase else None,
                },
            )
        entry.looked = True

    async def _process_deletion(self, key: Key, entry: _Entry) -> None:
        # The first look decides on the watched body: the event that started the deletion,
        # as fresh as a read made now. kopf holds the object's later events while its
        # deletion handler waits, so every later look reads the object fresh: its
        # deletionPolicy may have been changed to let go. (A read per deletion had doubled
        # a mass deletion's requests to the API server, and each deletion waited on it.)
        if entry.deletion_looked:
            fresh = await self._read(key)
            if fresh is None:
                self._finish_release(key)
                return
        else:
            fresh = entry.body
            entry.deletion_looked = True
        meta = fresh.get("metadata") or {}
        if self._finalizer not in (meta.get("finalizers") or []):
            self._finish_release(key)
            return
        resource = resource_of(fresh)
        # The fresh copy decides this look only (the next one reads again). The entry keeps
        # the watched body, whose parts the event kopf holds for the waiting deletion
        # handler shares: storing the read held a second copy of every deleting object.
        outcome = await self._reconciler.delete(resource)
        metrics.RECONCILES.labels(outcome.result).inc()
        if outcome.look is Look.DONE:
            # kopf's waiting handler, and the event it holds, go as soon as Foundry is done;
            # the closing Event follows. In a mass deletion each waiting handler holds its
            # object's whole body, so the wait is the memory peak of the run.
            if outcome.agent:
                entry.agent = outcome.agent
            self._finish_release(key)
            await self._report(resource, entry, outcome)
            # The object is going: its Event series need not outlive it, even if its
            # DELETED event came while the Event was being posted.
            self._recorder.forget(resource.uid)
        else:
            await self._report(resource, entry, outcome)
            self._set_phase(entry, Phase.DELETING)
            self._schedule(key, entry, outcome.look, outcome.retry_after)

    def _finish_release(self, key: Key) -> None:
        self._released.setdefault(key, asyncio.Event()).set()

    async def _report(self, resource: Resource, entry: _Entry, outcome: Result) -> None:
        ref = ObjectRef(resource.namespace, resource.name, resource.uid)
        if outcome.agent:
            entry.agent = outcome.agent
        if outcome.status is not None:
            status = _redacted(status_patch(outcome.status), outcome.secrets)
            await self._writer.write(ref, resource.status or {}, status)
            self._set_phase(entry, outcome.status.phase)
        for event in outcome.events:
            await self._recorder.post(
                ref,
                Event(event.type, event.reason, redact(event.message, outcome.secrets)),
            )

    def _schedule(
        self, key: Key, entry: _Entry, look: Look, retry_after: float | None
    ) -> float | None:
        delay, entry.counters = next_look(
            look, entry.counters, self._timing, retry_after=retry_after, rand=self._rand
        )
        if delay is not None:
            self.queue.add_after(key, delay)
        return delay

    def _set_phase(self, entry: _Entry, phase: Phase | None) -> None:
        if entry.phase is phase:
            return
        for each, step in ((entry.phase, -1), (phase, 1)):
            if each is not None:
                self._tally[each] += step
                self._phases.labels(each.value).set(self._tally[each])
        entry.phase = phase


def _redacted(value: Any, secrets: tuple[str, ...]) -> Any:
    """Every string in a status document, redacted: Foundry's own messages may echo an
    environment value back."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: _redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    return value
