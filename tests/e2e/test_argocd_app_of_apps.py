"""The app-of-apps example on an empty cluster: the operator chart first, then the agents;
then an agent removed from git is pruned through its finalizer.

A real Argo CD (the session's, see tests/conftest.py) syncs examples/argocd/app-of-apps.yaml
from git onto a second devcluster (the session's node cluster, before test_node_chart.py
uses it) that has a node and nothing else: no HostedAgent CRD, no operator. The chart's
operator runs there as a Pod from the project's image. The examples are committed as a
user would after filling in their CHANGE ME values: the repository, the branch, the
destination cluster (registered with Argo CD as a cluster Secret) and the chart values
that point the Pod at the Foundry emulator.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml
from nodekit import NodeEnv

from foundry_devtools.argocd import NAMESPACE, GitServer, LocalArgoCD
from support import wait_for
from support.argocd import EXAMPLES, REPO, example, refresh, wait_app

CRD = "hostedagents.foundry.agents.dev"
CHART = REPO / "charts" / "foundry-agent-operator"


@pytest.fixture(scope="module")
def env(node: NodeEnv) -> NodeEnv:
    return node


def helm_parameters(set_args: list[str]) -> list[dict[str, str]]:
    """``--set a=b`` pairs as an Application's ``helm.parameters``."""
    pairs = [set_args[i + 1] for i in range(0, len(set_args), 2) if set_args[i] == "--set"]
    return [dict(zip(("name", "value"), p.split("=", 1), strict=True)) for p in pairs]


def committed_examples(
    prefix: str, repo_url: str, server: str, values: list[str]
) -> dict[str, str]:
    """The chart and examples/argocd as a user commits them, CHANGE ME values filled in."""
    files = {
        f"{prefix}/charts/foundry-agent-operator/{p.relative_to(CHART)}": p.read_text()
        for p in CHART.rglob("*")
        if p.is_file()
    }
    root = example("app-of-apps.yaml")
    root["spec"]["source"].update(
        repoURL=repo_url, targetRevision="main", path=f"{prefix}/examples/argocd"
    )
    operator = example("application-operator.yaml")
    operator["spec"]["source"].update(
        repoURL=repo_url, targetRevision="main", path=f"{prefix}/charts/foundry-agent-operator"
    )
    operator["spec"]["source"]["helm"]["parameters"] = [
        *helm_parameters(values),
        # The Pod authenticates with the emulator's identity Secret, not workload identity.
        {"name": "azure.workloadIdentity.enabled", "value": "false"},
    ]
    operator["spec"]["destination"]["server"] = server
    agents = example("application-agents.yaml")
    agents["spec"]["source"].update(
        repoURL=repo_url, targetRevision="main", path=f"{prefix}/examples/argocd/agents"
    )
    agents["spec"]["destination"]["server"] = server
    for name, doc in (
        ("app-of-apps.yaml", root),
        ("application-operator.yaml", operator),
        ("application-agents.yaml", agents),
    ):
        files[f"{prefix}/examples/argocd/{name}"] = yaml.safe_dump(doc, sort_keys=False)
    files[f"{prefix}/examples/argocd/agents/hello-agent.yaml"] = (
        EXAMPLES / "agents" / "hello-agent.yaml"
    ).read_text()
    # Keeps the agents' folder in git once its last manifest is removed.
    files[f"{prefix}/examples/argocd/agents/README.md"] = "The platform's HostedAgents\n"
    return files


def foundry_versions(env: NodeEnv, agent_name: str) -> list[Any]:
    for record in env.foundry_state()["agents"]:
        if record.get("name") == agent_name:
            return list(record["all_versions"])
    return []


def condition_time(obj: dict[str, Any], type_: str) -> str:
    conditions = (obj.get("status") or {}).get("conditions") or []
    found = next(c for c in conditions if c["type"] == type_ and c["status"] == "True")
    return str(found["lastTransitionTime"])


def test_app_of_apps_syncs_the_operator_then_the_agents_and_prunes_a_removed_agent(
    env: NodeEnv, argocd: LocalArgoCD, gitops_repo: GitServer
) -> None:
    assert env.kubectl("get", "crd", CRD, check=False).returncode != 0, "not an empty cluster"
    server = argocd.register_cluster("node", env.cluster.kubeconfig)
    # What the chart's Pod needs beside the chart: the emulator's identity Secret and CA.
    env.kubectl("create", "namespace", "foundry-system")
    env.pod_identity_secret("foundry-system")
    prefix = f"platform-{uuid.uuid4().hex[:6]}"
    gitops_repo.commit(
        committed_examples(prefix, gitops_repo.url, server, env.chart_values()),
        "the operator and its agents",
    )
    root = example("app-of-apps.yaml")
    root["spec"]["source"].update(
        repoURL=gitops_repo.url, targetRevision="main", path=f"{prefix}/examples/argocd"
    )
    argocd.kubectl("apply", "-f", "-", input=json.dumps(root))
    try:
        wait_app(argocd, "foundry-platform", sync="Synced", health="Healthy", timeout=420)
        for child in ("foundry-agent-operator", "foundry-agents"):
            wait_app(argocd, child, sync="Synced", health="Healthy", timeout=60)

        crd = env.json("get", "crd", CRD)
        deployment = env.json(
            "get", "deployment", "-n", "foundry-system",
            "-l", "app.kubernetes.io/instance=foundry-agent-operator",
        )["items"][0]  # fmt: skip
        agent = wait_for(
            lambda: (
                (a := env.json("get", "hagent", "hello-agent", "-n", "agents"))
                and (a.get("status") or {}).get("phase") == "Ready"
                and a
            ),
            timeout=120,
            what="hello-agent Ready on the node cluster",
        )
        created = agent["metadata"]["creationTimestamp"]
        # Wave "1" began only once wave "-1" was Healthy: the CRD Established and the
        # operator's Deployment available before the agent existed.
        assert condition_time(crd, "Established") <= created
        assert condition_time(deployment, "Available") <= created
        assert agent["status"]["servingVersion"]

        # Removing the agent from git: Argo CD prunes it (foreground deletion, which the
        # node's garbage collector completes), the operator's finalizer deletes its Foundry
        # versions first, and the Application is Synced with nothing left.
        agent_name = agent["status"]["agentName"]
        assert foundry_versions(env, agent_name)
        sha = gitops_repo.commit(
            {f"{prefix}/examples/argocd/agents/hello-agent.yaml": None}, "remove hello-agent"
        )
        refresh(argocd, "foundry-agents")
        wait_for(
            lambda: (
                env.kubectl("get", "hagent", "hello-agent", "-n", "agents", check=False).returncode
                != 0
            ),
            timeout=120,
            what="the pruned HostedAgent to be gone (its finalizer done)",
        )
        assert foundry_versions(env, agent_name) == []
        st = wait_app(argocd, "foundry-agents", sync="Synced", revision=sha, timeout=60)
        assert not st.get("resources"), st.get("resources")
    finally:
        # Not the root's resources-finalizer: it deletes the child Applications with
        # foreground propagation, which the test cluster (no garbage collector) never
        # completes. The root goes first without it (or it would sync its children back),
        # then the agents' Application, whose finalizer deletes the HostedAgents on the node
        # cluster while the operator still runs there.
        argocd.kubectl(
            "patch", "application", "foundry-platform", "-n", NAMESPACE, "--type", "merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip
        for app in ("foundry-platform", "foundry-agents", "foundry-agent-operator"):
            argocd.kubectl(
                "delete", "application", app, "-n", NAMESPACE, "--timeout=120s",
                check=False, timeout=130,
            )  # fmt: skip
        argocd.unregister_cluster("node")
        # The node cluster is the session's, and test_node_chart.py installs operators of
        # its own there next: the one Argo CD installed goes, after the agents it finalizes.
        for namespace in ("agents", "foundry-system"):
            env.kubectl(
                "delete", "namespace", namespace, "--ignore-not-found", "--timeout=120s",
                check=False, timeout=130,
            )  # fmt: skip
        env.kubectl(
            "delete",
            "clusterroles,clusterrolebindings,validatingadmissionpolicies,"
            "validatingadmissionpolicybindings",
            "-l", "app.kubernetes.io/instance=foundry-agent-operator", "--ignore-not-found",
            check=False,
        )  # fmt: skip
