"""Operator configuration: one model, filled from flags first, then the environment.

Environment variables (all optional):

=================================  ========================================================
``AZURE_AI_PROJECT_ENDPOINT``      default Foundry project endpoint (the SDK's own variable)
``FOUNDRY_OPERATOR_NAMESPACES``    comma-separated namespaces to watch; empty means all
``FOUNDRY_OPERATOR_LOG_FORMAT``    ``json`` or ``text`` (default: text on a terminal)
``FOUNDRY_OPERATOR_LOG_LEVEL``     ``DEBUG``, ``INFO`` (default), ``WARNING``
``FOUNDRY_OPERATOR_MAX_CONCURRENCY``  cap on concurrent Foundry calls (default 16)
``FOUNDRY_OPERATOR_RESYNC_SECONDS``   read-only drift check period (default 600)
``FOUNDRY_OPERATOR_METRICS_PORT``  Prometheus port (default 8080; 0 disables)
``FOUNDRY_OPERATOR_HEALTH_PORT``   liveness port for /healthz (default 8081; 0 disables)
``FOUNDRY_OPERATOR_LEADER_ELECTION``  ``true`` for HA: replicas elect a leader on a Lease
``FOUNDRY_OPERATOR_LEASE_NAMESPACE``  where the Lease lives (default: ``$POD_NAMESPACE``)
``FOUNDRY_OPERATOR_LEASE_NAME``    the Lease's name (default ``foundry-agent-operator``)
``FOUNDRY_OPERATOR_LEASE_DURATION``  seconds before a dead leader's Lease expires (15)
=================================  ========================================================
"""

from __future__ import annotations

import argparse
import os
import sys
from enum import StrEnum

from pydantic import BaseModel, Field


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class Settings(BaseModel):
    project_endpoint: str | None = Field(
        default=None, description="Foundry project endpoint used by every HostedAgent"
    )
    namespaces: list[str] = Field(default_factory=list, description="empty: all namespaces")
    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"
    max_concurrency: int = Field(default=16, ge=1, le=512)
    resync_seconds: float = Field(default=600.0, gt=0)
    # First and longest pause between status polls of a version that is still creating.
    poll_initial_seconds: float = Field(default=2.0, gt=0)
    poll_max_seconds: float = Field(default=30.0, gt=0)
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    health_port: int = Field(default=8081, ge=0, le=65535)
    leader_election: bool = False
    lease_namespace: str = "default"
    lease_name: str = "foundry-agent-operator"
    lease_duration_seconds: int = Field(default=15, ge=2, le=300)

    @property
    def liveness_url(self) -> str | None:
        return f"http://0.0.0.0:{self.health_port}/healthz" if self.health_port else None


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-endpoint", help="default: $AZURE_AI_PROJECT_ENDPOINT")
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        dest="namespaces",
        help="watch this namespace (repeatable); default: all namespaces",
    )
    parser.add_argument("--log-format", choices=[f.value for f in LogFormat])
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--max-concurrency", type=int, help="cap on concurrent Foundry calls")
    parser.add_argument("--resync-seconds", type=float, help="read-only drift check period")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port; 0 disables")
    parser.add_argument("--health-port", type=int, help="liveness port (/healthz); 0 disables")
    parser.add_argument(
        "--leader-election",
        action="store_const",
        const=True,
        help="elect one active replica on a Lease (for running more than one replica)",
    )
    parser.add_argument("--lease-namespace", help="namespace of the leader Lease")
    parser.add_argument("--lease-name", help="name of the leader Lease")
    parser.add_argument(
        "--lease-duration", type=int, help="seconds before a dead leader's Lease expires"
    )


def from_args(args: argparse.Namespace) -> Settings:
    """Flags win over environment variables, which win over defaults."""

    def pick(flag: object, env: str) -> object:
        return flag if flag is not None else _env(env)

    raw: dict[str, object] = {
        "project_endpoint": pick(args.project_endpoint, "AZURE_AI_PROJECT_ENDPOINT"),
        "namespaces": args.namespaces
        or [n.strip() for n in (_env("FOUNDRY_OPERATOR_NAMESPACES") or "").split(",") if n.strip()],
        "log_format": pick(args.log_format, "FOUNDRY_OPERATOR_LOG_FORMAT")
        or (LogFormat.TEXT if sys.stderr.isatty() else LogFormat.JSON),
        "log_level": pick(args.log_level, "FOUNDRY_OPERATOR_LOG_LEVEL"),
        "max_concurrency": pick(args.max_concurrency, "FOUNDRY_OPERATOR_MAX_CONCURRENCY"),
        "resync_seconds": pick(args.resync_seconds, "FOUNDRY_OPERATOR_RESYNC_SECONDS"),
        "metrics_port": pick(args.metrics_port, "FOUNDRY_OPERATOR_METRICS_PORT"),
        "health_port": pick(args.health_port, "FOUNDRY_OPERATOR_HEALTH_PORT"),
        "leader_election": pick(args.leader_election, "FOUNDRY_OPERATOR_LEADER_ELECTION"),
        "lease_namespace": pick(args.lease_namespace, "FOUNDRY_OPERATOR_LEASE_NAMESPACE")
        or _env("POD_NAMESPACE"),
        "lease_name": pick(args.lease_name, "FOUNDRY_OPERATOR_LEASE_NAME"),
        "lease_duration_seconds": pick(args.lease_duration, "FOUNDRY_OPERATOR_LEASE_DURATION"),
    }
    return Settings.model_validate({k: v for k, v in raw.items() if v is not None})
