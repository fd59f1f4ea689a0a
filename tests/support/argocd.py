"""Helpers for the tests against a real Argo CD: Applications made from the shipped examples,
and reading what Argo CD concluded about them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from foundry_devtools.argocd import NAMESPACE, LocalArgoCD
from support import wait_for

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "argocd"


def agent_yaml(name: str, image: str) -> str:
    """A HostedAgent as it lives in git: examples/argocd/agents/hello-agent.yaml, renamed."""
    doc = yaml.safe_load((EXAMPLES / "agents" / "hello-agent.yaml").read_text())
    doc["metadata"]["name"] = name
    doc["spec"]["image"] = image
    return yaml.safe_dump(doc, sort_keys=False)


def example(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((EXAMPLES / name).read_text()))


def agents_application(name: str, repo_url: str, path: str, namespace: str) -> dict[str, Any]:
    """examples/argocd/application-agents.yaml, pointed at the test's repository and folder:
    everything else (sync policy, prune, self-heal, server-side apply) is the example's."""
    app = copy.deepcopy(example("application-agents.yaml"))
    app["metadata"]["name"] = name
    app["metadata"].pop("annotations", None)  # its sync wave matters only under app-of-apps
    app["spec"]["source"].update(repoURL=repo_url, targetRevision="main", path=path)
    app["spec"]["destination"]["namespace"] = namespace
    return app


def status(argo: LocalArgoCD, app: str) -> dict[str, Any]:
    out = argo.kubectl("get", "application", app, "-n", NAMESPACE, "-o", "json").stdout
    return dict(json.loads(out).get("status") or {})


def refresh(argo: LocalArgoCD, app: str) -> None:
    """Ask the controller to compare with git now (what `argocd app get --refresh` does)."""
    argo.kubectl(
        "annotate",
        "application",
        app,
        "-n",
        NAMESPACE,
        "--overwrite",
        "argocd.argoproj.io/refresh=normal",
    )


def resource(st: dict[str, Any], kind: str, name: str) -> dict[str, Any] | None:
    return next(
        (r for r in st.get("resources") or [] if r.get("kind") == kind and r.get("name") == name),
        None,
    )


def agent_health(st: dict[str, Any], name: str) -> tuple[str, str]:
    """(status, message) Argo CD holds for the HostedAgent ``name``; ("", "") if none yet."""
    res = resource(st, "HostedAgent", name) or {}
    health = res.get("health") or {}
    return str(health.get("status", "")), str(health.get("message", ""))


def wait_app(
    argo: LocalArgoCD,
    app: str,
    *,
    sync: str | None = "Synced",
    health: str | None = None,
    revision: str | None = None,
    timeout: float = 90.0,
) -> dict[str, Any]:
    """The Application's status once it is ``sync`` and ``health`` (at ``revision``)."""

    def check() -> dict[str, Any] | None:
        st = status(argo, app)
        if sync and (st.get("sync") or {}).get("status") != sync:
            return None
        if health and (st.get("health") or {}).get("status") != health:
            return None
        if revision and (st.get("sync") or {}).get("revision") != revision:
            return None
        return st

    try:
        return wait_for(check, timeout=timeout, interval=0.5, what=f"{app} {sync} {health}")
    except AssertionError as exc:
        st = status(argo, app)
        summary = {
            "sync": st.get("sync"),
            "health": st.get("health"),
            "conditions": st.get("conditions"),
            "operationState": {
                k: v for k, v in (st.get("operationState") or {}).items() if k != "syncResult"
            },
            "resources": st.get("resources"),
        }
        raise AssertionError(
            f"{exc}\nApplication status: {json.dumps(summary, indent=1)}\n"
            f"controller log:\n{argo.logs('application-controller', 20)}"
        ) from None


def refreshed(argo: LocalArgoCD, app: str, timeout: float = 60) -> dict[str, Any]:
    """Ask for a comparison with git and return the status once the controller made it:
    it removes the refresh annotation when it has."""
    refresh(argo, app)

    def done() -> dict[str, Any] | None:
        out = argo.kubectl("get", "application", app, "-n", NAMESPACE, "-o", "json").stdout
        obj = json.loads(out)
        if "argocd.argoproj.io/refresh" in (obj["metadata"].get("annotations") or {}):
            return None
        return dict(obj.get("status") or {})

    return wait_for(done, timeout=timeout, interval=0.25, what=f"{app} refreshed")
