"""Which Foundry project a HostedAgent's reconcile talks to, and whether it may.

The HostedAgent engine's reconciler is this router: without ``spec.projectRef`` it hands the
object to the reconciler of the operator's own project, as before projects existed; with it,
it checks that the namespace may use the project (a FoundryProject: its own namespace; a
ClusterFoundryProject: its selector), that the project is Ready, and hands the object to a
reconciler bound to that project's shared client. A refusal is reported on the HostedAgent
like any other reason, and a deletion that cannot reach Foundry says how to let go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from .api.project import ClusterFoundryProjectSpec, ProjectReference
from .api.resource import (
    CLUSTER_PROJECT_KIND,
    CLUSTER_PROJECT_PLURAL,
    GROUP,
    PROJECT_PLURAL,
    VERSION,
)
from .api.spec import DeletionPolicy
from .controller import Outcome, Reconciler, Resource
from .foundry.client import FoundryClient
from .foundry.projects import ProjectClient, ProjectClients
from .kube.api import KubeClient, KubeError
from .reconcile.errors import Failure, Reason, clean_message
from .reconcile.project import (
    ProjectKey,
    cluster_projects_unavailable,
    created_nothing,
    cross_namespace_refusal,
    not_found,
    on_deletion,
    project_key,
    readiness,
    selector_refusal,
)


def project_ref_of(spec: Mapping[str, Any]) -> ProjectReference | None:
    """spec.projectRef, or None (unset, or unreadable: the spec check then reports it)."""
    raw = spec.get("projectRef")
    if not isinstance(raw, Mapping):
        return None
    try:
        return ProjectReference.model_validate(dict(raw))
    except ValidationError:
        return None


def retains(spec: Mapping[str, Any]) -> bool:
    return spec.get("deletionPolicy") == DeletionPolicy.RETAIN.value


class ProjectResolver:
    """Reads the project object (and, for a cluster one, the namespace's labels) and finds
    its client. Reads the API server each time: the answer is right even just after a
    restart, and a changed selector or namespace label counts at once."""

    def __init__(self, kube: KubeClient, clients: ProjectClients, *, cluster: bool) -> None:
        self._kube = kube
        self.clients = clients
        # Whether ClusterFoundryProjects are served (a cluster-wide install).
        self._cluster = cluster

    async def _get(self, path: str) -> Mapping[str, Any] | None:
        try:
            return await self._kube.request("GET", path)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def resolve(
        self, ref: ProjectReference, namespace: str, *, deleting: bool = False
    ) -> tuple[ProjectKey, ProjectClient | Failure]:
        key = project_key(ref, namespace)
        refusal = cross_namespace_refusal(ref, namespace)
        if refusal is not None:
            return key, refusal
        if key.kind == CLUSTER_PROJECT_KIND and not self._cluster:
            return key, cluster_projects_unavailable(key)
        try:
            if key.kind == CLUSTER_PROJECT_KIND:
                body = await self._get(
                    f"/apis/{GROUP}/{VERSION}/{CLUSTER_PROJECT_PLURAL}/{key.name}"
                )
            else:
                body = await self._get(
                    f"/apis/{GROUP}/{VERSION}/namespaces/{key.namespace}/{PROJECT_PLURAL}/{key.name}"
                )
            if body is None:
                return key, not_found(key)
            if key.kind == CLUSTER_PROJECT_KIND:
                refused = await self._selector_refusal(key, body, namespace)
                if refused is not None:
                    return key, refused
        except KubeError as exc:
            return key, Failure(
                Reason.PROJECT_NOT_FOUND,
                "ProjectNotFound",
                clean_message(f"{key.label} could not be read: {exc}"),
            )
        client = self.clients.get(key)
        if not deleting:
            not_ready = readiness(key, body)
            if not_ready is not None:
                return key, not_ready
        if client is None:
            return key, Failure(
                Reason.PROJECT_NOT_READY,
                "ProjectNotReady",
                f"{key.label}: the operator has not connected to it yet",
            )
        return key, client

    async def _selector_refusal(
        self, key: ProjectKey, body: Mapping[str, Any], namespace: str
    ) -> Failure | None:
        try:
            spec = ClusterFoundryProjectSpec.model_validate(dict(body.get("spec") or {}))
        except ValidationError:
            return Failure(
                Reason.PROJECT_NOT_READY, "ProjectNotReady", f"{key.label} has an invalid spec"
            )
        ns = await self._get(f"/api/v1/namespaces/{namespace}")
        labels = dict(((ns or {}).get("metadata") or {}).get("labels") or {})
        return selector_refusal(key.name, spec.namespace_selector, namespace, labels)


class AgentRouter:
    """The HostedAgent engine's reconciler: one Reconciler for the operator's own project,
    one per project client, each built once and dropped when its client is replaced."""

    def __init__(
        self,
        default: Reconciler,
        build: Callable[[FoundryClient, Callable[[Failure], Failure]], Reconciler],
        resolver: ProjectResolver,
    ) -> None:
        self.default = default
        self._build = build
        self._resolver = resolver
        self._bound: dict[ProjectKey, tuple[FoundryClient, Reconciler]] = {}

    def _for(self, client: ProjectClient) -> Reconciler:
        bound = self._bound.get(client.key)
        if bound is None or bound[0] is not client.foundry:
            key = client.key

            def explain(failure: Failure) -> Failure:
                return on_deletion(failure, key)

            bound = (client.foundry, self._build(client.foundry, explain))
            self._bound[client.key] = bound
        return bound[1]

    def release_agent(self, agent: str) -> None:
        self.default.release_agent(agent)
        for _, reconciler in self._bound.values():
            reconciler.release_agent(agent)

    async def reconcile(self, resource: Resource) -> Outcome:
        ref = project_ref_of(resource.spec)
        if ref is None:
            return await self.default.reconcile(resource)
        key, resolved = await self._resolver.resolve(ref, resource.namespace)
        if isinstance(resolved, Failure):
            if self._resolver.clients.get(key) is None:
                self._bound.pop(key, None)  # the project's client is gone: so is its reconciler
            return self.default.refuse(resource, resolved)
        return await self._for(resolved).reconcile(resource)

    async def delete(self, resource: Resource) -> Outcome:
        ref = project_ref_of(resource.spec)
        if ref is None or retains(resource.spec):
            # Retain touches no project at all: it lets go whatever the credentials.
            return await self.default.delete(resource)
        key, resolved = await self._resolver.resolve(ref, resource.namespace, deleting=True)
        if isinstance(resolved, Failure):
            if created_nothing(resource.status):
                # Refused from the start (another namespace's project, one that never was
                # Ready): nothing of it is in Foundry, so nothing holds it.
                return self.default.released_untouched(resource, resolved)
            return self.default.deletion_blocked(resource, on_deletion(resolved, key))
        return await self._for(resolved).delete(resource)
