"""Every reason a person can see on a HostedAgent, and how Foundry's errors map onto them.

This is the one place that decides what an error *means*. The Foundry adapter catches SDK
exceptions and passes plain values here (HTTP status, error code, message); the kube layer
uses ``Reason.SECRET_NOT_FOUND`` directly. No azure imports, so it stays pure and testable.

Each reason says whether it is *transient* (the operator retries on its own, with backoff)
and whether it *needs a person* (``Degraded=True``). The two are independent: a missing
Secret is retried (someone may be creating it right now) but still needs a person.
Terminal reasons are not retried quickly; the periodic resync or a spec change brings the
next attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Reason(StrEnum):
    """Condition reasons for failures (CamelCase, as Kubernetes conventions ask)."""

    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    INVALID_CONTAINER_IMAGE = "InvalidContainerImage"
    CAPABILITY_HOST_NOT_FOUND = "CapabilityHostNotFound"
    PROTOCOL_VERSION_NOT_SUPPORTED = "ProtocolVersionNotSupported"
    INVALID_SPEC = "InvalidSpec"
    AUTHENTICATION_FAILED = "AuthenticationFailed"
    THROTTLED = "Throttled"
    FOUNDRY_UNAVAILABLE = "FoundryUnavailable"
    SECRET_NOT_FOUND = "SecretNotFound"
    VERSION_QUOTA_EXCEEDED = "VersionQuotaExceeded"
    AGENT_NAME_CONFLICT = "AgentNameConflict"
    SUBSCRIPTION_NOT_REGISTERED = "SubscriptionNotRegistered"
    FEATURE_NOT_AVAILABLE = "FeatureNotAvailable"
    ENDPOINT_NOT_FOUND = "EndpointNotFound"
    CONFLICT = "Conflict"
    VERSION_FAILED = "VersionFailed"
    CREDENTIAL_UNAVAILABLE = "CredentialUnavailable"
    AGENT_DISABLED = "AgentDisabled"
    PROBE_FAILED = "ProbeFailed"
    AGENT_NOT_RESPONDING = "AgentNotResponding"
    ROLLOUT_ABORTED = "RolloutAborted"
    CONFIG_MAP_CONFLICT = "ConfigMapConflict"
    CONFIG_MAP_WRITE_FAILED = "ConfigMapWriteFailed"
    TOOLBOX_NOT_FOUND = "ToolboxNotFound"
    TOOLBOX_IN_USE = "ToolboxInUse"
    TOOLBOX_NAME_CONFLICT = "ToolboxNameConflict"
    AGENT_NOT_FOUND = "AgentNotFound"
    AGENT_NOT_SERVING = "AgentNotServing"
    PROJECT_NOT_FOUND = "ProjectNotFound"
    PROJECT_NOT_ALLOWED = "ProjectNotAllowed"
    PROJECT_NOT_READY = "ProjectNotReady"

    @property
    def transient(self) -> bool:
        """The operator retries on its own, with exponential backoff."""
        return REASONS[self].transient

    @property
    def needs_person(self) -> bool:
        """Only a person can fix it: the HostedAgent reports ``Degraded=True``."""
        return REASONS[self].needs_person

    @property
    def remediation(self) -> str:
        return REASONS[self].remediation


@dataclass(frozen=True)
class ReasonInfo:
    transient: bool
    needs_person: bool
    remediation: str


REASONS: Final[dict[Reason, ReasonInfo]] = {
    Reason.IMAGE_PULL_BACK_OFF: ReasonInfo(
        False,
        True,
        "Let Foundry pull the image: grant the project's managed identity AcrPull on the "
        "registry, or set spec.registryConnection to a connection with valid credentials.",
    ),
    Reason.INVALID_CONTAINER_IMAGE: ReasonInfo(
        False,
        True,
        "Check spec.image: the registry, repository and tag or digest must exist; push the "
        "image or correct the reference.",
    ),
    Reason.CAPABILITY_HOST_NOT_FOUND: ReasonInfo(
        False,
        True,
        "The Foundry account has no capability host for hosted agents: create one, or use a "
        "project where hosted agents are enabled.",
    ),
    Reason.PROTOCOL_VERSION_NOT_SUPPORTED: ReasonInfo(
        False,
        True,
        "Foundry does not support a protocol or version in spec.protocols: use one it "
        'documents, such as responses "1.0.0".',
    ),
    Reason.INVALID_SPEC: ReasonInfo(
        False,
        True,
        "Foundry rejected the agent definition: correct the field named in the message and "
        "apply the HostedAgent again.",
    ),
    Reason.AUTHENTICATION_FAILED: ReasonInfo(
        False,
        True,
        "Foundry refused the operator's identity: assign it the Azure AI User role (or higher) "
        "on the Foundry project and check the operator's project endpoint.",
    ),
    Reason.THROTTLED: ReasonInfo(
        True,
        False,
        "Foundry is rate limiting requests; the operator retries with backoff. Lower the "
        "operator's Foundry concurrency if this persists.",
    ),
    Reason.FOUNDRY_UNAVAILABLE: ReasonInfo(
        True,
        False,
        "Foundry could not be reached or answered with a server error; the operator retries "
        "with backoff. Check the network path to the project endpoint if this persists.",
    ),
    Reason.SECRET_NOT_FOUND: ReasonInfo(
        True,
        True,
        "Create the Secret or ConfigMap key referenced in spec.env (in the HostedAgent's "
        "namespace), or mark the reference optional: true.",
    ),
    Reason.VERSION_QUOTA_EXCEEDED: ReasonInfo(
        False,
        True,
        "The agent has reached Foundry's limit of 1000 versions: delete old versions in "
        "Foundry or lower spec.revisionHistoryLimit.",
    ),
    Reason.AGENT_NAME_CONFLICT: ReasonInfo(
        False,
        True,
        "The agent has versions this HostedAgent did not create: choose another "
        "spec.agentName or delete that agent in Foundry; one made outside Kubernetes can be "
        "adopted (spec.adoptionPolicy: Adopt, see foundry-operator export).",
    ),
    Reason.SUBSCRIPTION_NOT_REGISTERED: ReasonInfo(
        False,
        True,
        "Register the resource provider named in the message for the Azure subscription "
        "(az provider register --namespace <provider>).",
    ),
    Reason.FEATURE_NOT_AVAILABLE: ReasonInfo(
        False,
        True,
        "Hosted agents are not available to this project: use a supported region, or enable "
        "the preview feature named in the message.",
    ),
    Reason.ENDPOINT_NOT_FOUND: ReasonInfo(
        False,
        True,
        "Foundry answered 404 Not Found: check the operator's project endpoint "
        "(https://<account>.services.ai.azure.com/api/projects/<project>).",
    ),
    Reason.CONFLICT: ReasonInfo(
        True,
        False,
        "Foundry reported a conflicting operation (for example active sessions); the "
        "operator retries.",
    ),
    Reason.VERSION_FAILED: ReasonInfo(
        False,
        True,
        "The version failed to start: the container must listen on port 8088 and answer "
        "GET /readiness with 200. Fix the image and change spec.image.",
    ),
    Reason.CREDENTIAL_UNAVAILABLE: ReasonInfo(
        True,
        False,
        "The operator's credential could not get a token (the identity endpoint did not "
        "answer); the operator retries. Check workload identity or the managed identity "
        "endpoint if this persists.",
    ),
    Reason.AGENT_NOT_FOUND: ReasonInfo(
        False,
        True,
        "spec.managementPolicy is ObserveOnly, which never creates an agent: create it in "
        "Foundry, or set managementPolicy to Manage to let the operator create it.",
    ),
    Reason.AGENT_NOT_SERVING: ReasonInfo(
        False,
        True,
        "spec.managementPolicy is ObserveOnly, which never routes traffic: route the agent "
        "endpoint to an active version in Foundry, or set managementPolicy to Manage.",
    ),
    Reason.AGENT_DISABLED: ReasonInfo(
        False,
        True,
        "The Foundry agent is disabled, so it serves nothing: enable it in Foundry "
        "(POST /agents/<name>:enable), or set spec.suspend to true and then back to false.",
    ),
    Reason.CONFIG_MAP_CONFLICT: ReasonInfo(
        False,
        True,
        "A ConfigMap with the name in spec.endpointConfigMap.name exists and is not owned by "
        "this HostedAgent, so the operator left it alone: choose another name, or delete "
        "that ConfigMap and the operator creates its own.",
    ),
    Reason.CONFIG_MAP_WRITE_FAILED: ReasonInfo(
        True,
        False,
        "The operator could not write the endpoint ConfigMap; it retries with backoff. If "
        "this persists, check that its role may get, create, patch and delete configmaps in "
        "this namespace.",
    ),
    Reason.PROBE_FAILED: ReasonInfo(
        True,
        True,
        "The version answered spec.probe.input, but not as spec.probe.expect asks: fix the "
        "agent (or the probe) and apply a new image; the operator asks again with backoff.",
    ),
    Reason.AGENT_NOT_RESPONDING: ReasonInfo(
        True,
        True,
        "Foundry reports the version active but its container does not answer: read the log "
        "lines in the HostedAgent's Events (a crash at start, a missing environment "
        "variable); the operator asks again with backoff.",
    ),
    Reason.ROLLOUT_ABORTED: ReasonInfo(
        False,
        True,
        "The new version failed its probe during the rollout and all traffic went back to "
        "the previous version: fix the agent and apply a new spec, or set the retry "
        "annotation to try this one again.",
    ),
    Reason.TOOLBOX_NOT_FOUND: ReasonInfo(
        True,
        True,
        "Create the FoundryToolbox named in spec.toolbox.name in the HostedAgent's namespace, "
        "or wait until it reports a current version (kubectl get foundrytoolbox); the "
        "HostedAgent looks again by itself.",
    ),
    Reason.TOOLBOX_IN_USE: ReasonInfo(
        True,
        True,
        "HostedAgents still name this toolbox in spec.toolbox: delete them or point them "
        "elsewhere, and the toolbox is deleted from Foundry; or set deletionPolicy: Retain to "
        "let go of it now.",
    ),
    Reason.TOOLBOX_NAME_CONFLICT: ReasonInfo(
        False,
        True,
        "A Foundry toolbox with this name already has versions this resource did not create: "
        "choose another spec.toolboxName (for spec.tools, another agent name), or delete "
        "that toolbox in Foundry.",
    ),
    Reason.PROJECT_NOT_FOUND: ReasonInfo(
        True,
        True,
        "Create the FoundryProject (in the HostedAgent's namespace) or ClusterFoundryProject "
        "named in spec.projectRef; the HostedAgent looks again by itself once it exists.",
    ),
    Reason.PROJECT_NOT_ALLOWED: ReasonInfo(
        False,
        True,
        "A FoundryProject serves only HostedAgents of its own namespace, a "
        "ClusterFoundryProject only the namespaces its namespaceSelector admits: use a "
        "project this namespace may use, or ask the cluster admin to admit the namespace.",
    ),
    Reason.PROJECT_NOT_READY: ReasonInfo(
        True,
        True,
        "The project named in spec.projectRef is not Ready: its own status says why "
        "(kubectl get foundryproject / clusterfoundryproject); the HostedAgent looks again "
        "by itself when it becomes Ready.",
    ),
}

# The code a FoundryError carries when the identity provider answered and refused the
# credential (a wrong client secret, an unknown client, a federated token it does not
# trust): a person has to fix it, unlike an identity endpoint that did not answer.
CREDENTIAL_REJECTED: Final = "CredentialRejected"

# Service error codes (from a failed version's error.code, or an HTTP error body), compared
# case-insensitively. The preview-era codes map to the reasons of the same name.
_CODE_REASONS: Final[dict[str, Reason]] = {
    "image_pull_failed": Reason.IMAGE_PULL_BACK_OFF,
    "unauthorizedacrpull": Reason.IMAGE_PULL_BACK_OFF,
    "invalidacrpullcredentials": Reason.IMAGE_PULL_BACK_OFF,
    "imagepullbackoff": Reason.IMAGE_PULL_BACK_OFF,
    "acrimagenotfound": Reason.INVALID_CONTAINER_IMAGE,
    "registrynotfound": Reason.INVALID_CONTAINER_IMAGE,
    "invalidcontainerimage": Reason.INVALID_CONTAINER_IMAGE,
    "capabilityhostnotfound": Reason.CAPABILITY_HOST_NOT_FOUND,
    "protocolversionnotsupported": Reason.PROTOCOL_VERSION_NOT_SUPPORTED,
    "subscriptionisnotregistered": Reason.SUBSCRIPTION_NOT_REGISTERED,
    "preview_feature_required": Reason.FEATURE_NOT_AVAILABLE,
    "rate_limit_exceeded": Reason.THROTTLED,
    "too_many_requests": Reason.THROTTLED,
    "server_error": Reason.FOUNDRY_UNAVAILABLE,
    "versionquotaexceeded": Reason.VERSION_QUOTA_EXCEEDED,
}

# Wordings seen (or expected) in messages whose code is generic, like 400 "UserError" for
# the 1000-version limit. Checked only for 4xx answers and failed versions.
_MESSAGE_REASONS: Final[tuple[tuple[re.Pattern[str], Reason], ...]] = (
    (re.compile(r"capability\s*host", re.I), Reason.CAPABILITY_HOST_NOT_FOUND),
    (
        re.compile(r"protocol.*\b(not supported|unsupported)\b", re.I),
        Reason.PROTOCOL_VERSION_NOT_SUPPORTED,
    ),
    (
        re.compile(
            r"\b(1,?000|maximum|limit|quota)\b.*\bversions?\b|\bversions?\b.*\b(1,?000|limit|quota)\b",
            re.I,
        ),
        Reason.VERSION_QUOTA_EXCEEDED,
    ),
    (re.compile(r"not (enabled|available) in this region", re.I), Reason.FEATURE_NOT_AVAILABLE),
)


def _reason_for_code(code: str | None) -> Reason | None:
    return None if not code else _CODE_REASONS.get(code.strip().lower())


def _reason_for_message(message: str | None) -> Reason | None:
    if not message:
        return None
    for pattern, reason in _MESSAGE_REASONS:
        if pattern.search(message):
            return reason
    return None


def reason_for_http_error(
    status: int | None, code: str | None = None, message: str | None = None
) -> Reason:
    """The reason for a failed Foundry call.

    ``status`` is None when no HTTP answer came back (connection refused, reset, timeout).
    ``code`` is the ``error.code`` of the response body when there was one.
    """
    if status is None:
        if code == "CredentialUnavailable":
            return Reason.CREDENTIAL_UNAVAILABLE
        if code == CREDENTIAL_REJECTED:
            return Reason.AUTHENTICATION_FAILED
        return Reason.FOUNDRY_UNAVAILABLE
    by_code = _reason_for_code(code)
    if by_code is not None:
        return by_code
    if 400 <= status < 500 and status not in (401, 403, 408, 429):
        by_message = _reason_for_message(message)
        if by_message is not None:
            return by_message
    if status in (401, 403):
        return Reason.AUTHENTICATION_FAILED
    if status == 404:
        return Reason.ENDPOINT_NOT_FOUND
    if status == 408 or status >= 500:
        return Reason.FOUNDRY_UNAVAILABLE
    if status == 409:
        return Reason.CONFLICT
    if status == 429:
        return Reason.THROTTLED
    if 400 <= status < 500:
        return Reason.INVALID_SPEC
    # 1xx-3xx reaching an error path is a protocol surprise; treat it like an outage.
    return Reason.FOUNDRY_UNAVAILABLE


def reason_for_version_error(code: str | None, message: str | None = None) -> Reason:
    """The reason for a version Foundry reports as ``failed`` (its ``error.code``)."""
    return _reason_for_code(code) or _reason_for_message(message) or Reason.VERSION_FAILED


# --- what a person reads -----------------------------------------------------------------

MESSAGE_MAX_LENGTH: Final = 1024
REDACTED: Final = "[REDACTED]"
# Secret values shorter than this are not searched for: replacing every "1" or "true" in a
# message would mangle it while protecting nothing.
_MIN_REDACT_LENGTH: Final = 4
# Lines of a multi-line value shorter than this ("-----", "{") say nothing on their own.
_MIN_FRAGMENT_LENGTH: Final = 8


def _fragments(values: Iterable[str]) -> set[str]:
    """Each value, and each line of a multi-line value (a PEM key, a JSON credential): a
    service echoing one line of a secret must not show that line either."""
    found: set[str] = set()
    for value in values:
        found.add(value)
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= _MIN_FRAGMENT_LENGTH:
                found.add(line)
    return found


def redact(text: str, secret_values: Iterable[str] = ()) -> str:
    """``text`` with every occurrence of a secret value (or of one line of it) replaced by
    ``[REDACTED]``."""
    # Longest first, so a value that contains another is replaced whole.
    for value in sorted(_fragments(secret_values), key=len, reverse=True):
        if len(value) >= _MIN_REDACT_LENGTH:
            text = text.replace(value, REDACTED)
    return text


def clean_message(message: str | None, secret_values: Iterable[str] = ()) -> str:
    """A service message fit for status: redacted, on one line, bounded in length."""
    text = " ".join(redact(message or "", secret_values).split())
    if len(text) > MESSAGE_MAX_LENGTH:
        text = text[: MESSAGE_MAX_LENGTH - 1] + "…"
    return text


@dataclass(frozen=True)
class Failure:
    """One error, ready for ``status.lastError`` and the conditions."""

    reason: Reason
    code: str
    message: str

    @property
    def remediation(self) -> str:
        return self.reason.remediation

    @property
    def transient(self) -> bool:
        return self.reason.transient


def describe_http_error(
    status: int | None,
    code: str | None = None,
    message: str | None = None,
    *,
    secret_values: Iterable[str] = (),
) -> Failure:
    """A failed Foundry call as a Failure (message redacted of ``secret_values``)."""
    reason = reason_for_http_error(status, code, message)
    text = clean_message(message, secret_values)
    if not text:
        text = f"Foundry answered HTTP {status}" if status is not None else "no answer"
    return Failure(reason=reason, code=code or str(reason), message=text)


def describe_version_error(
    code: str | None, message: str | None = None, *, secret_values: Iterable[str] = ()
) -> Failure:
    """A version in state ``failed`` as a Failure (message redacted of ``secret_values``)."""
    reason = reason_for_version_error(code, message)
    text = clean_message(message, secret_values) or "Foundry reported the version as failed"
    return Failure(reason=reason, code=code or str(reason), message=text)
