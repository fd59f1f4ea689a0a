"""The FoundryProject / ClusterFoundryProject models and their CRDs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from foundry_operator.api.crdgen import clusterfoundryproject_crd, foundryproject_crd
from foundry_operator.api.project import (
    ClusterFoundryProjectSpec,
    CredentialSource,
    FoundryProjectSpec,
    ProjectReference,
)
from foundry_operator.api.spec import HostedAgentSpec

ENDPOINT = "https://acct.services.ai.azure.com/api/projects/p"
SECRET = {"source": "ClientSecret", "tenantId": "t", "clientId": "c", "secretRef": {"name": "sp"}}


def refused(model: Any, body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return str(caught.value)


def test_the_operators_identity_is_the_default_credential() -> None:
    spec = FoundryProjectSpec.model_validate({"endpoint": ENDPOINT})
    assert spec.credential.source is CredentialSource.OPERATOR
    assert spec.max_concurrency is None


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        ({"clientId": "c"}, "not allowed when source is Operator"),
        ({"source": "WorkloadIdentity"}, "clientId is required"),
        (
            {"source": "WorkloadIdentity", "clientId": "c", "secretRef": {"name": "s"}},
            "clientId is required",
        ),
        ({"source": "ClientSecret", "clientId": "c"}, "are required when source is ClientSecret"),
        ({"source": "ClientCertificate", "tenantId": "t", "clientId": "c"}, "are required"),
    ],
)
def test_each_credential_source_takes_exactly_its_fields(
    credential: dict[str, Any], message: str
) -> None:
    assert message in refused(FoundryProjectSpec, {"endpoint": ENDPOINT, "credential": credential})


def test_the_endpoint_must_be_https() -> None:
    assert "spec.endpoint must be an https:// URL" in refused(
        FoundryProjectSpec, {"endpoint": "http://acct/api/projects/p"}
    )


def test_a_namespaced_projects_secret_is_in_its_own_namespace() -> None:
    credential = {**SECRET, "secretRef": {"name": "sp", "namespace": "other"}}
    assert "not allowed on a FoundryProject" in refused(
        FoundryProjectSpec, {"endpoint": ENDPOINT, "credential": credential}
    )
    FoundryProjectSpec.model_validate({"endpoint": ENDPOINT, "credential": SECRET})


def test_a_cluster_projects_secret_names_its_namespace_and_a_selector_is_required() -> None:
    assert "namespaceSelector" in refused(ClusterFoundryProjectSpec, {"endpoint": ENDPOINT})
    assert "secretRef.namespace is required" in refused(
        ClusterFoundryProjectSpec,
        {"endpoint": ENDPOINT, "credential": SECRET, "namespaceSelector": {}},
    )
    ClusterFoundryProjectSpec.model_validate(
        {
            "endpoint": ENDPOINT,
            "credential": {**SECRET, "secretRef": {"name": "sp", "namespace": "platform"}},
            "namespaceSelector": {"matchExpressions": [{"key": "t", "operator": "Exists"}]},
        }
    )


def test_selector_requirements_take_values_only_for_in_and_not_in() -> None:
    for expression in (
        {"key": "t", "operator": "In"},
        {"key": "t", "operator": "Exists", "values": ["x"]},
    ):
        assert "values must be non-empty" in refused(
            ClusterFoundryProjectSpec,
            {"endpoint": ENDPOINT, "namespaceSelector": {"matchExpressions": [expression]}},
        )


def test_a_project_reference_names_a_namespace_only_for_a_foundry_project() -> None:
    assert ProjectReference.model_validate({"name": "p", "namespace": "a"}).namespace == "a"
    assert "not allowed for a ClusterFoundryProject" in refused(
        ProjectReference, {"kind": "ClusterFoundryProject", "name": "p", "namespace": "a"}
    )
    assert "spec.projectRef.name must be a Kubernetes object name" in refused(
        ProjectReference, {"name": "Bad_Name"}
    )


def test_a_hosted_agent_in_another_project_cannot_use_a_foundry_toolbox() -> None:
    body = {
        "image": "r.azurecr.io/a/b:1",
        "projectRef": {"name": "p"},
        "toolbox": {"name": "tools"},
    }
    assert "spec.toolbox cannot be combined with spec.projectRef" in refused(HostedAgentSpec, body)


def test_the_crds_have_their_scope_and_columns() -> None:
    namespaced, cluster = foundryproject_crd(), clusterfoundryproject_crd()
    assert namespaced["spec"]["scope"] == "Namespaced"
    assert cluster["spec"]["scope"] == "Cluster"
    for crd in (namespaced, cluster):
        (version,) = crd["spec"]["versions"]
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        assert columns[:4] == ["Endpoint", "Credential", "Ready", "Reason"]
        assert version["subresources"] == {"status": {}}
    schema = cluster["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "namespaceSelector" in schema["properties"]["spec"]["required"]
