"""`helm lint` and `helm template` of every documented configuration, and what it renders.

The configurations are the chart's defaults plus each ``ci/*-values.yaml`` (the files the
chart README documents). No cluster is needed: only the devcluster's helm binary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import (
    CHART,
    CI_VALUES,
    CLUSTER_PROJECT_CRD_NAME,
    CRD_FILE,
    CRD_NAME,
    CRDS,
    PROJECT_CRD_NAME,
    TOOLBOX_CRD_NAME,
    Helm,
    Manifest,
    container,
    documents,
    find,
    literal_env,
    merged_values,
    one,
    rule_grants,
)

from foundry_devtools.devcluster import binaries, versions
from foundry_operator.permissions import Place, Scope, grants

CONFIGS = [pytest.param((), id="defaults")] + [
    pytest.param((path,), id=path.name.removesuffix("-values.yaml")) for path in CI_VALUES
]


@pytest.fixture(scope="module")
def helm() -> Helm:
    return Helm(binaries.ensure((versions.HELM,))["helm"])


_rendered: dict[tuple[tuple[Path, ...], tuple[tuple[str, str], ...]], str] = {}


def render(
    helm: Helm, values: tuple[Path, ...] = (), sets: dict[str, str] | None = None
) -> list[Manifest]:
    """The manifests helm renders (each configuration rendered once per session)."""
    sets = sets or {}
    key = (values, tuple(sorted(sets.items())))
    if key not in _rendered:
        _rendered[key] = helm.template(values=values, sets=sets).stdout
    return documents(_rendered[key])


def fullname(values: dict[str, Any], release: str = "rel") -> str:
    return str(values["fullnameOverride"] or f"{release}-foundry-agent-operator")


def leader_election(values: dict[str, Any]) -> bool:
    return bool(values["leaderElection"]["enabled"] or values["replicaCount"] > 1)


@pytest.mark.parametrize("values", CONFIGS)
def test_helm_lint_strict_passes(helm: Helm, values: tuple[Path, ...]) -> None:
    args = ["lint", "--strict", str(CHART)] + [a for p in values for a in ("-f", str(p))]
    helm.run(*args)


@pytest.mark.parametrize("values", CONFIGS)
def test_every_object_is_labelled_and_namespaced_where_it_belongs(
    helm: Helm, values: tuple[Path, ...]
) -> None:
    cluster_kinds = {
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    for doc in render(helm, values):
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", doc["metadata"]
        assert labels.get("app.kubernetes.io/name") == "foundry-agent-operator"
        if doc["kind"] in cluster_kinds:
            assert "namespace" not in doc["metadata"], doc["metadata"]
        else:
            assert doc["metadata"].get("namespace"), doc["metadata"]


@pytest.mark.parametrize("values", CONFIGS)
def test_rbac_grants_exactly_what_the_operator_uses(helm: Helm, values: tuple[Path, ...]) -> None:
    merged = merged_values(values)
    docs = render(helm, values)
    if not merged["rbac"]["create"]:
        assert not [d for d in docs if d["apiVersion"].startswith("rbac.authorization")]
        return
    name = fullname(merged)
    elect = leader_election(merged)
    watched = merged["watchNamespaces"]
    service_account = {"kind": "ServiceAccount", "name": name, "namespace": "ops"}
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in find(docs, "Role")}
    bindings = {
        (b["metadata"]["namespace"], b["metadata"]["name"]): b for b in find(docs, "RoleBinding")
    }
    assert sorted(roles) == sorted(bindings)
    for key, binding in bindings.items():
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": key[1],
        }
        assert binding["subjects"] == [service_account]

    leader_role = roles.pop(("ops", f"{name}-leader-election"), None)
    if elect:
        assert leader_role is not None, "leader election needs its Lease Role"
        assert rule_grants(leader_role["rules"]) == grants(
            Scope.NAMESPACES,
            frozenset({Place.OWN_NAMESPACE}),
            leader_election=True,
            lease_name=name,
        )
    else:
        assert leader_role is None

    if not watched:
        assert roles == {}
        role = one(docs, "ClusterRole")
        assert rule_grants(role["rules"]) == grants(
            Scope.CLUSTER, frozenset({Place.WATCHED, Place.CLUSTER})
        )
        binding = one(docs, "ClusterRoleBinding")
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"] == [service_account]
    else:
        assert find(docs, "ClusterRole") == [] and find(docs, "ClusterRoleBinding") == []
        assert sorted(ns for ns, _ in roles) == sorted(watched)
        expected = grants(Scope.NAMESPACES, frozenset({Place.WATCHED, Place.CLUSTER}))
        for role in roles.values():
            assert role["metadata"]["name"] == name
            assert rule_grants(role["rules"]) == expected


@pytest.mark.parametrize("values", CONFIGS)
def test_deployment_passes_values_to_the_operator(helm: Helm, values: tuple[Path, ...]) -> None:
    merged = merged_values(values)
    op = merged["operator"]
    deployment = one(render(helm, values), "Deployment")
    env = literal_env(deployment)
    assert env.get("AZURE_AI_PROJECT_ENDPOINT") == (op["projectEndpoint"] or None)
    assert env["FOUNDRY_OPERATOR_LOG_FORMAT"] == op["logFormat"]
    assert env["FOUNDRY_OPERATOR_LOG_LEVEL"] == op["logLevel"]
    assert float(env["FOUNDRY_OPERATOR_RESYNC_SECONDS"]) == op["resyncSeconds"]
    assert int(env["FOUNDRY_OPERATOR_MAX_CONCURRENCY"]) == op["maxConcurrency"]
    assert int(env["FOUNDRY_OPERATOR_METRICS_PORT"]) == merged["metrics"]["port"]
    assert int(env["FOUNDRY_OPERATOR_HEALTH_PORT"]) == merged["health"]["port"]
    assert env.get("FOUNDRY_OPERATOR_NAMESPACES") == (",".join(merged["watchNamespaces"]) or None)
    for extra in op["extraEnv"]:
        assert env[extra["name"]] == extra["value"]
    assert deployment["spec"]["replicas"] == merged["replicaCount"]
    c = container(deployment)
    pod_id = next(e for e in c["env"] if e["name"] == "POD_ID")
    assert pod_id["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert c.get("args", []) == op["extraArgs"]


@pytest.mark.parametrize("values", CONFIGS)
def test_probes_call_kopf_liveness_on_the_health_port(helm: Helm, values: tuple[Path, ...]) -> None:
    merged = merged_values(values)
    c = container(one(render(helm, values), "Deployment"))
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": merged["metrics"]["port"], "health": merged["health"]["port"]}
    for probe in ("livenessProbe", "readinessProbe"):
        if merged[probe]["enabled"]:
            assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
        else:
            assert probe not in c


@pytest.mark.parametrize("values", CONFIGS)
def test_pod_meets_pod_security_restricted(helm: Helm, values: tuple[Path, ...]) -> None:
    spec = one(render(helm, values), "Deployment")["spec"]["template"]["spec"]
    pod = spec["securityContext"]
    c = container({"spec": {"template": {"spec": spec}}})
    sc = c["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
    assert sc["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert not [k for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]


@pytest.mark.parametrize("values", CONFIGS)
def test_leader_election_pdb_and_update_strategy_follow_the_replica_count(
    helm: Helm, values: tuple[Path, ...]
) -> None:
    merged = merged_values(values)
    docs = render(helm, values)
    deployment = one(docs, "Deployment")
    env = literal_env(deployment)
    c = container(deployment)
    assert "command" not in c, "the image's ENTRYPOINT runs"
    pod_name = next(e for e in c["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    pdbs = find(docs, "PodDisruptionBudget")
    if not leader_election(merged):
        assert "FOUNDRY_OPERATOR_LEADER_ELECTION" not in env
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert pdbs == []
        return
    assert env["FOUNDRY_OPERATOR_LEADER_ELECTION"] == "true"
    assert env["FOUNDRY_OPERATOR_LEASE_NAMESPACE"] == "ops", "the Lease Role's namespace"
    assert (
        int(env["FOUNDRY_OPERATOR_LEASE_DURATION"])
        == (merged["leaderElection"]["leaseDurationSeconds"])
    )
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    if merged["replicaCount"] > 1 and merged["podDisruptionBudget"]["enabled"]:
        (pdb,) = pdbs
        assert pdb["spec"]["minAvailable"] == merged["podDisruptionBudget"]["minAvailable"]
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    else:
        assert pdbs == []


@pytest.mark.parametrize("values", CONFIGS)
def test_crd_is_the_repository_crd_kept_on_uninstall(helm: Helm, values: tuple[Path, ...]) -> None:
    merged = merged_values(values)
    crds = find(render(helm, values), "CustomResourceDefinition")
    if not merged["crds"]["install"]:
        assert crds == []
        return
    by_name = {crd["metadata"]["name"]: crd for crd in crds}
    assert sorted(by_name) == sorted(
        [CRD_NAME, TOOLBOX_CRD_NAME, PROJECT_CRD_NAME, CLUSTER_PROJECT_CRD_NAME]
    )
    for name, crd in by_name.items():
        assert crd["spec"] == yaml.safe_load((CRDS / f"{name}.yaml").read_text())["spec"]
        keep = crd["metadata"].get("annotations", {}).get("helm.sh/resource-policy")
        assert keep == ("keep" if merged["crds"]["keep"] else None)


@pytest.mark.parametrize("values", CONFIGS)
def test_credentials_follow_the_azure_values(helm: Helm, values: tuple[Path, ...]) -> None:
    merged = merged_values(values)
    docs = render(helm, values)
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    wi = merged["azure"]["workloadIdentity"]
    accounts = find(docs, "ServiceAccount")
    assert len(accounts) == (1 if merged["serviceAccount"]["create"] else 0)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == (merged["serviceAccount"]["name"] or fullname(merged))
    if wi["enabled"]:
        assert pod_labels["azure.workload.identity/use"] == "true"
        annotations = accounts[0]["metadata"]["annotations"]
        assert annotations["azure.workload.identity/client-id"] == wi["clientId"]
        assert annotations.get("azure.workload.identity/tenant-id") == (wi["tenantId"] or None)
    else:
        assert "azure.workload.identity/use" not in pod_labels
    secret = merged["azure"]["credentialsSecret"]
    env_from = container(deployment).get("envFrom")
    assert env_from == ([{"secretRef": {"name": secret}}] if secret else None)


@pytest.mark.parametrize("values", CONFIGS)
def test_metrics_service_and_service_monitor(helm: Helm, values: tuple[Path, ...]) -> None:
    merged = merged_values(values)
    docs = render(helm, values)
    deployment = one(docs, "Deployment")
    services = find(docs, "Service")
    if merged["metrics"]["service"]["enabled"]:
        (service,) = services
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert service["spec"]["ports"] == [
            {
                "name": "metrics",
                "port": merged["metrics"]["service"]["port"],
                "targetPort": "metrics",
                "protocol": "TCP",
            }
        ]
    else:
        assert services == []
    monitors = find(docs, "ServiceMonitor")
    if merged["metrics"]["serviceMonitor"]["enabled"]:
        (monitor,) = monitors
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
        for key, value in merged["metrics"]["serviceMonitor"]["labels"].items():
            assert monitor["metadata"]["labels"][key] == value
    else:
        assert monitors == []


def test_image_reference_prefers_digest_then_tag_then_app_version(helm: Helm) -> None:
    def image(**sets: str) -> str:
        return str(container(one(render(helm, sets=sets), "Deployment"))["image"])

    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert image() == f"foundry-agent-operator:{app_version}"
    assert image(**{"image.registry": "r.io/", "image.tag": "1.2"}) == (
        "r.io/foundry-agent-operator:1.2"
    )
    digest = "sha256:" + "a" * 64
    assert image(**{"image.tag": "1.2", "image.digest": digest}) == (
        f"foundry-agent-operator@{digest}"
    )


def test_a_crd_change_changes_the_pod_template(helm: Helm, tmp_path: Path) -> None:
    """The checksum annotation: a new CRD restarts the operator so that kopf rescans."""
    import shutil

    copy = tmp_path / "chart"
    shutil.copytree(CHART, copy)
    crd_copy = copy / "files" / "crds" / CRD_FILE.name
    crd_copy.write_text(crd_copy.read_text() + "# changed\n")

    def checksum(chart: Path) -> str:
        docs = documents(helm.template(chart=chart).stdout)
        annotations = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/crd"])

    assert checksum(CHART) != checksum(copy)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            {"azure.workloadIdentity.enabled": "true"},
            "azure.workloadIdentity.clientId is required",
        ),
        (
            {
                "azure.workloadIdentity.enabled": "true",
                "azure.workloadIdentity.clientId": "x",
                "azure.credentialsSecret": "s",
            },
            "choose one",
        ),
        ({"serviceAccount.create": "false"}, "serviceAccount.name is required"),
        (
            {"metrics.serviceMonitor.enabled": "true", "metrics.service.enabled": "false"},
            "needs metrics.service.enabled",
        ),
        ({"watchNamespaces": "{a,a}"}, "lists a namespace twice"),
    ],
    ids=["wi-without-client-id", "wi-and-secret", "no-sa-name", "monitor-without-service", "dup"],
)
def test_impossible_combinations_fail_with_the_fix(
    helm: Helm, sets: dict[str, str], message: str
) -> None:
    result = helm.template(sets=sets, check=False)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
        ({"operator.logFormat": "xml"}, "/operator/logFormat"),
        ({"operator.maxConcurrency": "0"}, "/operator/maxConcurrency"),
        ({"watchNamespaces": "{Not_A_Namespace}"}, "/watchNamespaces/0"),
        ({"replicas": "2"}, "additional properties 'replicas' not allowed"),
        ({"metrics.serviceMonitor.intervall": "1m"}, "'intervall' not allowed"),
        ({"securityContext.runAsUserr": "1"}, "'runAsUserr' not allowed"),
    ],
    ids=["type", "enum", "range", "pattern", "unknown-top", "unknown-deep", "unknown-k8s"],
)
def test_values_schema_rejects_wrong_types_and_unknown_keys(
    helm: Helm, sets: dict[str, str], message: str
) -> None:
    result = helm.template(sets=sets, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr
