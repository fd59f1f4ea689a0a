"""The Argo CD examples people copy: they parse, point at things that exist, and order the
operator before the agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from unit.argocd.healthcheck import ARGOCD, HEALTH_KEY, HEALTH_LUA, REPO, evaluate

CHART = REPO / "charts" / "foundry-agent-operator"
WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
APP_HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
IGNORE_UPDATES_KEY = "resource.customizations.ignoreResourceUpdates.foundry.agents.dev_HostedAgent"


def load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def one(path: Path) -> dict[str, Any]:
    (doc,) = load(path)
    return doc


def application(name: str) -> dict[str, Any]:
    app = one(ARGOCD / name)
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["kind"] == "Application"
    assert app["metadata"]["namespace"] == "argocd"
    return app


def wave(app: dict[str, Any]) -> int:
    return int(app["metadata"].get("annotations", {}).get(WAVE, "0"))


def test_argocd_cm_embeds_health_lua_verbatim() -> None:
    cm = one(ARGOCD / "argocd-cm.yaml")
    assert (cm["apiVersion"], cm["kind"]) == ("v1", "ConfigMap")
    assert cm["metadata"]["name"] == "argocd-cm"
    # Argo CD only reads the ConfigMap that carries its part-of label.
    assert cm["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert cm["data"][HEALTH_KEY] == HEALTH_LUA.read_text()


def test_argocd_cm_needs_no_ignore_rules_for_the_operators_writes() -> None:
    # The operator writes no annotations and changes status only when there is news, so
    # nothing it writes needs hiding from Argo CD.
    assert IGNORE_UPDATES_KEY not in one(ARGOCD / "argocd-cm.yaml")["data"]


@pytest.mark.parametrize(
    ("health", "message"), [("Healthy", ""), ("Degraded", "HostedAgent failed"), (None, None)]
)
def test_argocd_cm_application_health_check_reports_the_child_apps_health(
    health: str | None, message: str | None
) -> None:
    script = one(ARGOCD / "argocd-cm.yaml")["data"][APP_HEALTH_KEY]
    app = application("application-agents.yaml")
    if health:
        app["status"] = {"health": {"status": health, "message": message}}
    got = evaluate(app, script, require_message=False)
    assert got.status == (health or "Progressing")
    assert got.message == (message or "")


def test_operator_application_installs_the_chart_as_foundry_agent_operator() -> None:
    app = application("application-operator.yaml")
    source = app["spec"]["source"]
    assert (REPO / source["path"] / "Chart.yaml").is_file()
    assert yaml.safe_load((REPO / source["path"] / "Chart.yaml").read_text())["name"] == (
        "foundry-agent-operator"
    )
    assert source["helm"]["releaseName"] == "foundry-agent-operator"
    assert app["spec"]["destination"]["namespace"] == "foundry-system"
    assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]
    # No cascade: deleting the Application must not delete the CRD and every HostedAgent.
    assert "resources-finalizer.argocd.argoproj.io" not in app["metadata"].get("finalizers", [])


def _paths(values: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        out.add(path)
        if isinstance(value, dict):
            out |= _paths(value, f"{path}.")
    return out


def test_operator_application_sets_only_values_the_chart_has() -> None:
    chart_values = _paths(yaml.safe_load((CHART / "values.yaml").read_text()))
    given = _paths(
        application("application-operator.yaml")["spec"]["source"]["helm"]["valuesObject"]
    )
    assert given <= chart_values, given - chart_values


def test_agents_application_points_at_hostedagents_that_skip_dry_run_until_the_crd_exists() -> None:
    app = application("application-agents.yaml")
    folder = REPO / app["spec"]["source"]["path"]
    docs = [d for f in sorted(folder.glob("*.yaml")) for d in load(f)]
    agents = [d for d in docs if d["kind"] == "HostedAgent"]
    assert agents
    for agent in agents:
        assert agent["apiVersion"] == "foundry.agents.dev/v1alpha1"
        options = agent["metadata"]["annotations"][SYNC_OPTIONS].replace(" ", "").split(",")
        assert "SkipDryRunOnMissingResource=true" in options
    assert "resources-finalizer.argocd.argoproj.io" in app["metadata"]["finalizers"]


def test_app_of_apps_syncs_the_chart_wave_before_the_agents_wave() -> None:
    root = application("app-of-apps.yaml")
    include = root["spec"]["source"]["directory"]["include"]
    children = include.strip("{}").split(",")
    assert sorted(children) == ["application-agents.yaml", "application-operator.yaml"]
    assert root["spec"]["source"]["path"] == "examples/argocd"
    for child in children:
        assert (REPO / root["spec"]["source"]["path"] / child).is_file()
    operator, agents = (
        application("application-operator.yaml"),
        application("application-agents.yaml"),
    )
    assert wave(operator) < wave(agents)
    # The same repository and revision for all three, so one change moves them together.
    sources = {
        (a["spec"]["source"]["repoURL"], a["spec"]["source"]["targetRevision"])
        for a in (root, operator, agents)
    }
    assert len(sources) == 1


def test_hostedagent_example_is_valid_against_the_api_models() -> None:
    from foundry_operator.api.spec import HostedAgentSpec

    for path in sorted((ARGOCD / "agents").glob("*.yaml")):
        for doc in load(path):
            HostedAgentSpec.model_validate(doc["spec"])


def test_agents_application_prunes_the_last_agent_too() -> None:
    # Real Argo CD refuses an automated sync that would delete every resource of the
    # Application unless allowEmpty is set: the last agent removed from Git would stay.
    automated = application("application-agents.yaml")["spec"]["syncPolicy"]["automated"]
    assert automated == {**automated, "prune": True, "allowEmpty": True}
