"""The chart installed into a real control plane (the session devcluster, or --kubeconfig).

The devcluster runs no controllers, so Deployments never get Pods: these tests check the
objects Helm creates, have the API server judge the pod template, and run the operator
*outside* the cluster as the pod would (with the Deployment's environment) holding only the
ServiceAccount's token, against the Foundry emulator.

Shared state, handled on purpose:
- The HostedAgent CRD is cluster-scoped and shared by the session; other tests apply
  crds/ with kubectl. Installs use ``--take-ownership`` (Helm 3.17+) to adopt it, as a user
  with an existing CRD would, and every test leaves the served CRD equal to crds/.
- The session operator (``operator_process``) watches every namespace with admin rights.
  Tests that run an operator stop it first, so that exactly one operator handles each
  HostedAgent; ``running_operator`` starts it again for the tests that need it.
"""

from __future__ import annotations

import json
import shutil
import socket
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import (
    CHART,
    CI_VALUES,
    CRD_FILE,
    CRD_NAME,
    CRDS,
    Helm,
    Manifest,
    crd_spec_matches_repo,
    documents,
    literal_env,
    one,
    pod_from_deployment,
    rule_grants,
    serviceaccount_kubeconfig,
)

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from foundry_operator.permissions import Place, Scope, grants
from support import KubeEnv, wait_for

Kubectl = Callable[..., Any]

FULLNAME = "{release}-foundry-agent-operator"
IMAGE = "myregistry.azurecr.io/agents/chart-test:1"
SECRET_REF = {"name": "agent-secrets", "key": "token"}


@pytest.fixture(scope="module")
def helm(kube: KubeEnv) -> Helm:
    return Helm(kube.helm_bin, kube.env)


@pytest.fixture(scope="module", autouse=True)
def served_crd_stays_as_in_repo(kubectl: Kubectl) -> Iterator[None]:
    """Whatever these tests do to the CRD, the session gets crds/ back."""
    yield
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/hostedagents.foundry.agents.dev",
    )
    assert crd_spec_matches_repo(served_crd(kubectl)) == []


@pytest.fixture
def release() -> str:
    return f"fao-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def extra_namespace(kubectl: Kubectl) -> Iterator[Callable[[str], str]]:
    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        kubectl("create", "namespace", name)
        created.append(name)
        return name

    yield make
    for name in created:  # never finishes in a devcluster: don't wait
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def install(helm: Helm, release: str, namespace: str, *args: str) -> str:
    result = helm.run("install", release, str(CHART), "-n", namespace, "--take-ownership", *args)
    return result.stdout


def uninstall(helm: Helm, release: str, namespace: str) -> None:
    helm.run("uninstall", release, "-n", namespace, check=False)


def get(kubectl: Kubectl, *args: str) -> Manifest:
    return dict(json.loads(kubectl("get", *args, "-o", "json").stdout))


def exists(kubectl: Kubectl, *args: str) -> bool:
    return bool(kubectl("get", *args, "-o", "name", check=False).returncode == 0)


def served_crd(kubectl: Kubectl) -> Manifest:
    return get(kubectl, "crd", CRD_NAME)


def can_i(kubectl: Kubectl, service_account: str, *args: str) -> bool:
    result = kubectl("auth", "can-i", *args, f"--as={service_account}", check=False)
    return bool(result.stdout.strip() == "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hosted_agent(name: str, agent_name: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "metadata": {"name": name},
            "spec": {"image": IMAGE, "agentName": agent_name, **spec},
        }
    )


def wait_ready(kubectl: Kubectl, namespace: str, name: str, timeout: int = 90) -> None:
    kubectl(
        "wait",
        "--for=condition=Ready",
        f"--timeout={timeout}s",
        f"hagent/{name}",
        "-n",
        namespace,
        timeout=timeout + 10,
    )


def delete_and_wait_gone(kubectl: Kubectl, namespace: str, name: str) -> None:
    """Deleting needs the operator too: its finalizer comes off only after Foundry cleanup."""
    kubectl("delete", "hagent", name, "-n", namespace, "--timeout=60s", timeout=70)


def denials(log: str) -> list[str]:
    """Messages of the operator's log that report an RBAC refusal."""
    found = []
    for line in log.splitlines():
        try:
            message = str(json.loads(line).get("message", ""))
        except ValueError:
            message = line
        if "forbidden: User" in message and "cannot " in message:
            found.append(message)
    return found


def service_account_kubeconfig(
    kubectl: Kubectl, kube: KubeEnv, namespace: str, name: str, tmp_path: Path
) -> Path:
    """A kubeconfig holding only a token of the chart's ServiceAccount (TokenRequest API)."""
    token = kubectl("create", "token", name, "-n", namespace, "--duration=1h").stdout.strip()
    return serviceaccount_kubeconfig(kube.kubeconfig, token, namespace, tmp_path / "sa.kubeconfig")


def operator_env(deployment: Manifest, pod_name: str) -> dict[str, str]:
    """What the pod's container would see: the literal env plus the downward-API POD_ID."""
    env = literal_env(deployment)
    env["POD_NAME"] = env["POD_ID"] = pod_name
    return env


# --- install, upgrade, uninstall ------------------------------------------------------


def test_install_with_defaults_creates_cluster_wide_operator_objects(
    helm: Helm, kubectl: Kubectl, namespace: str, release: str
) -> None:
    notes = install(helm, release, namespace)
    name = FULLNAME.format(release=release)
    try:
        crd = served_crd(kubectl)
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == release
        assert crd_spec_matches_repo(crd) == []

        role = get(kubectl, "clusterrole", name)
        assert rule_grants(role["rules"]) == grants(
            Scope.CLUSTER, frozenset({Place.WATCHED, Place.CLUSTER})
        )
        binding = get(kubectl, "clusterrolebinding", name)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": name, "namespace": namespace}
        ]
        assert exists(kubectl, "serviceaccount", name, "-n", namespace)
        deployment = get(kubectl, "deployment", name, "-n", namespace)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
        assert "FOUNDRY_OPERATOR_NAMESPACES" not in literal_env(deployment)
        service = get(kubectl, "service", f"{name}-metrics", "-n", namespace)
        assert service["spec"]["clusterIP"] and service["spec"]["ports"][0]["name"] == "metrics"
        assert not exists(kubectl, "poddisruptionbudget", name, "-n", namespace)

        # The API server's own RBAC evaluation of the ServiceAccount.
        sa = f"system:serviceaccount:{namespace}:{name}"
        assert can_i(kubectl, sa, "patch", "hostedagents.foundry.agents.dev", "-A")
        assert can_i(kubectl, sa, "watch", "secrets", "-n", "kube-system")
        assert not can_i(kubectl, sa, "update", "hostedagents.foundry.agents.dev", "-A")
        assert not can_i(kubectl, sa, "delete", "hostedagents.foundry.agents.dev", "-A")
        assert not can_i(kubectl, sa, "create", "secrets", "-A")
        assert not can_i(kubectl, sa, "list", "pods", "-A")

        # NOTES.txt tells the user what to do next.
        assert "kind: HostedAgent" in notes and "kubectl wait --for=condition=Ready" in notes
        assert "operator.projectEndpoint is empty" in notes
    finally:
        uninstall(helm, release, namespace)


def test_install_watching_namespaces_grants_roles_there_and_nothing_cluster_wide(
    helm: Helm,
    kubectl: Kubectl,
    namespace: str,
    release: str,
    extra_namespace: Callable[[str], str],
) -> None:
    watched = [extra_namespace("team-a"), extra_namespace("team-b")]
    elsewhere = extra_namespace("other")
    install(helm, release, namespace, "--set", f"watchNamespaces={{{','.join(watched)}}}")
    name = FULLNAME.format(release=release)
    try:
        assert not exists(kubectl, "clusterrole", name)
        assert not exists(kubectl, "clusterrolebinding", name)
        for ns in watched:
            role = get(kubectl, "role", name, "-n", ns)
            assert rule_grants(role["rules"]) == grants(
                Scope.NAMESPACES, frozenset({Place.WATCHED, Place.CLUSTER})
            )
            binding = get(kubectl, "rolebinding", name, "-n", ns)
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": name, "namespace": namespace}
            ]
        assert not exists(kubectl, "role", name, "-n", namespace)
        deployment = get(kubectl, "deployment", name, "-n", namespace)
        assert literal_env(deployment)["FOUNDRY_OPERATOR_NAMESPACES"] == ",".join(watched)

        sa = f"system:serviceaccount:{namespace}:{name}"
        assert can_i(kubectl, sa, "list", "hostedagents.foundry.agents.dev", "-n", watched[0])
        assert can_i(kubectl, sa, "get", "secrets", "-n", watched[1])
        assert not can_i(kubectl, sa, "get", "secrets", "-n", elsewhere)
        assert not can_i(kubectl, sa, "list", "hostedagents.foundry.agents.dev", "-A")
        assert not can_i(kubectl, sa, "list", "customresourcedefinitions")
    finally:
        uninstall(helm, release, namespace)


def test_upgrade_with_a_changed_crd_serves_the_new_schema(
    helm: Helm, kubectl: Kubectl, namespace: str, release: str, tmp_path: Path
) -> None:
    install(helm, release, namespace)
    changed = tmp_path / "chart"
    shutil.copytree(CHART, changed)
    crd_copy = changed / "files" / "crds" / CRD_FILE.name
    crd = yaml.safe_load(crd_copy.read_text())
    (version,) = crd["spec"]["versions"]
    version["additionalPrinterColumns"].insert(
        0, {"name": "Probe", "type": "string", "jsonPath": ".spec.upgradeProbe"}
    )
    spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["properties"]["upgradeProbe"] = {"type": "string", "maxLength": 8}
    crd_copy.write_text(yaml.safe_dump(crd))
    name = FULLNAME.format(release=release)
    before = get(kubectl, "deployment", name, "-n", namespace)
    try:
        helm.run("upgrade", release, str(changed), "-n", namespace)
        served = served_crd(kubectl)["spec"]["versions"][0]
        assert served["additionalPrinterColumns"][0]["name"] == "Probe"
        served_spec = served["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert served_spec["properties"]["upgradeProbe"] == {"type": "string", "maxLength": 8}
        # The new field is accepted (it would be pruned, or refused when too long, before).
        too_long = json.loads(hosted_agent("probe", "probe"))
        too_long["spec"]["upgradeProbe"] = "x" * 9
        refused = kubectl(
            "apply",
            "-n",
            namespace,
            "--dry-run=server",
            "-f",
            "-",
            input=json.dumps(too_long),
            check=False,
        )
        assert refused.returncode != 0 and "upgradeProbe" in refused.stderr
        # ...and the operator restarts to rescan: its pod template changed.
        after = get(kubectl, "deployment", name, "-n", namespace)
        checksum = "checksum/crd"
        assert (
            after["spec"]["template"]["metadata"]["annotations"][checksum]
            != before["spec"]["template"]["metadata"]["annotations"][checksum]
        )
    finally:
        # Back to the chart's own CRD, which is crds/: the session's other tests rely on it.
        helm.run("upgrade", release, str(CHART), "-n", namespace, check=False)
        uninstall(helm, release, namespace)
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    assert crd_spec_matches_repo(served_crd(kubectl)) == []


def test_uninstall_keeps_the_crd_and_removes_the_rest(
    helm: Helm, kubectl: Kubectl, namespace: str, release: str
) -> None:
    install(helm, release, namespace)
    name = FULLNAME.format(release=release)
    kubectl("apply", "-n", namespace, "-f", "-", input=hosted_agent("kept", "kept"))
    result = helm.run("uninstall", release, "-n", namespace)
    assert "kept due to the resource policy" in result.stdout + result.stderr
    assert exists(kubectl, "crd", CRD_NAME)
    assert exists(kubectl, "hagent", "kept", "-n", namespace), "HostedAgents survive"
    for kind in ("clusterrole", "clusterrolebinding"):
        assert not exists(kubectl, kind, name)
    for kind in ("deployment", "serviceaccount", "service"):
        assert not exists(
            kubectl, kind, name if kind != "service" else f"{name}-metrics", "-n", namespace
        )
    assert crd_spec_matches_repo(served_crd(kubectl)) == []


def test_install_dry_run_rejects_a_wrong_type_and_an_unknown_key(
    helm: Helm, namespace: str, release: str
) -> None:
    schema_error = "values don't meet the specifications of the schema"
    for bad, message in [
        ("replicaCount=two", "at '/replicaCount': got string, want integer"),
        ("operator.resync=60", "at '/operator': additional properties 'resync' not allowed"),
    ]:
        result = helm.run(
            "install",
            release,
            str(CHART),
            "-n",
            namespace,
            "--dry-run",
            "--set",
            bad,
            check=False,
        )
        assert result.returncode != 0
        assert schema_error in result.stderr and message in result.stderr
    good = helm.run(
        "install", release, str(CHART), "-n", namespace, "--dry-run=server", "--take-ownership"
    )
    assert "kind: Deployment" in good.stdout


# --- Pod Security ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [pytest.param((), id="defaults")]
    + [pytest.param((p,), id=p.name.removesuffix("-values.yaml")) for p in CI_VALUES],
)
def test_pod_is_admitted_under_pod_security_restricted(
    helm: Helm, kubectl: Kubectl, namespace: str, values: tuple[Path, ...]
) -> None:
    kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )
    deployment = one(
        documents(helm.template(values=values, namespace=namespace).stdout), "Deployment"
    )
    pod = pod_from_deployment(deployment, "operator-dry-run", namespace)
    admitted = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert admitted.returncode == 0, admitted.stderr
    assert "Warning" not in admitted.stderr, admitted.stderr

    # The control: the same pod without its security settings is refused, so the
    # namespace really enforces "restricted".
    del pod["spec"]["securityContext"]
    del pod["spec"]["containers"][0]["securityContext"]
    refused = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert refused.returncode != 0 and 'violates PodSecurity "restricted' in refused.stderr


# --- the operator with exactly the chart's permissions --------------------------------


def start_operator_as_the_pod(
    kubectl: Kubectl,
    kube: KubeEnv,
    emulator: EmulatorProcess,
    namespace: str,
    release: str,
    tmp_path: Path,
    replica: int = 0,
) -> tuple[OperatorProcess, int, int]:
    """`foundry-operator run` with the Deployment's environment and only the
    ServiceAccount's token; metrics and liveness on free local ports."""
    name = FULLNAME.format(release=release)
    deployment = get(kubectl, "deployment", name, "-n", namespace)
    kubeconfig = service_account_kubeconfig(kubectl, kube, namespace, name, tmp_path)
    metrics_port, health_port = free_port(), free_port()
    proc = OperatorProcess(
        tmp_path / f"operator-{replica}.log",
        kubeconfig=kubeconfig,
        foundry_env=emulator.env,
        # Flags win over the env: the pod's ports may be taken on this machine.
        args=["--metrics-port", str(metrics_port), "--health-port", str(health_port)],
        extra_env=operator_env(deployment, f"{name}-{replica}"),
    )
    proc.start()
    return proc, metrics_port, health_port


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status), response.read().decode()


@pytest.mark.usefixtures("no_session_operator")
def test_operator_with_only_the_cluster_wide_grants_reconciles_to_ready(
    helm: Helm,
    kubectl: Kubectl,
    kube: KubeEnv,
    emulator: EmulatorProcess,
    namespace: str,
    release: str,
    tmp_path: Path,
) -> None:
    install(helm, release, namespace, "--set", f"operator.projectEndpoint={emulator.endpoint}")
    proc, metrics_port, health_port = start_operator_as_the_pod(
        kubectl, kube, emulator, namespace, release, tmp_path
    )
    proc.wait_until_logged("Initial authentication has finished")
    agent = f"chart-{uuid.uuid4().hex[:6]}"
    try:
        # The probes' target answers (the Deployment probes /healthz on the health port).
        status, _ = wait_for(
            lambda: _try(lambda: http_get(f"http://127.0.0.1:{health_port}/healthz")),
            timeout=30,
            what="kopf liveness endpoint",
        )
        assert status == 200
        # An env value from a Secret: read by name, and its change noticed by the
        # metadata-only watch, which patches the HostedAgent: all with the chart's grants.
        kubectl(
            "create",
            "secret",
            "generic",
            "agent-secrets",
            "-n",
            namespace,
            "--from-literal=token=one",
        )
        secret_env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": SECRET_REF}}]
        kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            input=hosted_agent("agent", agent, env=secret_env),
        )
        wait_ready(kubectl, namespace, "agent")
        first = get(kubectl, "hagent", "agent", "-n", namespace)["status"]["latestVersion"]
        kubectl(
            "patch",
            "secret",
            "agent-secrets",
            "-n",
            namespace,
            "-p",
            json.dumps({"stringData": {"token": "two"}}),
        )

        def new_version() -> str | None:
            status = get(kubectl, "hagent", "agent", "-n", namespace).get("status", {})
            latest = status.get("latestVersion")
            return latest if latest and latest != first else None

        wait_for(new_version, timeout=60, what="a new version after the Secret changed")
        wait_ready(kubectl, namespace, "agent")
        status, metrics = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200 and "foundry_operator_reconciles_total" in metrics
        events = kubectl(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            "involvedObject.name=agent",
            "-o",
            "json",
        ).stdout
        assert json.loads(events)["items"], "Events were posted with the chart's grants"
        delete_and_wait_gone(kubectl, namespace, "agent")
    finally:
        proc.stop()
        uninstall(helm, release, namespace)
    log = proc.log_text()
    assert denials(log) == [], "the operator needed a permission the chart does not grant"
    assert "Not enough permissions" not in log
    assert f'"agent": "{agent}"' in log, "this operator, not another, created the version"


@pytest.mark.usefixtures("no_session_operator")
def test_operator_with_only_namespaced_grants_reconciles_to_ready(
    helm: Helm,
    kubectl: Kubectl,
    kube: KubeEnv,
    emulator: EmulatorProcess,
    namespace: str,
    release: str,
    extra_namespace: Callable[[str], str],
    tmp_path: Path,
) -> None:
    watched = extra_namespace("agents")
    install(
        helm,
        release,
        namespace,
        "--set",
        f"operator.projectEndpoint={emulator.endpoint}",
        "--set",
        f"watchNamespaces={{{watched}}}",
    )
    proc, _, _ = start_operator_as_the_pod(kubectl, kube, emulator, namespace, release, tmp_path)
    proc.wait_until_logged("Initial authentication has finished")
    try:
        kubectl("apply", "-n", watched, "-f", "-", input=hosted_agent("agent", release))
        # kopf 1.45 retries its cluster-scoped discovery calls (403) for about a minute
        # before falling back to the configured namespaces, unless the operator disables
        # scanning when namespaces are given.
        wait_ready(kubectl, watched, "agent", timeout=150)
        delete_and_wait_gone(kubectl, watched, "agent")
    finally:
        proc.stop()
        uninstall(helm, release, namespace)
    # The only refusals are kopf's optional cluster-wide discovery, which it does without.
    unexpected = [
        line
        for line in denials(proc.log_text())
        if not any(
            f'cannot {verb} resource "{resource}"' in line and "at the cluster scope" in line
            for verb in ("list", "watch")
            for resource in ("namespaces", "customresourcedefinitions")
        )
    ]
    assert unexpected == []


@pytest.mark.usefixtures("no_session_operator")
def test_two_replicas_elect_a_leader_and_the_standby_takes_over(
    helm: Helm,
    kubectl: Kubectl,
    kube: KubeEnv,
    emulator: EmulatorProcess,
    namespace: str,
    release: str,
    tmp_path: Path,
) -> None:
    """replicaCount=2: the chart's leader-election env and Lease Role at work."""
    install(
        helm,
        release,
        namespace,
        "--set",
        "replicaCount=2",
        "--set",
        "leaderElection.leaseDurationSeconds=4",
        "--set",
        f"operator.projectEndpoint={emulator.endpoint}",
    )
    replicas = [
        start_operator_as_the_pod(kubectl, kube, emulator, namespace, release, tmp_path, i)[0]
        for i in range(2)
    ]
    try:

        def leader() -> OperatorProcess | None:
            leading = [p for p in replicas if p.running() and "leading as" in p.log_text()]
            return leading[0] if len(leading) == 1 else None

        first = wait_for(leader, timeout=30, what="one leader")
        standby = next(p for p in replicas if p is not first)
        wait_for(lambda: "waiting to lead" in standby.log_text(), what="a standby")
        lease = get(kubectl, "lease", FULLNAME.format(release=release), "-n", namespace)
        assert lease["spec"]["holderIdentity"].startswith(FULLNAME.format(release=release))

        kubectl("apply", "-n", namespace, "-f", "-", input=hosted_agent("first", release))
        wait_ready(kubectl, namespace, "first")
        assert '"name": "first"' in first.log_text()
        assert '"name": "first"' not in standby.log_text()

        # The leader stops as a pod does (SIGTERM, SIGKILL if it lingers): the standby
        # takes the Lease over, released or expired, and acts from then on.
        first.stop()
        wait_for(lambda: "leading as" in standby.log_text(), timeout=20, what="takeover")
        second = hosted_agent("second", f"{release}b")
        kubectl("apply", "-n", namespace, "-f", "-", input=second)
        wait_ready(kubectl, namespace, "second")
        assert '"name": "second"' in standby.log_text()
        for agent in ("first", "second"):
            delete_and_wait_gone(kubectl, namespace, agent)
    finally:
        for proc in replicas:
            proc.stop()
        uninstall(helm, release, namespace)
    for proc in replicas:
        assert denials(proc.log_text()) == []
        assert "leader election round failed" not in proc.log_text()


def _try(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except OSError:
        return None
