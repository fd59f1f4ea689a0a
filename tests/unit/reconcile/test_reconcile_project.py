"""The pure decisions about Foundry projects: who may use one, what its status says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from foundry_operator.api.project import (
    ClusterFoundryProjectSpec,
    FoundryProjectSpec,
    NamespaceSelector,
    ProjectReference,
)
from foundry_operator.api.status import Phase
from foundry_operator.links import ProjectLinks
from foundry_operator.project_routing import project_ref_of, retains
from foundry_operator.reconcile.errors import Failure, Reason
from foundry_operator.reconcile.project import (
    ProjectKey,
    created_nothing,
    cross_namespace_refusal,
    describe_credential,
    fingerprint,
    load_project_status,
    not_found,
    on_deletion,
    project_key,
    project_status,
    readiness,
    ready_marker,
    secret_location,
    selector_admits,
    selector_refusal,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ENDPOINT = "https://acct.services.ai.azure.com/api/projects/p"


def ref(**fields: Any) -> ProjectReference:
    return ProjectReference.model_validate(fields)


def test_a_namespaced_project_is_looked_up_in_the_agents_namespace() -> None:
    assert project_key(ref(name="p"), "team-a") == ProjectKey("FoundryProject", "team-a", "p")
    cluster = project_key(ref(kind="ClusterFoundryProject", name="p"), "team-a")
    assert cluster == ProjectKey("ClusterFoundryProject", "", "p")
    assert cluster.label == "ClusterFoundryProject p"


def test_another_namespaces_project_is_refused_and_the_own_one_is_not() -> None:
    assert cross_namespace_refusal(ref(name="p"), "a") is None
    assert cross_namespace_refusal(ref(name="p", namespace="a"), "a") is None
    refused = cross_namespace_refusal(ref(name="p", namespace="b"), "a")
    assert refused is not None and refused.reason is Reason.PROJECT_NOT_ALLOWED
    assert "FoundryProject b/p is in another namespace" in refused.message


@pytest.mark.parametrize(
    ("selector", "labels", "admitted"),
    [
        ({}, {}, True),
        ({"matchLabels": {"team": "a"}}, {"team": "a", "x": "y"}, True),
        ({"matchLabels": {"team": "a"}}, {"team": "b"}, False),
        ({"matchLabels": {"team": "a"}}, {}, False),
        (
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]},
            {"team": "b"},
            True,
        ),
        ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        (
            {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]},
            {"team": "a"},
            False,
        ),
        ({"matchExpressions": [{"key": "t", "operator": "Exists"}]}, {"t": ""}, True),
        ({"matchExpressions": [{"key": "t", "operator": "DoesNotExist"}]}, {"t": ""}, False),
        (
            {
                "matchLabels": {"env": "prod"},
                "matchExpressions": [{"key": "t", "operator": "Exists"}],
            },
            {"env": "prod"},
            False,
        ),
    ],
)
def test_the_selector_reads_as_kubernetes_reads_label_selectors(
    selector: dict[str, Any], labels: dict[str, str], admitted: bool
) -> None:
    assert selector_admits(NamespaceSelector.model_validate(selector), labels) is admitted


def test_a_selector_refusal_names_the_project_and_the_namespace() -> None:
    selector = NamespaceSelector.model_validate({"matchLabels": {"team": "a"}})
    assert selector_refusal("shared", selector, "a-ns", {"team": "a"}) is None
    refused = selector_refusal("shared", selector, "b-ns", {})
    assert refused is not None and refused.reason is Reason.PROJECT_NOT_ALLOWED
    assert "ClusterFoundryProject shared does not admit namespace 'b-ns'" in refused.message


def _body(ready: str | None, *, generation: int = 3, observed: int = 3) -> dict[str, Any]:
    conditions = (
        [
            {
                "type": "Ready",
                "status": ready,
                "reason": "AuthenticationFailed" if ready == "False" else "VersionActive",
                "message": "refused",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ]
        if ready
        else []
    )
    return {
        "metadata": {"generation": generation, "uid": "u"},
        "status": {"observedGeneration": observed, "conditions": conditions},
    }


def test_a_project_serves_only_when_ready_for_its_current_generation() -> None:
    key = ProjectKey("FoundryProject", "a", "p")
    assert readiness(key, _body("True")) is None
    stale = readiness(key, _body("True", generation=4))
    assert stale is not None and stale.reason is Reason.PROJECT_NOT_READY
    refused = readiness(key, _body("False"))
    assert refused is not None and "AuthenticationFailed: refused" in refused.message
    unseen = readiness(key, {"metadata": {"generation": 1}})
    assert unseen is not None and "not checked yet" in unseen.message


def test_a_garbled_status_reads_as_none() -> None:
    assert load_project_status({"phase": 7, "conditions": "x"}).phase is None


def test_where_a_credential_secret_is_and_how_it_is_described() -> None:
    spec = FoundryProjectSpec.model_validate(
        {
            "endpoint": ENDPOINT,
            "credential": {
                "source": "ClientCertificate",
                "tenantId": "t",
                "clientId": "c",
                "secretRef": {"name": "sp"},
            },
        }
    )
    where = secret_location(spec, "team-a")
    assert where is not None and (where.namespace, where.name, where.key) == (
        "team-a",
        "sp",
        "clientCertificate",
    )
    assert describe_credential(spec, "team-a") == (
        "ClientCertificate, client c, tenant t, Secret team-a/sp key clientCertificate"
    )
    cluster = ClusterFoundryProjectSpec.model_validate(
        {
            "endpoint": ENDPOINT,
            "credential": {
                "source": "ClientSecret",
                "tenantId": "t",
                "clientId": "c",
                "secretRef": {"name": "sp", "namespace": "platform", "key": "k"},
            },
            "namespaceSelector": {},
        }
    )
    assert secret_location(cluster, "") == type(where)("platform", "sp", "k")
    operator = FoundryProjectSpec.model_validate({"endpoint": ENDPOINT})
    assert secret_location(operator, "a") is None
    assert describe_credential(operator, "a") == "Operator"


def test_the_fingerprint_changes_with_the_spec_or_the_secret_and_hides_the_secret() -> None:
    base = fingerprint("uid", 1, "s3cret-value")
    assert base == fingerprint("uid", 1, "s3cret-value")
    assert base != fingerprint("uid", 2, "s3cret-value")
    assert base != fingerprint("uid", 1, "rotated-value")
    assert base != fingerprint("other", 1, "s3cret-value")
    assert "s3cret" not in base


def test_status_is_ready_or_says_why_not() -> None:
    empty = load_project_status(None)
    ready = project_status(
        empty, Phase.READY, generation=2, now=NOW, endpoint=ENDPOINT, credential="Operator"
    )
    assert ready.phase is Phase.READY and ready.observed_generation == 2
    assert {c.type: str(c.status) for c in ready.conditions}["Ready"] == "True"
    assert {c.type: c.reason for c in ready.conditions} == {
        "Ready": "Connected",
        "Progressing": "Connected",
        "Degraded": "AsExpected",
    }
    failure = Failure(Reason.AUTHENTICATION_FAILED, "CredentialRejected", "invalid_client")
    failed = project_status(
        ready,
        Phase.FAILED,
        generation=2,
        now=NOW,
        endpoint=ENDPOINT,
        credential="Operator",
        failure=failure,
    )
    conditions = {c.type: c for c in failed.conditions}
    assert str(conditions["Ready"].status) == "False"
    assert conditions["Ready"].reason == "AuthenticationFailed"
    assert str(conditions["Degraded"].status) == "True"
    assert failed.last_error is not None and failed.last_error.code == "CredentialRejected"


def test_a_blocked_deletion_keeps_its_reason_and_says_how_to_let_go() -> None:
    failure = Failure(Reason.AUTHENTICATION_FAILED, "CredentialRejected", "AADSTS7000215.")
    explained = on_deletion(failure, ProjectKey("FoundryProject", "a", "p"))
    assert explained.reason is Reason.AUTHENTICATION_FAILED
    assert "FoundryProject a/p: AADSTS7000215" in explained.message
    assert "spec.deletionPolicy: Retain" in explained.message
    assert "foundry.agents.dev/finalizer" in explained.message
    gone = on_deletion(not_found(ProjectKey("ClusterFoundryProject", "", "x")), None)
    assert gone.reason is Reason.PROJECT_NOT_FOUND


def test_the_spec_reference_is_read_leniently() -> None:
    assert project_ref_of({}) is None
    assert project_ref_of({"projectRef": "nonsense"}) is None
    assert project_ref_of({"projectRef": {"name": "Not_A_Name"}}) is None
    assert project_ref_of({"projectRef": {"name": "p"}}) == ref(name="p")
    assert retains({"deletionPolicy": "Retain"}) and not retains({})


def _agent(name: str, namespace: str, project: dict[str, Any] | None) -> dict[str, Any]:
    spec = {"projectRef": project} if project else {}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _project(namespace: str, name: str, *, generation: int, ready: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name, "uid": "u", "generation": generation},
        "status": {
            "observedGeneration": generation,
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


def test_links_wake_the_users_of_a_project_that_moved_or_went() -> None:
    links = ProjectLinks()
    links.agent_seen("ADDED", _agent("x", "a", {"name": "p"}))
    links.agent_seen("ADDED", _agent("y", "b", {"name": "p", "namespace": "a"}))
    links.agent_seen("ADDED", _agent("z", "c", {"kind": "ClusterFoundryProject", "name": "p"}))
    links.agent_seen("ADDED", _agent("w", "a", None))
    first = _project("a", "p", generation=1, ready="False")
    assert links.project_seen("FoundryProject", "ADDED", first, ready_marker(first)) == []
    again = links.project_seen("FoundryProject", "MODIFIED", first, ready_marker(first))
    assert again == []
    now_ready = _project("a", "p", generation=1, ready="True")
    woken = links.project_seen("FoundryProject", "MODIFIED", now_ready, ready_marker(now_ready))
    assert woken == [("a", "x"), ("b", "y")]
    cluster = _project("", "p", generation=1, ready="True")
    assert links.project_seen("ClusterFoundryProject", "DELETED", cluster, None) == [("c", "z")]
    links.agent_seen("DELETED", _agent("x", "a", {"name": "p"}))
    assert links.users("FoundryProject", "a", "p") == [("b", "y")]


def test_only_a_hosted_agent_that_never_had_a_version_is_released_without_its_project() -> None:
    assert created_nothing(None)
    assert created_nothing({"phase": "Failed", "conditions": []})
    assert not created_nothing({"latestVersion": "1"})
    assert not created_nothing({"servingVersion": "2"})
    assert not created_nothing({"versions": [{"version": "1"}]})
