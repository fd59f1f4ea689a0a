"""The chart's static files: the CRD copy, the values, their schema and their documentation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "foundry-agent-operator"
CRD_NAME = "hostedagents.foundry.agents.dev.yaml"

# Kubernetes-typed values: documented and validated as one object, not key by key.
KUBERNETES_OBJECTS = {"resources", "podSecurityContext", "securityContext", "affinity"}


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


def value_paths(tree: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of the documented values: leaves, empty maps and Kubernetes objects."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in KUBERNETES_OBJECTS:
            yield from value_paths(value, f"{path}.")
        else:
            yield path


def schema_objects(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if node.get("type") == "object" or "properties" in node:
        yield path or "(root)", node
    for key, child in node.get("properties", {}).items():
        yield from schema_objects(child, f"{path}.{key}" if path else key)
    items = node.get("items")
    if isinstance(items, dict):
        yield from schema_objects(items, f"{path}[]")


def test_chart_crd_copy_is_identical_to_the_generated_crd() -> None:
    chart_copy = (CHART / "files" / "crds" / CRD_NAME).read_bytes()
    generated = (REPO / "crds" / CRD_NAME).read_bytes()
    assert chart_copy == generated, (
        f"charts/foundry-agent-operator/files/crds/{CRD_NAME} differs from crds/{CRD_NAME}: "
        f"cp crds/{CRD_NAME} charts/foundry-agent-operator/files/crds/"
    )


def test_every_value_has_a_schema_entry_and_every_schema_entry_a_value() -> None:
    def walk_schema(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
        for key, child in node.get("properties", {}).items():
            path = f"{prefix}{key}"
            if "properties" in child and path not in KUBERNETES_OBJECTS:
                yield from walk_schema(child, f"{path}.")
            else:
                yield path

    in_schema = set(walk_schema(schema())) - {"global"}  # set by Helm for subcharts
    in_values = set(value_paths(values()))
    assert in_values - in_schema == set(), "values without a schema entry"
    assert in_schema - in_values == set(), "schema entries without a default in values.yaml"


def test_schema_closes_every_object_it_defines() -> None:
    open_objects = [
        path
        for path, node in schema_objects(schema())
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_every_value_is_documented_in_the_chart_readme() -> None:
    readme = (CHART / "README.md").read_text()
    missing = [p for p in value_paths(values()) if f"| `{p}` |" not in readme]
    assert missing == []


def test_every_ci_values_file_is_listed_in_the_chart_readme() -> None:
    readme = (CHART / "README.md").read_text()
    files = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
    assert files, "charts/foundry-agent-operator/ci/ holds the documented configurations"
    assert [f for f in files if f"(ci/{f})" not in readme] == []


def test_default_security_contexts_meet_pod_security_restricted() -> None:
    pod = values()["podSecurityContext"]
    container = values()["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
