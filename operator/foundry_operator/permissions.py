"""The Kubernetes API access the operator needs, as data.

This is the single list the Helm chart's RBAC is checked against (``tests/e2e/test_chart*``):
the chart must grant exactly these rules for the chosen scope, nothing more, no wildcards.
When the operator starts calling another API, add it here first; the chart tests then fail
until the chart grants it too.

How each need was established (kopf 1.45.2 and this package, read in the source and
confirmed by running the operator with only these rules and reading its log for RBAC
refusals and kopf's "Not enough permissions" warnings):

- kopf never GETs a single object: it LISTs then WATCHes, and writes with merge-PATCH (and
  JSON-PATCH for its own bookkeeping). It never uses PUT (``update``), and neither do the
  handlers: status goes through ``hostedagents/status`` with PATCH, and the reference
  watcher (``kube/refwatch.py``) touches an annotation with PATCH.
- kopf POSTs core/v1 Events (``create``) and never patches them.
- FoundryToolboxes get the same as HostedAgents (watch, finalizer, status). A HostedAgent
  with ``spec.toolbox`` GETs its toolbox (``kube/toolboxes.py``), and a toolbox being
  deleted LISTs the HostedAgents of its namespace (``ToolboxInUse``): both within the rules
  above.
- FoundryProjects get the same as FoundryToolboxes (watch, finalizer, status; a HostedAgent
  with ``spec.projectRef`` GETs its project). A project's credential Secret is read by name
  with the Secret rule below (a ClusterFoundryProject's, in the namespace it names, is
  within the cluster-wide rule). ClusterFoundryProjects and the Namespace GET for their
  ``namespaceSelector`` exist only cluster-wide: a namespaced install serves no
  ClusterFoundryProject (``handlers.serve_cluster_projects``). Events about a cluster
  project go to ``default``, within the cluster-wide Event rule.
- Secrets and ConfigMaps: values are read by name (``kube/env.py``), and a metadata-only
  list+watch (``kube/refwatch.py``) notices changes to the ones HostedAgents reference.
- The endpoint ConfigMap (``spec.endpointConfigMap``, ``kube/configmaps.py``): read by name
  (the read rule above), created, merge-patched when its data differs, and deleted when the
  field is removed or renamed. Never ``update``. Its ownerReference sets
  ``blockOwnerDeletion``, which clusters running the OwnerReferencesPermissionEnforcement
  admission plugin (OpenShift does) allow only to who may ``update``
  ``hostedagents/finalizers``; the operator sends no request there.
- Leader election (``kube/leader.py``, only with more than one replica) reads, creates and
  replaces (``update``) one Lease in the operator's own namespace.
- Cluster-wide, kopf watches CustomResourceDefinitions to notice served resources that
  appear or change while it runs; without that right it retries the 403 for about a minute,
  then warns and only rescans on restart.
- Namespaced, kopf would also list and watch Namespaces and CRDs cluster-wide. Neither is
  needed for exact namespace names (kopf falls back to them), and the chart restarts the
  operator when the CRD changes, so the namespaced scope gets no cluster-scoped rule at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from .api.resource import CLUSTER_PROJECT_PLURAL, GROUP, PLURAL, PROJECT_PLURAL, TOOLBOX_PLURAL
from .settings import Settings

LEASE_GROUP = "coordination.k8s.io"
# The operator has no setting for the Lease's name yet, so every replica uses the default.
LEASE_NAME = Settings().lease_name


class Scope(StrEnum):
    """Where the operator watches HostedAgents; this decides Role versus ClusterRole."""

    CLUSTER = "cluster"
    NAMESPACES = "namespaces"


class Place(StrEnum):
    """Where a rule is granted."""

    # Where HostedAgents are watched: the ClusterRole cluster-wide, else a Role in each
    # watched namespace.
    WATCHED = "watched"
    # Cluster-scoped resources: the ClusterRole (cluster-wide installs only).
    CLUSTER = "cluster"
    # The operator's own namespace (its leader Lease): a Role there, in every scope.
    OWN_NAMESPACE = "own-namespace"


class Verb(StrEnum):
    GET = "get"
    LIST = "list"
    WATCH = "watch"
    CREATE = "create"
    PATCH = "patch"
    UPDATE = "update"
    DELETE = "delete"


READ = frozenset({Verb.GET, Verb.LIST, Verb.WATCH})


@dataclass(frozen=True)
class Permission:
    """One RBAC rule the operator needs, where it is needed, and why.

    ``only_lease`` restricts the rule to the leader Lease by name (``resourceNames``);
    ``create`` cannot be restricted that way, since the name is not known to RBAC then.
    """

    api_group: str
    resource: str
    verbs: frozenset[Verb]
    place: Place
    why: str
    only_lease: bool = False


@dataclass(frozen=True, order=True)
class Grant:
    """One verb on one resource, optionally on named objects only: the unit in which the
    chart's rendered rules are compared with ``required``."""

    api_group: str
    resource: str
    verb: str
    resource_names: tuple[str, ...] = ()


def required(scope: Scope, *, leader_election: bool) -> tuple[Permission, ...]:
    """What the operator needs for ``scope``, with or without leader election."""
    watched = Place.WATCHED
    needs: list[Permission] = [
        Permission(
            GROUP,
            PLURAL,
            frozenset({Verb.GET, Verb.LIST, Verb.WATCH, Verb.PATCH}),
            watched,
            "kopf watches HostedAgents and patches its finalizer; a deletion reads the "
            "object fresh (kopf holds its events while the finalizer runs)",
        ),
        Permission(
            GROUP,
            f"{PLURAL}/status",
            frozenset({Verb.PATCH}),
            watched,
            "phase, conditions and versions in status",
        ),
        Permission(
            GROUP,
            TOOLBOX_PLURAL,
            frozenset({Verb.GET, Verb.LIST, Verb.WATCH, Verb.PATCH}),
            watched,
            "kopf watches FoundryToolboxes and patches its finalizer; a HostedAgent with "
            "spec.toolbox reads its toolbox's status by name",
        ),
        Permission(
            GROUP,
            f"{TOOLBOX_PLURAL}/status",
            frozenset({Verb.PATCH}),
            watched,
            "the toolbox's phase, conditions and current version in status",
        ),
        Permission(
            GROUP,
            PROJECT_PLURAL,
            frozenset({Verb.GET, Verb.LIST, Verb.WATCH, Verb.PATCH}),
            watched,
            "kopf watches FoundryProjects and patches its finalizer; a HostedAgent with "
            "spec.projectRef reads its project by name",
        ),
        Permission(
            GROUP,
            f"{PROJECT_PLURAL}/status",
            frozenset({Verb.PATCH}),
            watched,
            "the project's phase and conditions (Ready: a token and a read succeeded)",
        ),
        Permission(
            "",
            "events",
            frozenset({Verb.CREATE, Verb.PATCH}),
            watched,
            "Events on HostedAgents (core/v1), and the count of one that repeats",
        ),
        Permission("", "secrets", READ, watched, "env valueFrom.secretKeyRef, and its changes"),
        Permission(
            "", "configmaps", READ, watched, "env valueFrom.configMapKeyRef, and its changes"
        ),
        Permission(
            "",
            "configmaps",
            frozenset({Verb.CREATE, Verb.PATCH, Verb.DELETE}),
            watched,
            "the endpoint ConfigMap of spec.endpointConfigMap: created, kept in step, deleted "
            "when the field goes",
        ),
        Permission(
            GROUP,
            f"{PLURAL}/finalizers",
            frozenset({Verb.UPDATE}),
            watched,
            "blockOwnerDeletion on the endpoint ConfigMap's ownerReference, where the "
            "OwnerReferencesPermissionEnforcement admission plugin checks it",
        ),
    ]
    if scope is Scope.CLUSTER:
        needs.append(
            Permission(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                frozenset({Verb.LIST, Verb.WATCH}),
                Place.CLUSTER,
                "kopf notices CRDs that appear or change while it runs",
            )
        )
        needs.append(
            Permission(
                GROUP,
                CLUSTER_PROJECT_PLURAL,
                frozenset({Verb.GET, Verb.LIST, Verb.WATCH, Verb.PATCH}),
                Place.CLUSTER,
                "kopf watches ClusterFoundryProjects (cluster-wide installs only) and patches "
                "its finalizer; a HostedAgent naming one reads it by name",
            )
        )
        needs.append(
            Permission(
                GROUP,
                f"{CLUSTER_PROJECT_PLURAL}/status",
                frozenset({Verb.PATCH}),
                Place.CLUSTER,
                "the cluster project's phase and conditions",
            )
        )
        needs.append(
            Permission(
                "",
                "namespaces",
                frozenset({Verb.GET}),
                Place.CLUSTER,
                "the labels of a HostedAgent's namespace, matched against a "
                "ClusterFoundryProject's namespaceSelector",
            )
        )
    if leader_election:
        needs.append(
            Permission(
                LEASE_GROUP,
                "leases",
                frozenset({Verb.CREATE}),
                Place.OWN_NAMESPACE,
                "the first replica creates the leader Lease",
            )
        )
        needs.append(
            Permission(
                LEASE_GROUP,
                "leases",
                frozenset({Verb.GET, Verb.UPDATE}),
                Place.OWN_NAMESPACE,
                "replicas read the Lease, and renew or take it over with a replace",
                only_lease=True,
            )
        )
    return tuple(needs)


def grants(
    scope: Scope,
    places: frozenset[Place],
    *,
    leader_election: bool = False,
    lease_name: str = LEASE_NAME,
) -> frozenset[Grant]:
    """``required`` for the rules granted in ``places``, one verb per grant; rules on the
    Lease name ``lease_name`` (the chart names it after the release)."""
    needs = [n for n in required(scope, leader_election=leader_election) if n.place in places]
    return frozenset(_expand(needs, lease_name))


def _expand(needs: list[Permission], lease_name: str) -> Iterator[Grant]:
    for need in needs:
        names = (lease_name,) if need.only_lease else ()
        for verb in need.verbs:
            yield Grant(need.api_group, need.resource, verb.value, names)
