"""examples/argocd/health-project.lua on hand-written FoundryProjects, in Argo CD's sandbox."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from unit.argocd.healthcheck import ARGOCD, REPO, evaluate

SCRIPT = ARGOCD / "health-project.lua"
KINDS = ("FoundryProject", "ClusterFoundryProject")


def condition(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def project(status: dict[str, Any] | None, *, generation: int = 2, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "kind": "FoundryProject",
        "metadata": {"name": "team-a", "generation": generation, **meta},
    }
    if status is not None:
        obj["status"] = status
    return obj


def health(obj: dict[str, Any]) -> tuple[str, str]:
    result = evaluate(obj, SCRIPT.read_text())
    return result.status, result.message


def test_ready_for_the_current_generation_is_healthy() -> None:
    status = {
        "observedGeneration": 2,
        "endpoint": "https://x.services.ai.azure.com/api/projects/a",
        "conditions": [condition("Ready", "True", "VersionActive")],
    }
    assert health(project(status)) == (
        "Healthy",
        "Connected to https://x.services.ai.azure.com/api/projects/a",
    )


def test_a_refused_credential_is_degraded_with_what_to_do() -> None:
    message = "AADSTS7000215: Invalid client secret. Foundry refused the identity"
    status = {
        "observedGeneration": 2,
        "conditions": [
            condition("Ready", "False", "AuthenticationFailed", message),
            condition("Degraded", "True", "AuthenticationFailed", message),
        ],
    }
    assert health(project(status)) == ("Degraded", f"AuthenticationFailed: {message}")


@pytest.mark.parametrize(
    "obj",
    [
        project(None),
        project({"observedGeneration": 1, "conditions": [condition("Ready", "True", "x")]}),
        project(
            {
                "observedGeneration": 2,
                "conditions": [condition("Ready", "False", "SecretNotFound", "no Secret")],
            }
        ),
        project({"conditions": []}, deletionTimestamp="2026-01-01T00:00:00Z"),
    ],
    ids=["no-status", "older-generation", "transient", "deleting"],
)
def test_everything_else_is_progressing(obj: dict[str, Any]) -> None:
    assert health(obj)[0] == "Progressing"


@pytest.mark.parametrize("kind", KINDS)
def test_argocd_cm_and_the_chart_carry_the_script_for_both_kinds(kind: str) -> None:
    cm = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    key = f"resource.customizations.health.foundry.agents.dev_{kind}"
    assert cm["data"][key] == SCRIPT.read_text()
    chart = REPO / "charts/foundry-agent-operator"
    assert (chart / "files/argocd/health-project.lua").read_text() == SCRIPT.read_text()
    assert key in (chart / "templates/argocd-health.yaml").read_text()
