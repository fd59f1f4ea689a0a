"""Operator configuration: one pydantic-settings model, every knob a flag and a variable.

Each field is read, in this order of precedence, from its command-line flag, its
environment variable (``FOUNDRY_OPERATOR_<FIELD>``, except the SDK's own
``AZURE_AI_PROJECT_ENDPOINT``), and its default. The flags are generated from the model
(:func:`add_arguments`), and the README's configuration table and the chart's values are
checked against :func:`catalogue` by tests, so the three cannot drift apart.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "FOUNDRY_OPERATOR_"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, populate_by_name=True, extra="ignore", validate_default=True
    )

    project_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("project_endpoint", "AZURE_AI_PROJECT_ENDPOINT"),
        description="Foundry project endpoint every HostedAgent uses",
    )
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="namespaces to watch, comma-separated; empty watches all",
        json_schema_extra={"flag": "--namespace"},
    )
    log_format: LogFormat = Field(
        default_factory=lambda: LogFormat.TEXT if sys.stderr.isatty() else LogFormat.JSON,
        description="json or text (default: text on a terminal, json otherwise)",
    )
    log_level: str = Field(
        default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="log level"
    )
    max_concurrency: int = Field(
        default=16, ge=1, le=512, description="cap on concurrent Foundry calls"
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="reconciles in flight at once; 0 means 16 times maxConcurrency (at most "
        "1024): a reconcile mostly waits, and maxConcurrency alone caps Foundry calls",
    )
    kube_connections: int = Field(
        default=16,
        ge=4,
        le=1024,
        description="connections to the API server per client (kopf's and the operator's "
        "own); a burst of new objects queues for them instead of opening one TLS session each",
    )
    directory_min_batch: int = Field(
        default=4,
        ge=0,
        le=1024,
        description="fewest new agents whose existence checks share one listing of the "
        "project's agents instead of a GET each; 0 turns the listing off",
    )
    resync_seconds: float = Field(
        default=600.0, gt=0, description="period of the drift check of a settled object"
    )
    poll_initial_seconds: float = Field(
        default=2.0, gt=0, description="first pause between looks at a version being created"
    )
    poll_max_seconds: float = Field(
        default=30.0, gt=0, description="longest pause between looks at a version being created"
    )
    backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="longest pause before retrying a failed Foundry call"
    )
    foundry_connect_timeout: float = Field(
        default=10.0, gt=0, description="seconds to connect to Foundry"
    )
    foundry_read_timeout: float = Field(
        default=60.0, gt=0, description="seconds to wait for a Foundry answer"
    )
    bind_address: str = Field(
        default="0.0.0.0",
        description="address /metrics and /healthz listen on (127.0.0.1 keeps them local)",
    )
    metrics_port: int = Field(default=8080, ge=0, le=65535, description="/metrics port; 0 disables")
    health_port: int = Field(default=8081, ge=0, le=65535, description="/healthz port; 0 disables")
    leader_election: bool = Field(
        default=False, description="elect one active replica on a Lease (for replicas > 1)"
    )
    lease_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices(
            "lease_namespace", f"{ENV_PREFIX}LEASE_NAMESPACE", "POD_NAMESPACE"
        ),
        description="namespace of the leader Lease (default: $POD_NAMESPACE, else default)",
    )
    lease_name: str = Field(default="foundry-agent-operator", description="the Lease's name")
    lease_duration: int = Field(
        default=15, ge=2, le=300, description="seconds before a dead leader's Lease expires"
    )

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [n.strip() for n in value.split(",") if n.strip()]
        return value

    @property
    def worker_count(self) -> int:
        # Workers are cheap tasks that mostly wait: for a Foundry slot, for the agent
        # directory's round, for a Kubernetes write. With few of them, a burst of new objects
        # all waiting on one directory round left the Foundry slots idle (polls and routes
        # queued behind them) and kept each round small; the slots are the real cap.
        return self.workers or min(1024, 16 * self.max_concurrency)

    @property
    def liveness_url(self) -> str | None:
        if not self.health_port:
            return None
        return f"http://{self.bind_address}:{self.health_port}/healthz"


@dataclass(frozen=True)
class Knob:
    field: str
    flag: str
    env: str
    default: str
    description: str


def _env_name(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        named = [c for c in alias.choices if isinstance(c, str) and c.isupper()]
        if named:
            return named[0]
    return f"{ENV_PREFIX}{name.upper()}"


def _flag(name: str, info: FieldInfo) -> str:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("flag"), str):
        return str(extra["flag"])
    return "--" + name.replace("_", "-")


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return ""
    value = info.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def catalogue() -> list[Knob]:
    """Every setting with its flag, variable and default: the source of the docs' table."""
    return [
        Knob(name, _flag(name, info), _env_name(name, info), _default(info), info.description or "")
        for name, info in Settings.model_fields.items()
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, info in Settings.model_fields.items():
        flag = _flag(name, info)
        env = _env_name(name, info)
        help_text = f"{info.description} (${env})"
        if info.annotation is bool:
            parser.add_argument(flag, dest=name, action="store_const", const=True, help=help_text)
        elif name == "namespaces":
            parser.add_argument(flag, "-n", dest=name, action="append", help=help_text)
        else:
            parser.add_argument(flag, dest=name, help=help_text)


def from_args(args: argparse.Namespace) -> Settings:
    """Flags win over environment variables, which win over defaults."""
    given = {
        name: getattr(args, name)
        for name in Settings.model_fields
        if getattr(args, name, None) is not None
    }
    return Settings(**given)


def markdown_table() -> str:
    """The README's configuration table (a test keeps the README equal to this)."""
    rows = ["| flag | environment variable | default | meaning |", "|---|---|---|---|"]
    for knob in catalogue():
        default = f"`{knob.default}`" if knob.default else ""
        rows.append(f"| `{knob.flag}` | `{knob.env}` | {default} | {knob.description} |")
    return "\n".join(rows)
