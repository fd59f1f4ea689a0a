"""A real Argo CD syncs HostedAgents from git, with the shipped health check in argocd-cm.

Argo CD (built from its Go module, see foundry_devtools.argocd) runs its
application-controller and repo-server against the session's devcluster; the operator runs
as a local process watching every namespace, against the Foundry emulator. Each test owns
a folder of the session's git repository and an Application made from
examples/argocd/application-agents.yaml (automated sync, prune, self-heal, server-side
apply) that points at it.

What real Argo CD adds over the Lua unit tests: it compares the live object (with the API
server's defaults, the operator's status and finalizer) against git, re-syncs whatever it
sees as drift (self-heal would turn any OutOfSync into another sync in the history), and runs
the health check in its own Lua sandbox. Pruning needs a garbage collector (Argo CD deletes
with foreground propagation), so it is tested on a cluster with a node, in
tests/e2e/test_argocd_app_of_apps.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from gitopskit import wait_for_resync_rounds

from foundry_devtools.argocd import NAMESPACE, GitServer, LocalArgoCD
from foundry_devtools.emulator.process import EmulatorProcess
from support import TEST_RESYNC_SECONDS, wait_for
from support.argocd import (
    agent_health,
    agent_yaml,
    agents_application,
    refresh,
    refreshed,
    resource,
    status,
    wait_app,
)
from support.hagent import IMAGE, get, versions

pytestmark = pytest.mark.usefixtures("running_operator")

BAD_IMAGE = "myregistry.azurecr.io/agents/does-not-exist:1"
Kubectl = Callable[..., Any]


@dataclass
class AgentsApp:
    """One test's Application and its folder of the git repository."""

    argo: LocalArgoCD
    git: GitServer
    name: str
    namespace: str

    @property
    def path(self) -> str:
        return f"apps/{self.name}"

    def commit(self, files: dict[str, str | None], message: str) -> str:
        return self.git.commit({f"{self.path}/{k}": v for k, v in files.items()}, message)

    def create(self) -> None:
        app = agents_application(self.name, self.git.url, self.path, self.namespace)
        self.argo.kubectl("apply", "-f", "-", input=json.dumps(app))

    def status(self) -> dict[str, Any]:
        return status(self.argo, self.name)

    def wait(self, **kwargs: Any) -> dict[str, Any]:
        return wait_app(self.argo, self.name, **kwargs)


@pytest.fixture
def agents_app(argocd: LocalArgoCD, gitops_repo: GitServer, namespace: str) -> Iterator[AgentsApp]:
    app = AgentsApp(argocd, gitops_repo, namespace, namespace)
    # A directory Application reads only manifests; the README keeps the folder in git once
    # the last manifest is removed.
    app.commit({"README.md": "HostedAgents of one test\n"}, f"{namespace}: folder")
    yield app
    # The example's resources-finalizer deletes with foreground propagation, which needs a
    # garbage collector; the session devcluster runs none (the prune test runs on a node
    # cluster, tests/e2e/test_argocd_app_of_apps.py). So drop it, and delete the agents
    # directly: the operator still deletes their Foundry versions.
    argocd.kubectl(
        "patch", "application", app.name, "-n", NAMESPACE, "--type", "merge",
        "-p", '{"metadata":{"finalizers":null}}', check=False,
    )  # fmt: skip
    argocd.kubectl("delete", "application", app.name, "-n", NAMESPACE, check=False)
    argocd.kubectl("delete", "hagent", "--all", "-n", namespace, "--wait=false", check=False)


def track_health(app: AgentsApp, agent: str, until: str, timeout: float = 90) -> list[str]:
    """The HostedAgent health values Argo CD reported, in order, up to ``until``."""
    seen: list[str] = []

    def step() -> bool:
        health, _ = agent_health(app.status(), agent)
        if health and (not seen or seen[-1] != health):
            seen.append(health)
        return health == until

    try:
        wait_for(step, timeout=timeout, interval=0.25, what=f"{agent} {until}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; health seen: {seen}; status: {app.status()}") from None
    return seen


def test_synced_agent_goes_progressing_then_healthy_and_stays_synced(
    agents_app: AgentsApp, kubectl: Kubectl, emulator: EmulatorProcess
) -> None:
    # Slow enough that Argo CD sees the version being created.
    emulator.admin().set_provisioning_delay(3.0)
    agents_app.commit({"hello.yaml": agent_yaml("hello", f"{IMAGE}:1")}, "add hello")
    agents_app.create()

    seen = track_health(agents_app, "hello", "Healthy")
    assert seen[-2:] == ["Progressing", "Healthy"], seen
    assert "Degraded" not in seen, seen
    st = agents_app.wait(sync="Synced", health="Healthy")
    obj = get(kubectl, agents_app.namespace, "hello")
    assert agent_health(st, "hello")[1] == (
        f"Version {obj['status']['servingVersion']} of agent {obj['status']['agentName']} "
        "is serving"
    )
    synced_revision = st["sync"]["revision"]
    assert len(st.get("history") or []) == 1, st.get("history")

    # Two resyncs of the operator (status, conditions, finalizer all in place by now), with
    # Argo CD watching: any field it saw as drift would show as OutOfSync, and self-heal
    # would answer it with another sync.
    sync_seen: set[str] = set()
    started = time.monotonic()
    while time.monotonic() - started < 2.2 * TEST_RESYNC_SECONDS:
        sync_seen.add((agents_app.status().get("sync") or {}).get("status", ""))
        time.sleep(0.5)
    wait_for_resync_rounds(kubectl, emulator, rounds=2)
    st = refreshed(agents_app.argo, agents_app.name)
    assert sync_seen == {"Synced"}, sync_seen
    assert st["sync"] == {**st["sync"], "status": "Synced", "revision": synced_revision}
    assert (resource(st, "HostedAgent", "hello") or {}).get("status") == "Synced"
    assert len(st.get("history") or []) == 1, f"Argo CD synced again: {st.get('history')}"
    assert st["health"]["status"] == "Healthy"


def test_broken_image_is_degraded_with_reason_and_remediation(
    agents_app: AgentsApp, kubectl: Kubectl
) -> None:
    agents_app.commit({"broken.yaml": agent_yaml("broken", BAD_IMAGE)}, "add broken")
    agents_app.create()

    st = agents_app.wait(sync="Synced", health="Degraded")
    health, message = agent_health(st, "broken")
    obj = get(kubectl, agents_app.namespace, "broken")
    degraded = next(c for c in obj["status"]["conditions"] if c["type"] == "Degraded")
    assert health == "Degraded"
    assert message == f"{degraded['reason']}: {degraded['message']}"
    assert degraded["reason"] == "ImagePullBackOff"
    assert BAD_IMAGE in message
    assert obj["status"]["lastError"]["remediation"] in message


def test_a_commit_that_changes_the_image_rolls_out_a_new_version(
    agents_app: AgentsApp, kubectl: Kubectl, foundry: AIProjectClient
) -> None:
    agents_app.commit({"hello.yaml": agent_yaml("hello", f"{IMAGE}:1")}, "add hello")
    agents_app.create()
    agents_app.wait(sync="Synced", health="Healthy")
    agent = get(kubectl, agents_app.namespace, "hello")["status"]["agentName"]
    assert len(versions(foundry, agent)) == 1

    sha = agents_app.commit({"hello.yaml": agent_yaml("hello", f"{IMAGE}:2")}, "hello: image 2")
    refresh(agents_app.argo, agents_app.name)
    st = agents_app.wait(sync="Synced", health="Healthy", revision=sha)

    obj = get(kubectl, agents_app.namespace, "hello")
    assert obj["spec"]["image"] == f"{IMAGE}:2"
    held = versions(foundry, agent)
    assert len(held) == 2
    serving = str(obj["status"]["servingVersion"])
    assert serving == str(held[-1]["version"])
    image = held[-1]["definition"]["container_configuration"]["image"]
    assert image == f"{IMAGE}:2"
    assert agent_health(st, "hello") == (
        "Healthy",
        f"Version {serving} of agent {agent} is serving",
    )


def test_argocd_admin_health_on_a_live_agent_matches_the_controller(
    agents_app: AgentsApp, kubectl: Kubectl, tmp_path: Path
) -> None:
    agents_app.commit(
        {
            "hello.yaml": agent_yaml("hello", f"{IMAGE}:1"),
            "broken.yaml": agent_yaml("broken", BAD_IMAGE),
        },
        "add hello and broken",
    )
    agents_app.create()
    st = agents_app.wait(sync="Synced", health="Degraded")
    st = wait_for(
        lambda: (s := agents_app.status()) and agent_health(s, "hello")[0] == "Healthy" and s,
        timeout=60,
        what="hello Healthy",
    )
    # The argocd-cm the controller reads, saved as a user would to test a check offline.
    cm = tmp_path / "argocd-cm.yaml"
    cm.write_text(kubectl("get", "configmap", "argocd-cm", "-n", NAMESPACE, "-o", "yaml").stdout)
    for name in ("hello", "broken"):
        live = tmp_path / f"{name}.yaml"
        live.write_text(
            kubectl("get", "hagent", name, "-n", agents_app.namespace, "-o", "yaml").stdout
        )
        out = agents_app.argo.argocd(
            "admin",
            "settings",
            "resource-overrides",
            "health",
            str(live),
            "--argocd-cm-path",
            str(cm),
        ).stdout
        printed = dict(
            line.split(": ", 1)
            for line in out.splitlines()
            if line.startswith(("STATUS", "MESSAGE"))
        )
        assert (printed["STATUS"], printed["MESSAGE"]) == agent_health(st, name), out
