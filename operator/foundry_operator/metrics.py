"""Prometheus metrics. One registry, defined here so every name is in one place."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "foundry_operator_reconciles_total",
    "Reconciles of HostedAgents by result (ready, suspended, progressing, failed, retry, "
    "conflict, deleted).",
    ["result"],
)
FOUNDRY_REQUESTS = Counter(
    "foundry_operator_foundry_requests_total",
    "Calls to Foundry by SDK operation and HTTP status ('ok', a code, or 'network').",
    ["operation", "status"],
)
FOUNDRY_LATENCY = Histogram(
    "foundry_operator_foundry_request_seconds",
    "Latency of calls to Foundry by SDK operation, including SDK-level retries.",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PROVISIONING = Histogram(
    "foundry_operator_version_provisioning_seconds",
    "From creating a version to seeing it active or failed.",
    ["outcome"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
RESOURCES = Gauge(
    "foundry_operator_hostedagents",
    "HostedAgents known to this operator, by phase.",
    ["phase"],
)

TOOLBOXES = Gauge(
    "foundry_operator_toolboxes",
    "FoundryToolboxes known to this operator, by phase.",
    ["phase"],
)


def serve(port: int, addr: str = "0.0.0.0") -> None:
    """Expose /metrics on ``port`` (0 disables it)."""
    if port:
        start_http_server(port, addr=addr)


PROJECTS = Gauge(
    "foundry_operator_projects",
    "FoundryProjects known to this operator, by phase.",
    ["phase"],
)

# A gauge of its own: each engine instance sets every phase of its gauge.
CLUSTER_PROJECTS = Gauge(
    "foundry_operator_cluster_projects",
    "ClusterFoundryProjects known to this operator, by phase.",
    ["phase"],
)
