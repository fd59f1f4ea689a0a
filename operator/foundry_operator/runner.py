"""`foundry-operator run`: configure logging and metrics, then hand over to kopf."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import kopf

from . import handlers, metrics
from . import settings as settings_mod
from .settings import LogFormat, Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings_mod.add_arguments(parser)


class _PlannedRequeue(logging.Filter):
    """kopf reports each planned re-look (a TemporaryError) as an ERROR; it is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and handlers.REQUEUE_MARK in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _configure_logging(settings: Settings) -> None:
    kopf.configure(
        verbose=settings.log_level == "DEBUG",
        log_format=kopf.LogFormat.JSON
        if settings.log_format is LogFormat.JSON
        else kopf.LogFormat.FULL,
        log_refkey="k8s",
    )
    logging.getLogger().setLevel(settings.log_level)
    logging.getLogger("kopf.objects").addFilter(_PlannedRequeue())
    # The Azure SDK logs every HTTP request at INFO: that is what our metrics are for.
    logging.getLogger("azure").setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    settings = settings_mod.from_args(args)
    _configure_logging(settings)
    handlers.use_settings(settings)
    metrics.serve(settings.metrics_port)
    logging.getLogger("foundry_operator").info(
        "starting: endpoint=%s namespaces=%s concurrency=%d",
        settings.project_endpoint,
        ",".join(settings.namespaces) or "*",
        settings.max_concurrency,
    )
    try:
        asyncio.run(
            kopf.operator(
                clusterwide=not settings.namespaces,
                namespaces=settings.namespaces,
                standalone=settings.peering is None,
                peering_name=settings.peering,
                priority=settings.priority,
                liveness_endpoint=settings.liveness_url,
            )
        )
    except KeyboardInterrupt:
        return 0
    return 0 if sys.exc_info()[0] is None else 1
