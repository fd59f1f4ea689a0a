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

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from .api import KubeClient, KubeError
from .config import parse_time

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


def micro_time(when: datetime) -> str:
    """A Lease's MicroTime: RFC 3339 with exactly six fractional digits, in UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def view_of(lease: dict[str, Any] | None, default_duration: int) -> LeaseView | None:
    if lease is None:
        return None
    spec = lease.get("spec") or {}
    return LeaseView(
        spec.get("holderIdentity") or None,
        parse_time(spec.get("renewTime")),
        int(spec.get("leaseDurationSeconds") or default_duration),
    )


class LeaderElector:
    def __init__(
        self,
        kube: KubeClient,
        *,
        namespace: str,
        name: str,
        duration_seconds: int = 15,
        renew_seconds: float = 5.0,
        retry_seconds: float = 2.0,
    ) -> None:
        self._kube = kube
        self.namespace = namespace
        self.name = name
        self.me = identity()
        self.duration = duration_seconds
        self.renew_every = renew_seconds
        self.retry_every = retry_seconds
        self._renewer: asyncio.Task[None] | None = None

    @property
    def _path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"

    async def _read(self) -> dict[str, Any] | None:
        try:
            return await self._kube.request("GET", f"{self._path}/{self.name}")
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def _spec(self, now: datetime, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.me,
            "leaseDurationSeconds": self.duration,
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }

    async def _replace(self, lease: dict[str, Any]) -> None:
        # The body carries resourceVersion: of two replicas replacing at once, one gets 409.
        await self._kube.request("PUT", f"{self._path}/{self.name}", lease)

    async def try_once(self) -> bool:
        """One round: True if we hold the Lease afterwards."""
        now = datetime.now(UTC)
        lease = await self._read()
        move = decide(view_of(lease, self.duration), self.me, now)
        try:
            if move is Move.CREATE:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(now, 0),
                }
                await self._kube.request("POST", self._path, body)
            elif move is Move.RENEW:
                assert lease is not None
                lease.setdefault("spec", {})["renewTime"] = micro_time(now)
                await self._replace(lease)
            elif move is Move.TAKE_OVER:
                assert lease is not None
                transitions = int((lease.get("spec") or {}).get("leaseTransitions") or 0) + 1
                lease["spec"] = self._spec(now, transitions)
                await self._replace(lease)
                log.info("took over the leader Lease %s/%s", self.namespace, self.name)
            else:
                return False
        except KubeError as exc:
            if exc.status in (409, 422):
                return False  # someone else won this round
            raise
        return True

    async def acquire(self) -> None:
        """Return once this replica leads."""
        log.info("waiting to lead (Lease %s/%s, identity %s)", self.namespace, self.name, self.me)
        while True:
            try:
                if await self.try_once():
                    log.info("leading as %s", self.me)
                    return
            except Exception as exc:  # the API may be briefly unreachable: keep trying
                log.warning("leader election round failed: %s", exc)
            await asyncio.sleep(self.retry_every)

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew in the background; call ``on_lost`` if the Lease cannot be kept."""

        async def renew() -> None:
            last_ok = datetime.now(UTC)
            while True:
                await asyncio.sleep(self.renew_every)
                try:
                    if await self.try_once():
                        last_ok = datetime.now(UTC)
                        continue
                except Exception as exc:
                    log.warning("renewing the leader Lease failed: %s", exc)
                if datetime.now(UTC) - last_ok >= timedelta(seconds=self.duration):
                    log.error("lost the leader Lease; stopping so that only one replica acts")
                    on_lost()
                    return

        self._renewer = asyncio.create_task(renew(), name="lease-renew")

    async def release(self) -> None:
        """Hand the Lease over at once on a graceful stop."""
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        try:
            lease = await self._read()
            spec = (lease or {}).get("spec") or {}
            if lease is not None and spec.get("holderIdentity") == self.me:
                spec["holderIdentity"] = None
                spec["leaseDurationSeconds"] = 1
                lease["spec"] = spec
                await self._replace(lease)
        except Exception as exc:
            log.warning("could not release the leader Lease: %s", exc)
