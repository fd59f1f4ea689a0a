"""Leader election on a coordination.k8s.io Lease, the way Kubernetes controllers do it.

Replicas race for one Lease; the holder runs the operator and renews the Lease every
``renew_seconds``. The others wait. When the holder dies, its Lease expires after
``duration_seconds`` and another replica takes it over (optimistic concurrency on the
Lease's resourceVersion makes the takeover single-winner). A holder that cannot renew in
time stops itself, so two replicas never act at once for longer than one renew period.
A graceful stop releases the Lease, so a rolling update hands over at once.

``decide`` is the pure part; ``LeaderElector`` does the I/O.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from kubernetes.client import ApiClient, CoordinationV1Api, V1Lease, V1LeaseSpec, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("foundry_operator.leader")


class Move(StrEnum):
    CREATE = "create"  # no Lease yet
    RENEW = "renew"  # we hold it
    TAKE_OVER = "take-over"  # its holder stopped renewing (or released it)
    WAIT = "wait"  # someone else holds it


@dataclass(frozen=True)
class LeaseView:
    holder: str | None
    renewed: datetime | None
    duration_seconds: int


def decide(lease: LeaseView | None, me: str, now: datetime) -> Move:
    if lease is None:
        return Move.CREATE
    if lease.holder == me:
        return Move.RENEW
    if not lease.holder or lease.renewed is None:
        return Move.TAKE_OVER
    if now >= lease.renewed + timedelta(seconds=lease.duration_seconds):
        return Move.TAKE_OVER
    return Move.WAIT


def identity() -> str:
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{os.getpid()}"


class LeaderElector:
    def __init__(
        self,
        api: ApiClient,
        *,
        namespace: str,
        name: str,
        duration_seconds: int = 15,
        renew_seconds: float = 5.0,
        retry_seconds: float = 2.0,
    ) -> None:
        self._api = CoordinationV1Api(api)
        self.namespace = namespace
        self.name = name
        self.me = identity()
        self.duration = duration_seconds
        self.renew_every = renew_seconds
        self.retry_every = retry_seconds
        self._stop = threading.Event()

    def _read(self) -> V1Lease | None:
        try:
            lease: V1Lease = self._api.read_namespaced_lease(self.name, self.namespace)
            return lease
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _spec(self, now: datetime, transitions: int) -> V1LeaseSpec:
        return V1LeaseSpec(
            holder_identity=self.me,
            lease_duration_seconds=self.duration,
            acquire_time=now,
            renew_time=now,
            lease_transitions=transitions,
        )

    def try_once(self) -> bool:
        """One round: True if we hold the Lease afterwards."""
        now = datetime.now(UTC)
        lease = self._read()
        view = (
            LeaseView(
                lease.spec.holder_identity,
                lease.spec.renew_time,
                lease.spec.lease_duration_seconds or self.duration,
            )
            if lease is not None and lease.spec is not None
            else None
        )
        move = decide(view, self.me, now)
        try:
            if move is Move.CREATE:
                body = V1Lease(
                    metadata=V1ObjectMeta(name=self.name, namespace=self.namespace),
                    spec=self._spec(now, 0),
                )
                self._api.create_namespaced_lease(self.namespace, body)
            elif move is Move.RENEW:
                assert lease is not None and lease.spec is not None
                lease.spec.renew_time = now
                self._api.replace_namespaced_lease(self.name, self.namespace, lease)
            elif move is Move.TAKE_OVER:
                assert lease is not None
                transitions = (lease.spec.lease_transitions or 0) + 1 if lease.spec else 1
                lease.spec = self._spec(now, transitions)
                # replace carries resourceVersion: of two replicas taking over, one gets 409.
                self._api.replace_namespaced_lease(self.name, self.namespace, lease)
                log.info("took over the leader Lease %s/%s", self.namespace, self.name)
            else:
                return False
        except ApiException as exc:
            if exc.status in (409, 422):
                return False  # someone else won this round
            raise
        return True

    def acquire(self) -> None:
        """Block until this replica leads."""
        log.info("waiting to lead (Lease %s/%s, identity %s)", self.namespace, self.name, self.me)
        while not self._stop.is_set():
            try:
                if self.try_once():
                    log.info("leading as %s", self.me)
                    return
            except Exception as exc:  # the API may be briefly unreachable: keep trying
                log.warning("leader election round failed: %s", exc)
            self._stop.wait(self.retry_every)

    def keep(self, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew in the background; call ``on_lost`` (from this thread) if the Lease cannot
        be kept."""

        def renew() -> None:
            last_ok = datetime.now(UTC)
            while not self._stop.wait(self.renew_every):
                try:
                    if self.try_once():
                        last_ok = datetime.now(UTC)
                        continue
                except Exception as exc:
                    log.warning("renewing the leader Lease failed: %s", exc)
                if datetime.now(UTC) - last_ok >= timedelta(seconds=self.duration):
                    log.error("lost the leader Lease; stopping so that only one replica acts")
                    on_lost()
                    return

        thread = threading.Thread(target=renew, name="lease-renew", daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        """Hand the Lease over at once on a graceful stop."""
        self._stop.set()
        try:
            lease = self._read()
            if (
                lease is not None
                and lease.spec is not None
                and lease.spec.holder_identity == self.me
            ):
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self._api.replace_namespaced_lease(self.name, self.namespace, lease)
        except Exception as exc:
            log.warning("could not release the leader Lease: %s", exc)
