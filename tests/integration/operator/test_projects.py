"""FoundryProject and ClusterFoundryProject end to end: a real apiserver, the operator as a
local process, and an emulator serving two projects that only their own service principal
may call (client secrets, through azure-identity's ClientSecretCredential).

Its own emulator and operator (cluster-wide, so ClusterFoundryProjects are served, with a
short backoff so a blocked deletion is looked at again within seconds); the session
operator is stopped meanwhile, so that only this one acts on these objects.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from azure.identity import ClientSecretCredential

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.kubewait import wait_established
from foundry_devtools.local import OperatorProcess
from support import KubeEnv, wait_for
from support.hagent import condition, get, manifest, unique, wait_ready
from unit.argocd.healthcheck import ARGOCD, evaluate

TENANT = "contoso"
SECRETS = {"app-alpha": "alpha-secret-value-1", "app-beta": "beta-secret-value-2"}
IMAGE = "myregistry.azurecr.io/agents/chat:1"
PROJECT_CRDS = ["foundryprojects.foundry.agents.dev", "clusterfoundryprojects.foundry.agents.dev"]


@pytest.fixture(scope="module")
def emulator_two_projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess.start(
        tmp_path_factory.mktemp("emulator-two-projects"),
        config={
            "lifecycle": {"provisioning_seconds": 0.3},
            "auth": {
                "apps": [
                    {"client_id": c, "tenant_id": TENANT, "client_secret": s}
                    for c, s in SECRETS.items()
                ]
            },
            "projects": [
                {"name": "alpha", "principals": ["app-alpha", "app-wi"]},
                {"name": "beta", "principals": ["app-beta"]},
            ],
        },
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def federated_token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the operator reads its projected ServiceAccount token (written by a test)."""
    return tmp_path_factory.mktemp("federated") / "token"


@pytest.fixture(scope="module")
def project_operator(
    kube: KubeEnv,
    crd_installed: None,
    operator_process: OperatorProcess,
    emulator_two_projects: EmulatorProcess,
    federated_token_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    wait_established(PROJECT_CRDS, kube.env, kubectl=str(kube.kubectl_bin))
    operator_process.stop()  # `running_operator` starts it again for later tests
    proc = OperatorProcess(
        tmp_path_factory.mktemp("project-operator") / "operator.log",
        kubeconfig=kube.kubeconfig,
        foundry_env=emulator_two_projects.env,
        args=["--metrics-port", "0", "--health-port", "0", "--backoff-max-seconds", "3"],
        # As AKS workload identity projects it into the pod.
        extra_env={"AZURE_FEDERATED_TOKEN_FILE": str(federated_token_file)},
    )
    proc.start()
    proc.wait_until_logged("Initial authentication has finished")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def second_namespace(kubectl: Any, namespace: str) -> Iterator[str]:
    name = f"{namespace[:50]}-b"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def sdk(emulator: EmulatorProcess, project: str, client: str) -> AIProjectClient:
    """The SDK as the project's own service principal sees it."""
    credential = ClientSecretCredential(
        TENANT,
        client,
        SECRETS[client],
        authority=emulator.env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
        connection_verify=str(emulator.ca_file),
    )
    return AIProjectClient(
        endpoint=emulator.project_endpoint(project),
        credential=credential,
        connection_verify=str(emulator.ca_file),
    )


def agent_names(emulator: EmulatorProcess, project: str | None = None) -> set[str]:
    return {a["name"] for a in emulator.admin().state(project)["agents"]}


def secret(name: str, value: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "stringData": {"clientSecret": value},
        }
    )


def foundry_project(name: str, endpoint: str, client: str, secret_name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "FoundryProject",
            "metadata": {"name": name},
            "spec": {
                "endpoint": endpoint,
                "credential": {
                    "source": "ClientSecret",
                    "tenantId": TENANT,
                    "clientId": client,
                    "secretRef": {"name": secret_name},
                },
            },
        }
    )


def setup_project(
    kubectl: Any, namespace: str, emulator: EmulatorProcess, project: str, client: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=secret("sp", SECRETS[client]))
    endpoint = emulator.project_endpoint(project)
    kubectl(
        "apply", "-n", namespace, "-f", "-", input=foundry_project("main", endpoint, client, "sp")
    )
    kubectl(
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "foundryproject/main",
        "-n",
        namespace,
        timeout=70,
    )


def ready_reason(kubectl: Any, namespace: str, name: str) -> Callable[[], dict[str, Any] | None]:
    def look() -> dict[str, Any] | None:
        found = condition(kubectl, namespace, name, "Ready")
        return found if found.get("status") == "False" and found.get("reason") else None

    return look


@pytest.mark.usefixtures("project_operator")
def test_each_namespace_lands_in_its_own_project(
    kubectl: Any, namespace: str, second_namespace: str, emulator_two_projects: EmulatorProcess
) -> None:
    emu = emulator_two_projects
    setup_project(kubectl, namespace, emu, "alpha", "app-alpha")
    setup_project(kubectl, second_namespace, emu, "beta", "app-beta")
    shown = kubectl("get", "foundryproject", "main", "-n", namespace).stdout
    assert "ClientSecret" in shown and "True" in shown and "alpha" in shown
    assert project_health(kubectl, namespace).status == "Healthy"
    ref = {"projectRef": {"name": "main"}}
    a, b = unique("in-alpha"), unique("in-beta")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(a, IMAGE, **ref))
    kubectl("apply", "-n", second_namespace, "-f", "-", input=manifest(b, IMAGE, **ref))
    wait_ready(kubectl, namespace, a)
    wait_ready(kubectl, second_namespace, b)

    with sdk(emu, "alpha", "app-alpha") as alpha, sdk(emu, "beta", "app-beta") as beta:
        assert {x["name"] for x in alpha.agents.list()} >= {a}
        assert b not in {x["name"] for x in alpha.agents.list()}
        assert {x["name"] for x in beta.agents.list()} >= {b}
        assert a not in {x["name"] for x in beta.agents.list()}
    assert not {a, b} & agent_names(emu)  # the operator's own project got neither
    # The Secret's value is referenced, never copied.
    dumped = (
        json.dumps(get(kubectl, namespace, a))
        + kubectl("get", "foundryproject", "main", "-n", namespace, "-o", "json").stdout
    )
    assert SECRETS["app-alpha"] not in dumped


@pytest.mark.usefixtures("project_operator")
def test_another_namespaces_project_is_refused(
    kubectl: Any, namespace: str, second_namespace: str, emulator_two_projects: EmulatorProcess
) -> None:
    setup_project(kubectl, namespace, emulator_two_projects, "alpha", "app-alpha")
    name = unique("trespasser")
    ref = {"projectRef": {"name": "main", "namespace": namespace}}
    kubectl("apply", "-n", second_namespace, "-f", "-", input=manifest(name, IMAGE, **ref))
    refused = wait_for(ready_reason(kubectl, second_namespace, name), what="a refusal")
    assert refused["reason"] == "ProjectNotAllowed"
    assert "another namespace" in refused["message"]
    assert get(kubectl, second_namespace, name)["status"]["phase"] == "Failed"
    assert name not in agent_names(emulator_two_projects, "alpha")
    # Nothing of it is in Foundry: its deletion needs no project and lets go at once.
    kubectl("delete", "hagent", name, "-n", second_namespace, "--timeout=30s", timeout=40)


@pytest.mark.usefixtures("project_operator")
def test_a_cluster_project_admits_only_the_namespaces_its_selector_selects(
    kubectl: Any, namespace: str, second_namespace: str, emulator_two_projects: EmulatorProcess
) -> None:
    emu = emulator_two_projects
    kubectl("apply", "-n", namespace, "-f", "-", input=secret("sp", SECRETS["app-alpha"]))
    team = f"t{uuid.uuid4().hex[:8]}"
    kubectl("label", "namespace", namespace, f"foundry-team={team}")
    cluster_name = f"shared-{team}"
    cluster_project = {
        "apiVersion": "foundry.agents.dev/v1alpha1",
        "kind": "ClusterFoundryProject",
        "metadata": {"name": cluster_name},
        "spec": {
            "endpoint": emu.project_endpoint("alpha"),
            "credential": {
                "source": "ClientSecret",
                "tenantId": TENANT,
                "clientId": "app-alpha",
                "secretRef": {"name": "sp", "namespace": namespace},
            },
            "namespaceSelector": {"matchLabels": {"foundry-team": team}},
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(cluster_project))
    try:
        kubectl(
            "wait",
            "--for=condition=Ready",
            "--timeout=60s",
            f"clusterfoundryproject/{cluster_name}",
            timeout=70,
        )
        ref = {"projectRef": {"kind": "ClusterFoundryProject", "name": cluster_name}}
        inside, outside = unique("inside"), unique("outside")
        kubectl("apply", "-n", namespace, "-f", "-", input=manifest(inside, IMAGE, **ref))
        kubectl("apply", "-n", second_namespace, "-f", "-", input=manifest(outside, IMAGE, **ref))
        wait_ready(kubectl, namespace, inside)
        refused = wait_for(ready_reason(kubectl, second_namespace, outside), what="a refusal")
        assert refused["reason"] == "ProjectNotAllowed"
        assert "does not admit namespace" in refused["message"]
        assert inside in agent_names(emu, "alpha")
        assert outside not in agent_names(emu, "alpha")
        # A namespace can be admitted afterwards, and the refused agent then converges.
        kubectl("label", "namespace", second_namespace, f"foundry-team={team}")
        kubectl("annotate", "hagent", outside, "-n", second_namespace, f"nudge={uuid.uuid4().hex}")
        wait_ready(kubectl, second_namespace, outside)
    finally:
        for each in (namespace, second_namespace):
            kubectl("delete", "hagent", "--all", "-n", each, "--wait=false", check=False)
        kubectl("delete", "clusterfoundryproject", cluster_name, "--wait=false", check=False)


def test_the_schema_refuses_what_it_can_judge(
    kubectl: Any, namespace: str, crd_installed: None
) -> None:
    project = json.loads(foundry_project("x", "https://h.example/api/projects/p", "c", "sp"))
    project["spec"]["credential"]["secretRef"]["namespace"] = "elsewhere"
    refused = kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(project), check=False)
    assert refused.returncode != 0
    assert "secretRef.namespace is not allowed on a FoundryProject" in refused.stderr
    operator_only = {
        "apiVersion": "foundry.agents.dev/v1alpha1",
        "kind": "FoundryProject",
        "metadata": {"name": "y"},
        "spec": {"endpoint": "http://plain.example", "credential": {"clientId": "c"}},
    }
    refused = kubectl(
        "apply", "-n", namespace, "-f", "-", input=json.dumps(operator_only), check=False
    )
    assert "spec.endpoint must be an https:// URL" in refused.stderr
    assert "not allowed when source is Operator" in refused.stderr
    ref = {"projectRef": {"kind": "ClusterFoundryProject", "name": "z", "namespace": namespace}}
    refused = kubectl(
        "apply", "-n", namespace, "-f", "-", input=manifest("a", IMAGE, **ref), check=False
    )
    assert "not allowed for a ClusterFoundryProject" in refused.stderr
    # The project of an agent is fixed once created.
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest("fixed", IMAGE))
    moved = kubectl(
        "patch",
        "hagent",
        "fixed",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"projectRef": {"name": "other"}}}),
        check=False,
    )
    assert "spec.projectRef cannot be added or removed" in moved.stderr
    kubectl("delete", "hagent", "fixed", "-n", namespace, "--wait=false", check=False)


@pytest.mark.usefixtures("project_operator")
def test_deleting_with_broken_credentials_reports_it_and_retain_lets_go(
    kubectl: Any, namespace: str, emulator_two_projects: EmulatorProcess
) -> None:
    emu = emulator_two_projects
    setup_project(kubectl, namespace, emu, "alpha", "app-alpha")
    name = unique("stuck")
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest(name, IMAGE, projectRef={"name": "main"}),
    )
    wait_ready(kubectl, namespace, name)
    # The service principal's secret is rotated in Entra but not in the cluster.
    wrong = base64.b64encode(b"an-outdated-secret").decode()
    kubectl(
        "patch",
        "secret",
        "sp",
        "-n",
        namespace,
        "-p",
        json.dumps({"data": {"clientSecret": wrong}}),
    )
    wait_for(
        lambda: condition_of_project(kubectl, namespace).get("reason") == "AuthenticationFailed",
        timeout=30,
        what="the project to report the refused credential",
    )
    health = project_health(kubectl, namespace)
    assert health.status == "Degraded" and "AuthenticationFailed" in health.message
    kubectl("delete", "hagent", name, "-n", namespace, "--wait=false")

    def blocked() -> dict[str, Any] | None:
        body = get(kubectl, namespace, name)
        ready = condition(kubectl, namespace, name, "Ready")
        phase = body.get("status", {}).get("phase")
        return (
            ready if phase == "Deleting" and ready.get("reason") == "AuthenticationFailed" else None
        )

    ready = wait_for(blocked, timeout=30, what="Deleting with AuthenticationFailed")
    assert "deletionPolicy: Retain" in ready["message"]
    assert "foundry.agents.dev/finalizer" in ready["message"]
    assert "an-outdated-secret" not in json.dumps(get(kubectl, namespace, name))
    # Backoff, not a hot loop: with backoff capped at 3 s (full jitter, so 1.5 s on average)
    # the deletion and the project's own check make a handful of token requests each in
    # 6 s; a loop without backoff would make hundreds.
    before = emu.admin().stats().count("token")
    time.sleep(6)  # an observation window, not a wait for some state
    assert emu.admin().stats().count("token") - before <= 20
    kubectl(
        "patch",
        "hagent",
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"deletionPolicy": "Retain"}}),
    )
    wait_for(
        lambda: kubectl("get", "hagent", name, "-n", namespace, check=False).returncode != 0,
        timeout=30,
        what="the HostedAgent to be released",
    )
    assert name in agent_names(emu, "alpha")  # retained in Foundry


def project_health(kubectl: Any, namespace: str) -> Any:
    """What Argo CD would show for the project, from the status the operator wrote."""
    body = json.loads(
        kubectl("get", "foundryproject", "main", "-n", namespace, "-o", "json").stdout
    )
    return evaluate(body, (ARGOCD / "health-project.lua").read_text())


def condition_of_project(kubectl: Any, namespace: str) -> dict[str, Any]:
    body = json.loads(
        kubectl("get", "foundryproject", "main", "-n", namespace, "-o", "json").stdout
    )
    return next(
        (c for c in body.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {}
    )


@pytest.mark.usefixtures("project_operator")
def test_workload_identity_exchanges_the_operators_service_account_token(
    kubectl: Any, namespace: str, emulator_two_projects: EmulatorProcess, federated_token_file: Path
) -> None:
    emu = emulator_two_projects
    subject = f"system:serviceaccount:{namespace}:foundry-operator"
    apps = emu.admin().config()["auth"]["apps"]
    apps = [a for a in apps if a["client_id"] != "app-wi"]
    emu.admin().patch_config(
        {"auth": {"apps": [*apps, {"client_id": "app-wi", "federated_subject": subject}]}}
    )
    kubectl("create", "serviceaccount", "foundry-operator", "-n", namespace)
    token = kubectl(
        "create",
        "token",
        "foundry-operator",
        "-n",
        namespace,
        "--audience",
        "api://AzureADTokenExchange",
        "--duration=1h",
    ).stdout.strip()
    federated_token_file.write_text(token)
    project = {
        "apiVersion": "foundry.agents.dev/v1alpha1",
        "kind": "FoundryProject",
        "metadata": {"name": "main"},
        "spec": {
            "endpoint": emu.project_endpoint("alpha"),
            "credential": {"source": "WorkloadIdentity", "clientId": "app-wi", "tenantId": TENANT},
        },
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(project))
    kubectl(
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "foundryproject/main",
        "-n",
        namespace,
        timeout=70,
    )
    name = unique("federated")
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest(name, IMAGE, projectRef={"name": "main"}),
    )
    wait_ready(kubectl, namespace, name)
    assert name in agent_names(emu, "alpha")
