"""Small helpers for tests that drive HostedAgents with kubectl and read Foundry."""

from __future__ import annotations

import json
import uuid
from typing import Any

from azure.ai.projects import AIProjectClient
from azure.core.exceptions import ResourceNotFoundError

IMAGE = "myregistry.azurecr.io/agents/chat"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def manifest(
    name: str, image: str, *, annotations: dict[str, str] | None = None, **spec: Any
) -> str:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "metadata": metadata,
            "spec": {"image": image, **spec},
        }
    )


def get(kubectl: Any, namespace: str, name: str) -> dict[str, Any]:
    return dict(json.loads(kubectl("get", "hagent", name, "-n", namespace, "-o", "json").stdout))


def condition(kubectl: Any, namespace: str, name: str, type_: str) -> dict[str, Any]:
    conditions = get(kubectl, namespace, name).get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == type_), {})


def wait_ready(kubectl: Any, namespace: str, name: str, timeout: int = 60) -> None:
    kubectl(
        "wait",
        "--for=condition=Ready",
        f"--timeout={timeout}s",
        f"hagent/{name}",
        "-n",
        namespace,
        timeout=timeout + 10,
    )


def events(kubectl: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    out = kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.name={name}",
        "-o",
        "json",
    ).stdout
    return list(json.loads(out)["items"])


def versions(foundry: AIProjectClient, agent: str) -> list[Any]:
    """The agent's versions, oldest first; none when the agent does not exist (any more)."""
    try:
        return sorted(foundry.agents.list_versions(agent), key=lambda v: int(v["version"]))
    except ResourceNotFoundError:
        return []


def routing(foundry: AIProjectClient, agent: str) -> dict[str, int]:
    endpoint = foundry.agents.get(agent).get("agent_endpoint") or {}
    rules = (endpoint.get("version_selector") or {}).get("version_selection_rules") or []
    return {r["agent_version"]: r["traffic_percentage"] for r in rules}
