"""`foundry-operator run`: configure logging and metrics, then hand over to kopf."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import logging
import threading

import kopf

from . import handlers, metrics, tls_buffer
from . import settings as settings_mod
from .kube import config
from .kube.api import KubeClient
from .kube.leader import LeaderElector
from .runtime import Runtime
from .settings import LogFormat, Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings_mod.add_arguments(parser)


def _configure_logging(settings: Settings) -> None:
    kopf.configure(
        verbose=settings.log_level == "DEBUG",
        log_format=kopf.LogFormat.JSON
        if settings.log_format is LogFormat.JSON
        else kopf.LogFormat.FULL,
        log_refkey="k8s",
    )
    logging.getLogger().setLevel(settings.log_level)
    # kopf's per-object INFO lines ("Handler 'observe' succeeded.") repeat for every watch
    # event; the engine logs what was decided instead. kopf's warnings and errors still show.
    if settings.log_level != "DEBUG":
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    # The Azure SDK logs every HTTP request at INFO: that is what our metrics are for.
    logging.getLogger("azure").setLevel(logging.WARNING)


class _StandbyHealth:
    """Answers /healthz while a replica waits to lead, so its liveness probe passes;
    kopf's own endpoint takes the port over once this replica leads."""

    def __init__(self, address: str, port: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path.startswith("/healthz") else 404)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


async def _lead(settings: Settings, kube: KubeClient) -> LeaderElector:
    """Return once this replica holds the Lease (answering /healthz meanwhile)."""
    elector = LeaderElector(
        kube,
        namespace=settings.lease_namespace,
        name=settings.lease_name,
        duration_seconds=settings.lease_duration,
        renew_seconds=max(1.0, settings.lease_duration / 3),
    )
    standby = (
        _StandbyHealth(settings.bind_address, settings.health_port)
        if settings.health_port
        else None
    )
    try:
        await elector.acquire()
    finally:
        if standby:
            standby.close()
    return elector


async def _operate(settings: Settings) -> bool:
    """Lead (if asked to), then run kopf until it stops; True if it stopped because the
    Lease was lost."""
    lost = asyncio.Event()
    runtime = Runtime(settings)
    elector: LeaderElector | None = None
    lease_client = KubeClient(config.load(), connections=4) if settings.leader_election else None
    try:
        if lease_client is not None:
            elector = await _lead(settings, lease_client)

            def on_lost() -> None:
                lost.set()
                runtime.stopping.set()

            elector.keep(on_lost)
        if not settings.namespaces:
            handlers.serve_cluster_projects()
        await kopf.operator(
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            # One active replica is the Lease's job, not kopf peering's.
            standalone=True,
            liveness_endpoint=settings.liveness_url,
            stop_flag=runtime.stopping,
            memo=runtime,
        )
    finally:
        if elector is not None:
            await elector.release()
        if lease_client is not None:
            await lease_client.close()
    return lost.is_set()


def run(args: argparse.Namespace) -> int:
    settings = settings_mod.from_args(args)
    _configure_logging(settings)
    metrics.serve(settings.metrics_port, settings.bind_address)
    logging.getLogger("foundry_operator").info(
        "starting: endpoint=%s namespaces=%s concurrency=%d leader-election=%s",
        settings.project_endpoint,
        ",".join(settings.namespaces) or "*",
        settings.max_concurrency,
        settings.leader_election,
    )
    tls_buffer.shrink()
    lost = False
    with contextlib.suppress(KeyboardInterrupt):
        lost = asyncio.run(_operate(settings))
    # Exiting non-zero after losing the Lease makes Kubernetes restart the replica, which
    # then queues up for leadership again.
    return 1 if lost else 0
