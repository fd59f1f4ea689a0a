"""One reconcile of a FoundryProject or ClusterFoundryProject: read its credential, connect,
check that a token is obtained and the project answers, and say so in status.

Run by an engine instance of its own per kind (like FoundryToolboxes'), it is the only
writer of the shared project clients (``foundry/projects.py``): a new spec or a rotated
Secret builds a new client, a deleted project closes its client. Once a project connects,
the HostedAgents using it are looked at again (``on_connected``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from .api.project import ClusterFoundryProjectSpec, FoundryProjectSpec, FoundryProjectStatus
from .api.resource import CLUSTER_PROJECT_KIND
from .api.status import Phase
from .controller import Resource
from .foundry.client import FoundryError
from .foundry.projects import CredentialConfigError, ProjectClients
from .kube.env import EnvResolver, Ref, resolve_secret_keys
from .reconcile.errors import Failure, Reason, clean_message, describe_http_error
from .reconcile.nextlook import Look
from .reconcile.project import (
    ProjectKey,
    describe_credential,
    fingerprint,
    load_project_status,
    project_status,
    secret_location,
)
from .reconcile.report import Event

log = logging.getLogger("foundry_operator.projects")


@dataclass(frozen=True)
class ProjectOutcome:
    """One project reconcile's result, in the shape the engine reads."""

    status: FoundryProjectStatus | None
    events: list[Event]
    look: Look
    result: str
    retry_after: float | None = None
    agent: str | None = None
    secrets: tuple[str, ...] = ()
    refs: frozenset[Ref] = frozenset()


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg', 'invalid')}"


class ProjectReconciler:
    def __init__(
        self,
        kind: str,
        clients: ProjectClients,
        env: EnvResolver,
        on_connected: Callable[[ProjectKey], None],
    ) -> None:
        self.kind = kind
        self.clients = clients
        self.env = env
        self.on_connected = on_connected
        self._model: type[FoundryProjectSpec] = (
            ClusterFoundryProjectSpec if kind == CLUSTER_PROJECT_KIND else FoundryProjectSpec
        )

    def release_agent(self, agent: str) -> None:
        return None

    def _key(self, resource: Resource) -> ProjectKey:
        return ProjectKey(self.kind, resource.namespace, resource.name)

    async def reconcile(self, resource: Resource) -> ProjectOutcome:
        key = self._key(resource)
        previous = load_project_status(resource.status)
        try:
            spec = self._model.model_validate(dict(resource.spec))
        except ValidationError as exc:
            failure = Failure(Reason.INVALID_SPEC, "InvalidSpec", clean_message(_first_error(exc)))
            return self._report(resource, previous, None, None, failure)
        credential = describe_credential(spec, resource.namespace)
        location = secret_location(spec, resource.namespace)
        secret: str | None = None
        refs: frozenset[Ref] = frozenset()
        if location is not None:
            # A FoundryProject's Secret is in its own namespace, where the ref watch sees
            # it change; a ClusterFoundryProject's is read again at each resync.
            if resource.namespace:
                refs = frozenset({Ref("Secret", location.name)})
            read = await resolve_secret_keys(
                self.env, location.namespace, [(location.name, location.key)]
            )
            if read.missing:
                failure = Failure(
                    Reason.SECRET_NOT_FOUND,
                    "SecretNotFound",
                    f"credential: {'; '.join(read.missing)} (namespace {location.namespace})",
                )
                return self._report(resource, previous, spec, credential, failure, refs=refs)
            secret = read.values[(location.name, location.key)]
        secrets = (secret,) if secret else ()
        try:
            client, built = self.clients.ensure(
                key, fingerprint(resource.uid, resource.generation, secret), spec, secret
            )
        except (CredentialConfigError, ValueError) as exc:
            failure = Failure(
                Reason.AUTHENTICATION_FAILED,
                "CredentialInvalid",
                clean_message(f"the credential cannot be built: {exc}", secrets),
            )
            return self._report(resource, previous, spec, credential, failure, refs, secrets)
        try:
            # The SDK gets a token first: a refused credential fails here as surely as a
            # project that does not answer.
            await client.foundry.list_agent_names()
        except FoundryError as err:
            failure = describe_http_error(err.status, err.code, err.message, secret_values=secrets)
            log.warning(
                "%s is not usable: %s",
                key.label,
                clean_message(str(err), secrets),
                extra={"k8s": {"namespace": resource.namespace, "name": resource.name}},
            )
            return self._report(resource, previous, spec, credential, failure, refs, secrets)
        outcome = self._report(resource, previous, spec, credential, None, refs, secrets)
        if built or previous.phase is not Phase.READY:
            self.on_connected(key)
        return outcome

    def _report(
        self,
        resource: Resource,
        previous: FoundryProjectStatus,
        spec: FoundryProjectSpec | None,
        credential: str | None,
        failure: Failure | None,
        refs: frozenset[Ref] = frozenset(),
        secrets: tuple[str, ...] = (),
    ) -> ProjectOutcome:
        if failure is None:
            phase = Phase.READY
        else:
            phase = Phase.PENDING if failure.transient else Phase.FAILED
        status = project_status(
            previous,
            phase,
            generation=resource.generation,
            now=datetime.now(UTC),
            endpoint=spec.endpoint if spec is not None else previous.endpoint,
            credential=credential,
            failure=failure,
        )
        events: list[Event] = []
        old_code = previous.last_error.code if previous.last_error else None
        if failure is not None and (previous.phase is not phase or old_code != failure.code):
            events.append(
                Event(
                    "Warning",
                    str(failure.reason),
                    f"{failure.message.rstrip('.')}. {failure.remediation}",
                )
            )
        elif failure is None and previous.phase is not Phase.READY:
            events.append(
                Event("Normal", "Connected", f"Connected to {status.endpoint} ({credential})")
            )
        if failure is None:
            return ProjectOutcome(status, events, Look.SETTLED, "ready", refs=refs, secrets=secrets)
        return ProjectOutcome(status, events, Look.RETRY, "retry", refs=refs, secrets=secrets)

    async def delete(self, resource: Resource) -> ProjectOutcome:
        key = self._key(resource)
        self.clients.drop(key)
        # Its HostedAgents learn at once that it is gone (links.ProjectLinks).
        self.on_connected(key)
        return ProjectOutcome(None, [], Look.DONE, "deleted")
