"""Pure decisions about Foundry projects: who may use one, what its status says, how its
credential is described, and what a HostedAgent reports when its project cannot serve it.

Nothing here does I/O: ``projects.py`` reads the objects and Secrets, ``foundry/projects.py``
builds the clients, and both call these functions to decide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ..api.project import (
    DEFAULT_CERTIFICATE_KEY,
    DEFAULT_SECRET_KEY,
    CredentialSource,
    FoundryProjectSpec,
    FoundryProjectStatus,
    NamespaceSelector,
    ProjectKind,
    ProjectReference,
    SelectorOperator,
)
from ..api.resource import CLUSTER_PROJECT_KIND, PROJECT_KIND
from ..api.status import LastError, Phase
from .conditions import (
    FALSE,
    TRUE,
    ConditionType,
    ConditionUpdate,
    StateReason,
    apply_phase,
    find_condition,
    merge_conditions,
)
from .errors import Failure, Reason, clean_message

# The Ready reason of a project that got a token and an answer.
CONNECTED: Final = "Connected"
# The finalizer a person may remove by hand to let go of a HostedAgent whatever its project.
FINALIZER: Final = "foundry.agents.dev/finalizer"


@dataclass(frozen=True, order=True)
class ProjectKey:
    """One project object: a FoundryProject (namespace set) or a ClusterFoundryProject
    (namespace empty)."""

    kind: str
    namespace: str
    name: str

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def engine_key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def project_key(ref: ProjectReference, agent_namespace: str) -> ProjectKey:
    if ref.kind is ProjectKind.CLUSTER_FOUNDRY_PROJECT:
        return ProjectKey(CLUSTER_PROJECT_KIND, "", ref.name)
    return ProjectKey(PROJECT_KIND, ref.namespace or agent_namespace, ref.name)


def cross_namespace_refusal(ref: ProjectReference, agent_namespace: str) -> Failure | None:
    """A FoundryProject of another namespace is never used (what schema cannot check: CEL
    does not see the object's namespace)."""
    if ref.kind is ProjectKind.CLUSTER_FOUNDRY_PROJECT or ref.namespace in (None, agent_namespace):
        return None
    return Failure(
        Reason.PROJECT_NOT_ALLOWED,
        "ProjectNotAllowed",
        f"FoundryProject {ref.namespace}/{ref.name} is in another namespace: a HostedAgent in "
        f"namespace {agent_namespace!r} may use only a FoundryProject of its own namespace "
        "(or a ClusterFoundryProject that admits it)",
    )


def _requirement_met(
    op: SelectorOperator, present: bool, value: str | None, values: list[str]
) -> bool:
    if op is SelectorOperator.EXISTS:
        return present
    if op is SelectorOperator.DOES_NOT_EXIST:
        return not present
    if op is SelectorOperator.IN:
        return present and value in values
    return not present or value not in values  # NotIn, as Kubernetes reads it


def selector_admits(selector: NamespaceSelector, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: every matchLabels pair and every expression holds;
    an empty selector admits every namespace."""
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions or []:
        present = req.key in labels
        if not _requirement_met(req.operator, present, labels.get(req.key), req.values or []):
            return False
    return True


def selector_refusal(
    name: str, selector: NamespaceSelector, namespace: str, labels: Mapping[str, str]
) -> Failure | None:
    if selector_admits(selector, labels):
        return None
    return Failure(
        Reason.PROJECT_NOT_ALLOWED,
        "ProjectNotAllowed",
        f"ClusterFoundryProject {name} does not admit namespace {namespace!r}: its "
        "spec.namespaceSelector does not match the namespace's labels",
    )


def not_found(key: ProjectKey) -> Failure:
    where = f" in namespace {key.namespace!r}" if key.namespace else ""
    return Failure(
        Reason.PROJECT_NOT_FOUND, "ProjectNotFound", f"{key.kind} {key.name!r} was not found{where}"
    )


def cluster_projects_unavailable(key: ProjectKey) -> Failure:
    return Failure(
        Reason.PROJECT_NOT_ALLOWED,
        "ProjectNotAllowed",
        f"{key.label}: this operator watches only some namespaces, so it serves no "
        "ClusterFoundryProject (a cluster-scoped kind); use a FoundryProject in the "
        "HostedAgent's namespace",
    )


def load_project_status(raw: Mapping[str, Any] | None) -> FoundryProjectStatus:
    """The status as stored, tolerating anything an older or newer operator wrote."""
    try:
        return FoundryProjectStatus.model_validate(dict(raw or {}))
    except ValueError:
        return FoundryProjectStatus()


def readiness(key: ProjectKey, body: Mapping[str, Any]) -> Failure | None:
    """None when the project's status says Ready for its current generation; otherwise why
    not, in the project's own words."""
    status = load_project_status(body.get("status"))
    generation = (body.get("metadata") or {}).get("generation")
    ready = find_condition(status.conditions, "Ready")
    if (
        ready is not None
        and str(ready.status) == "True"
        and status.observed_generation == generation
    ):
        return None
    why = f"{ready.reason}: {ready.message}" if ready is not None else "not checked yet"
    return Failure(
        Reason.PROJECT_NOT_READY,
        "ProjectNotReady",
        clean_message(f"{key.label} is not Ready ({why})"),
    )


@dataclass(frozen=True)
class SecretLocation:
    namespace: str
    name: str
    key: str


def secret_location(spec: FoundryProjectSpec, project_namespace: str) -> SecretLocation | None:
    """Where a ClientSecret / ClientCertificate credential's value is (a FoundryProject's
    own namespace; a ClusterFoundryProject's named one)."""
    credential = spec.credential
    ref = credential.secret_ref
    if ref is None or credential.source not in (
        CredentialSource.CLIENT_SECRET,
        CredentialSource.CLIENT_CERTIFICATE,
    ):
        return None
    default = (
        DEFAULT_SECRET_KEY
        if credential.source is CredentialSource.CLIENT_SECRET
        else DEFAULT_CERTIFICATE_KEY
    )
    return SecretLocation(ref.namespace or project_namespace, ref.name, ref.key or default)


def describe_credential(spec: FoundryProjectSpec, project_namespace: str) -> str:
    """status.credential: what is used, never a value."""
    credential = spec.credential
    parts = [str(credential.source)]
    if credential.client_id:
        parts.append(f"client {credential.client_id}")
    if credential.tenant_id:
        parts.append(f"tenant {credential.tenant_id}")
    where = secret_location(spec, project_namespace)
    if where is not None:
        parts.append(f"Secret {where.namespace}/{where.name} key {where.key}")
    return ", ".join(parts)


def fingerprint(uid: str, generation: int | None, secret_value: str | None) -> str:
    """What a project's client is built from: a new one is built when it changes (a new
    spec, a rotated Secret, a project deleted and created again). The Secret enters only as
    a digest."""
    digest = hashlib.sha256((secret_value or "").encode()).hexdigest()[:16]
    return f"{uid}/{generation}/{digest}"


def project_status(
    previous: FoundryProjectStatus,
    phase: Phase,
    *,
    generation: int | None,
    now: datetime,
    endpoint: str | None,
    credential: str | None,
    failure: Failure | None = None,
) -> FoundryProjectStatus:
    if failure is None and phase is Phase.READY:
        # A project has no version: Ready says it is connected, in a word of its own.
        message = "a token was obtained and the project answered"
        conditions = merge_conditions(
            previous.conditions,
            [
                ConditionUpdate(ConditionType.READY, TRUE, CONNECTED, message),
                ConditionUpdate(ConditionType.PROGRESSING, FALSE, CONNECTED, ""),
                ConditionUpdate(ConditionType.DEGRADED, FALSE, StateReason.AS_EXPECTED, ""),
            ],
            generation=generation,
            now=now.astimezone(UTC),
        )
    else:
        conditions = apply_phase(
            previous.conditions,
            phase,
            generation=generation,
            now=now.astimezone(UTC),
            reason=failure.reason if failure else None,
            message=failure.message if failure else "",
        )
    return FoundryProjectStatus(
        observed_generation=generation,
        phase=phase,
        endpoint=endpoint,
        credential=credential,
        conditions=conditions,
        last_error=(
            LastError(code=failure.code, message=failure.message, remediation=failure.remediation)
            if failure
            else None
        ),
    )


def on_deletion(failure: Failure, key: ProjectKey | None) -> Failure:
    """A deletion that cannot reach Foundry through the project: the reason as it is (an
    authentication failure stays AuthenticationFailed), and how to let go without Foundry."""
    where = f"{key.label}: " if key is not None else ""
    return Failure(
        failure.reason,
        failure.code,
        f"deleting in Foundry failed ({where}{failure.message.rstrip('. ')}); the operator "
        "retries with backoff. To let go without deleting the Foundry agent, set "
        "spec.deletionPolicy: Retain, or remove the finalizer "
        f"{FINALIZER} by hand",
    )


def created_nothing(status: Mapping[str, Any] | None) -> bool:
    """Whether a HostedAgent's status shows it never had a Foundry version (it was refused
    from the start): its deletion then has nothing to delete and needs no project."""
    status = status or {}
    return (
        not status.get("versions")
        and not status.get("latestVersion")
        and not (status.get("servingVersion"))
    )


def ready_marker(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a HostedAgent using the project cares about: its generation and Ready status."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    ready = next(
        (
            c
            for c in status.get("conditions") or []
            if isinstance(c, Mapping) and c.get("type") == "Ready"
        ),
        {},
    )
    return (
        meta.get("uid"),
        meta.get("generation"),
        ready.get("status"),
        status.get("observedGeneration"),
    )
