"""The operator's Kubernetes API needs, as the chart's RBAC must grant them."""

from __future__ import annotations

import pytest

from foundry_operator.permissions import LEASE_NAME, Grant, Place, Scope, grants, required

pytestmark = pytest.mark.unit

EVERYWHERE = frozenset(Place)


def test_no_wildcards_and_only_plain_verbs() -> None:
    for scope in Scope:
        for leader_election in (False, True):
            for need in required(scope, leader_election=leader_election):
                assert "*" not in (need.api_group, need.resource)
                assert need.why
                assert {v.value for v in need.verbs} <= {
                    "get",
                    "list",
                    "watch",
                    "create",
                    "patch",
                    "update",
                    "delete",
                }


def test_namespaced_scope_needs_nothing_cluster_scoped() -> None:
    for leader_election in (False, True):
        places = {n.place for n in required(Scope.NAMESPACES, leader_election=leader_election)}
        assert Place.CLUSTER not in places


def test_hostedagents_are_patched_never_updated_or_deleted() -> None:
    # get: a deletion reads the object fresh, since kopf holds its events meanwhile.
    verbs = {g.verb for g in grants(Scope.CLUSTER, EVERYWHERE) if g.resource == "hostedagents"}
    assert verbs == {"get", "list", "watch", "patch"}


def test_leases_only_with_leader_election_in_the_own_namespace_and_by_name() -> None:
    assert not [g for g in grants(Scope.CLUSTER, EVERYWHERE) if g.resource == "leases"]
    for scope in Scope:
        own = grants(scope, frozenset({Place.OWN_NAMESPACE}), leader_election=True)
        assert own == {
            Grant("coordination.k8s.io", "leases", "create"),
            Grant("coordination.k8s.io", "leases", "get", (LEASE_NAME,)),
            Grant("coordination.k8s.io", "leases", "update", (LEASE_NAME,)),
        }


def test_configmaps_are_written_but_never_replaced_and_secrets_only_read() -> None:
    def verbs(resource: str) -> set[str]:
        return {g.verb for g in grants(Scope.CLUSTER, EVERYWHERE) if g.resource == resource}

    assert verbs("configmaps") == {"get", "list", "watch", "create", "patch", "delete"}
    assert verbs("secrets") == {"get", "list", "watch"}
    assert verbs("hostedagents/finalizers") == {"update"}


def test_crd_discovery_is_granted_only_cluster_wide() -> None:
    def crds(scope: Scope) -> set[str]:
        found = grants(scope, EVERYWHERE)
        return {g.verb for g in found if g.resource == "customresourcedefinitions"}

    assert crds(Scope.CLUSTER) == {"list", "watch"}
    assert crds(Scope.NAMESPACES) == set()
