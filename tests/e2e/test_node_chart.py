"""The chart on a real node: the image built from our Dockerfile runs as the chart's Pod.

The session's devcluster with a node (controllers, scheduler, kubelet, containerd; see
conftest.py), the image built with buildah and loaded into the node, and a Foundry emulator
the pods reach at the pod network's gateway (DNAT onto its loopback ports). Everything the
operator does here it does as a Pod: with its ServiceAccount's token only, under the
chart's security context (non-root UID, read-only root filesystem) in a namespace that
enforces Pod Security "restricted", with the kubelet's probes deciding readiness.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from nodekit import CHART, NodeEnv

from support import wait_for

FULLNAME = "{release}-foundry-agent-operator"
AGENT_IMAGE = "myregistry.azurecr.io/agents/node-test:1"


@pytest.fixture(scope="module")
def env(node: NodeEnv) -> NodeEnv:
    return node


def restricted_namespace(env: NodeEnv, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    env.kubectl("create", "namespace", name)
    env.kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted")
    env.pod_identity_secret(name)
    return name


def install(env: NodeEnv, release: str, namespace: str, *args: str) -> None:
    env.helm(
        "install", release, str(CHART), "-n", namespace, "--take-ownership",
        *env.chart_values(), *args,
        "--wait", "--timeout", "180s",
    )  # fmt: skip


def pods(env: NodeEnv, namespace: str, release: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={release}"
    items = env.json("get", "pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def agent(name: str, agent_name: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "metadata": {"name": name},
            "spec": {"image": AGENT_IMAGE, "agentName": agent_name, **spec},
        }
    )


def wait_ready(env: NodeEnv, namespace: str, name: str, timeout: int = 120) -> None:
    env.kubectl(
        "wait", "--for=condition=Ready", f"--timeout={timeout}s", f"hagent/{name}",
        "-n", namespace, timeout=timeout + 10,
    )  # fmt: skip


def foundry_versions(env: NodeEnv, agent_name: str) -> list[Any]:
    """The versions the emulator holds for ``agent_name`` (none once the agent is gone)."""
    for record in env.foundry_state()["agents"]:
        if record.get("name") == agent_name:
            return list(record["all_versions"])
    return []


def denials(log: str) -> list[str]:
    return [line for line in log.splitlines() if "forbidden" in line and "cannot " in line]


def logs(env: NodeEnv, namespace: str, pod: str) -> str:
    return env.kubectl("logs", pod, "-n", namespace, check=False).stdout


def uninstall(env: NodeEnv, release: str, namespace: str) -> None:
    env.helm("uninstall", release, "-n", namespace, "--wait", check=False)


# --- the operator as a Pod -----------------------------------------------------------


def test_operator_pod_is_ready_in_a_restricted_namespace_and_reconciles_with_its_token(
    env: NodeEnv,
) -> None:
    ops = restricted_namespace(env, "ops")
    release = f"fao-{uuid.uuid4().hex[:4]}"
    install(env, release, ops)
    try:
        (pod,) = pods(env, ops, release)
        # The kubelet's probes on the health port marked it Ready; nothing restarted.
        assert ready(pod), pod["status"]
        status = pod["status"]["containerStatuses"][0]
        assert status["restartCount"] == 0 and status["imageID"], status
        name = pod["metadata"]["name"]
        # The image's numeric user, and a root filesystem it cannot write.
        probe = env.kubectl(
            "exec", name, "-n", ops, "--", "python", "-c",
            "import os\n"
            "print(os.getuid(), os.getgid())\n"
            "try:\n open('/opt/foundry-operator/x', 'w')\nexcept OSError as e:\n print(e.errno)",
        ).stdout.split()  # fmt: skip
        assert probe == ["65532", "65532", "30"], probe  # 30: EROFS

        apps = f"apps-{uuid.uuid4().hex[:6]}"
        env.kubectl("create", "namespace", apps)
        agent_name = f"node-{uuid.uuid4().hex[:6]}"
        env.kubectl("apply", "-n", apps, "-f", "-", input=agent("hello", agent_name))
        wait_ready(env, apps, "hello")
        assert len(foundry_versions(env, agent_name)) == 1
        assert denials(logs(env, ops, name)) == []

        # /metrics through the Service (the API server's proxy to its endpoints).
        service = FULLNAME.format(release=release) + "-metrics"
        metrics = env.kubectl(
            "get",
            "--raw",
            f"/api/v1/namespaces/{ops}/services/http:{service}:metrics/proxy/metrics",
        ).stdout
        assert "foundry_operator" in metrics, metrics[:500]

        env.kubectl("delete", "namespace", apps, "--timeout=120s", timeout=130)
        assert foundry_versions(env, agent_name) == []
    finally:
        uninstall(env, release, ops)


def test_helm_upgrade_rolls_the_pod(env: NodeEnv) -> None:
    ops = restricted_namespace(env, "upg")
    release = f"fao-{uuid.uuid4().hex[:4]}"
    install(env, release, ops)
    try:
        (before,) = pods(env, ops, release)
        env.helm(
            "upgrade", release, str(CHART), "-n", ops, *env.chart_values(),
            "--set", "operator.logLevel=DEBUG", "--wait", "--timeout", "180s",
        )  # fmt: skip
        after = wait_for(
            lambda: (
                [p for p in pods(env, ops, release) if ready(p)]
                if len(pods(env, ops, release)) == 1
                else None
            ),
            timeout=120,
            what="one Ready pod after the upgrade",
        )
        assert after[0]["metadata"]["uid"] != before["metadata"]["uid"]
        env_vars = {e["name"]: e.get("value") for e in after[0]["spec"]["containers"][0]["env"]}
        assert env_vars["FOUNDRY_OPERATOR_LOG_LEVEL"] == "DEBUG"
    finally:
        uninstall(env, release, ops)


def lease_holder(env: NodeEnv, namespace: str, release: str) -> str | None:
    lease = env.kubectl(
        "get", "lease", FULLNAME.format(release=release), "-n", namespace, "-o", "json",
        check=False,
    )  # fmt: skip
    if lease.returncode != 0:
        return None
    holder = json.loads(lease.stdout).get("spec", {}).get("holderIdentity")
    # The identity is POD_NAME_PID: the pod is what matters here.
    return str(holder).rsplit("_", 1)[0] if holder else None


def test_two_replicas_fail_over_when_the_leader_pod_is_deleted(env: NodeEnv) -> None:
    ops = restricted_namespace(env, "ha")
    release = f"fao-{uuid.uuid4().hex[:4]}"
    install(env, release, ops, "--set", "replicaCount=2")
    try:
        running = pods(env, ops, release)
        assert len(running) == 2 and all(ready(p) for p in running)
        names = {p["metadata"]["name"] for p in running}
        leader = wait_for(lambda: lease_holder(env, ops, release), timeout=60, what="a leader")
        assert leader in names

        apps = f"apps-{uuid.uuid4().hex[:6]}"
        env.kubectl("create", "namespace", apps)
        agent_name = f"ha-{uuid.uuid4().hex[:6]}"
        env.kubectl("apply", "-n", apps, "-f", "-", input=agent("ha", agent_name))
        wait_ready(env, apps, "ha")

        began = time.monotonic()
        env.kubectl("delete", "pod", leader, "-n", ops, "--wait=false")
        standby = (names - {leader}).pop()
        new_leader = wait_for(
            lambda: (h := lease_holder(env, ops, release)) and h != leader and h,
            timeout=90,
            what="another replica to take the Lease",
        )
        took = time.monotonic() - began
        assert new_leader in {standby} | {p["metadata"]["name"] for p in pods(env, ops, release)}
        # The new leader carries on: a change rolls out, with no duplicate version.
        env.kubectl(
            "patch", "hagent", "ha", "-n", apps, "--type=merge",
            "-p", json.dumps({"spec": {"image": AGENT_IMAGE.replace(":1", ":2")}}),
        )  # fmt: skip
        wait_for(
            lambda: len(foundry_versions(env, agent_name)) == 2,
            timeout=120,
            what="the second version",
        )
        wait_ready(env, apps, "ha")
        assert len(foundry_versions(env, agent_name)) == 2, f"failover took {took:.0f}s"
        env.kubectl("delete", "namespace", apps, "--timeout=120s", timeout=130)
    finally:
        uninstall(env, release, ops)


# --- namespaces, garbage collection, uninstall ---------------------------------------


def test_namespace_deletion_finishes_and_owned_objects_are_collected(env: NodeEnv) -> None:
    ops = restricted_namespace(env, "gc")
    release = f"fao-{uuid.uuid4().hex[:4]}"
    install(env, release, ops)
    try:
        apps = f"apps-{uuid.uuid4().hex[:6]}"
        env.kubectl("create", "namespace", apps)
        first, second = (f"gc-{uuid.uuid4().hex[:6]}" for _ in range(2))
        env.kubectl(
            "apply", "-n", apps, "-f", "-",
            input=agent("one", first, endpointConfigMap={"name": "one-endpoint"}),
        )  # fmt: skip
        env.kubectl("apply", "-n", apps, "-f", "-", input=agent("two", second))
        wait_ready(env, apps, "one")
        wait_ready(env, apps, "two")
        # A dependent of our own, owned by the HostedAgent: only the garbage collector
        # removes it.
        uid = env.json("get", "hagent", "one", "-n", apps)["metadata"]["uid"]
        dependent = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "one-notes",
                "ownerReferences": [
                    {
                        "apiVersion": "foundry.agents.dev/v1alpha1",
                        "kind": "HostedAgent",
                        "name": "one",
                        "uid": uid,
                    }
                ],
            },
            "data": {"note": "collected with its owner"},
        }
        env.kubectl("apply", "-n", apps, "-f", "-", input=json.dumps(dependent))
        assert env.kubectl("get", "configmap", "one-endpoint", "-n", apps).returncode == 0

        env.kubectl("delete", "hagent", "one", "-n", apps, "--timeout=90s", timeout=100)
        wait_for(
            lambda: all(
                env.kubectl("get", "configmap", n, "-n", apps, check=False).returncode != 0
                for n in ("one-endpoint", "one-notes")
            ),
            timeout=60,
            what="the HostedAgent's ConfigMaps to be collected",
        )
        assert foundry_versions(env, first) == []

        env.kubectl("delete", "namespace", apps, "--timeout=120s", timeout=130)
        assert env.kubectl("get", "namespace", apps, check=False).returncode != 0
        assert foundry_versions(env, second) == []
    finally:
        uninstall(env, release, ops)


def test_uninstalling_the_operator_leaves_agents_finalized_until_one_runs_again(
    env: NodeEnv,
) -> None:
    ops = restricted_namespace(env, "un")
    release = f"fao-{uuid.uuid4().hex[:4]}"
    install(env, release, ops)
    apps = f"apps-{uuid.uuid4().hex[:6]}"
    env.kubectl("create", "namespace", apps)
    agent_name = f"un-{uuid.uuid4().hex[:6]}"
    env.kubectl("apply", "-n", apps, "-f", "-", input=agent("kept", agent_name))
    wait_ready(env, apps, "kept")
    uninstall(env, release, ops)
    try:
        # The CRD stays (kept by the chart), the agent keeps its finalizer: deleting it now
        # waits, and Foundry keeps the version, until an operator runs again.
        env.kubectl("delete", "hagent", "kept", "-n", apps, "--wait=false")
        held = env.json("get", "hagent", "kept", "-n", apps)
        assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"]
        assert len(foundry_versions(env, agent_name)) == 1

        install(env, release, ops)
        wait_for(
            lambda: env.kubectl("get", "hagent", "kept", "-n", apps, check=False).returncode != 0,
            timeout=120,
            what="the reinstalled operator to finish the deletion",
        )
        assert foundry_versions(env, agent_name) == []
    finally:
        env.kubectl("delete", "namespace", apps, "--wait=false", check=False)
        uninstall(env, release, ops)


def test_stop_leaves_nothing_behind(env: NodeEnv, tmp_path: Path) -> None:
    """Last in the module: stopping the node removes pods, mounts, netns and network."""
    ops = restricted_namespace(env, "stop")
    release = f"fao-{uuid.uuid4().hex[:4]}"
    install(env, release, ops)
    assert env.cluster.node.leftovers()  # a running node has mounts, a bridge, cgroups
    env.emulator.stop()
    env.cluster.stop()
    assert env.cluster.node.leftovers() == []
    assert env.cluster.pid("kubelet") is None and env.cluster.pid("containerd") is None
