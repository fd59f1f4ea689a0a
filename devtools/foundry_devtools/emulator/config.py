"""The emulator's configuration: one pydantic model, loaded from YAML or JSON.

Every behaviour where the real service is UNCONFIRMED (see docs/emulator.md) is a field here,
so a test can pin the variant it depends on instead of relying on a default that may change.
Most sections can also be changed at runtime through ``PATCH /_emulator/config``.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    # A typo in a config file must fail loudly rather than silently keep a default.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IdenticalDefinitionPolicy(enum.StrEnum):
    """What a create does when its definition equals the latest version's (UNCONFIRMED)."""

    NEW_VERSION = "new_version"
    RETURN_LATEST = "return_latest"


class RoutedVersionDeletePolicy(enum.StrEnum):
    """What deleting a version that the agent endpoint routes traffic to does.

    With ``force=true`` the service deletes it (the SDK's own sample does so); without force
    it is UNCONFIRMED. ``allow`` deletes either way, ``require_force`` answers 409
    ``version_in_use`` unless forced, ``reject`` always answers 409 (the strictest reading).
    """

    ALLOW = "allow"
    REQUIRE_FORCE = "require_force"
    REJECT = "reject"


class TrafficSplit(enum.StrEnum):
    """How requests without a session are spread over the FixedRatio rules."""

    # Deterministic: any 100 consecutive requests split exactly as configured, interleaved.
    ROTATION = "rotation"
    # Weighted random draws from a per-agent generator seeded by ``routing.seed``.
    RANDOM = "random"


class FailureMode(enum.StrEnum):
    """How a matching failure rule surfaces."""

    FAILED_VERSION = "failed_version"
    HTTP_ERROR = "http_error"
    # The version turns active, but its container never answers: every invocation gets
    # 424 session_not_ready and the session log shows the container's last stderr lines.
    NOT_ANSWERING = "not_answering"


NOT_ANSWERING_MESSAGE = "Session '{session}' did not become ready within the expected timeout."


def missing_env_traceback(name: str) -> list[str]:
    """The last stderr lines of a Python agent that reads a variable it was not given."""
    return [
        "Traceback (most recent call last):",
        '  File "/app/main.py", line 9, in <module>',
        f'    deployment = os.environ["{name}"]',
        '  File "<frozen os>", line 714, in __getitem__',
        f"KeyError: '{name}'",
    ]


class FailureRule(_Section):
    """Make versions fail, the way a broken registry, image or configuration would.

    Conditions, all of which must hold (at least one is given): ``match``, a glob (fnmatch,
    case-sensitive) over the full image reference, or ``regex``, a Python regular
    expression searched in it (at most one of the two); ``env_match``, globs the named
    environment variables' values must match (the variable must be set); ``env_missing``,
    variable names of which at least one is unset or empty.

    ``mode: not_answering`` defaults ``http_status`` to 424, ``message`` to the service's
    session_not_ready text and ``stderr`` to a traceback (naming ``{missing_env}`` when
    ``env_missing`` is given).
    """

    id: str | None = None
    match: str | None = None
    regex: str | None = None
    env_match: dict[str, str] = Field(default_factory=dict)
    env_missing: list[str] = Field(default_factory=list)
    code: str
    message: str = "Provisioning of image '{image}' failed: {code}."
    mode: FailureMode = FailureMode.FAILED_VERSION
    http_status: int = Field(default=400, ge=400, le=599)
    # Seconds before the version turns failed; None means the normal provisioning delay.
    delay_seconds: float | None = Field(default=None, ge=0)
    # not_answering: the container's last stderr lines, shown in the session log stream.
    stderr: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _mode_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("mode") != FailureMode.NOT_ANSWERING:
            return data
        data = dict(data)
        data.setdefault("message", NOT_ANSWERING_MESSAGE)
        data.setdefault("http_status", 424)
        if "stderr" not in data:
            data["stderr"] = (
                missing_env_traceback("{missing_env}")
                if data.get("env_missing")
                else [
                    "Error: the agent process exited before it answered GET /readiness "
                    "(exit code 1)."
                ]
            )
        return data

    @model_validator(mode="after")
    def _conditions(self) -> FailureRule:
        if self.match is not None and self.regex is not None:
            raise ValueError("a failure rule takes at most one of 'match' (glob) and 'regex'")
        if self.match is None and self.regex is None and not (self.env_match or self.env_missing):
            raise ValueError(
                "a failure rule needs a condition: 'match' or 'regex' (image), "
                "'env_match' or 'env_missing'"
            )
        return self


def default_failure_rules() -> list[FailureRule]:
    """Images that fail out of the box, so demos and tests need no configuration.

    Each marker is a substring unlikely to appear in a real image name.
    """
    pull = "Failed to pull image '{image}': manifest unknown or registry unreachable."
    specs: list[tuple[str, str, str, str, FailureMode, int]] = [
        (
            "default-image-pull-failed",
            "*does-not-exist*",
            "image_pull_failed",
            pull,
            FailureMode.FAILED_VERSION,
            400,
        ),
        (
            "default-acr-image-not-found",
            "*acr-image-not-found*",
            "AcrImageNotFound",
            "Image '{image}' was not found in the registry.",
            FailureMode.FAILED_VERSION,
            404,
        ),
        (
            "default-unauthorized-acr-pull",
            "*unauthorized-pull*",
            "UnauthorizedAcrPull",
            "The agent identity is not authorized to pull '{image}'. Grant it AcrPull.",
            FailureMode.FAILED_VERSION,
            403,
        ),
        (
            "default-invalid-acr-pull-credentials",
            "*bad-pull-credentials*",
            "InvalidAcrPullCredentials",
            "The registry rejected the pull credentials for '{image}'.",
            FailureMode.FAILED_VERSION,
            401,
        ),
        (
            "default-registry-not-found",
            "*.invalid/*",
            "RegistryNotFound",
            "The registry of '{image}' could not be resolved.",
            FailureMode.FAILED_VERSION,
            404,
        ),
        (
            "default-image-pull-backoff",
            "*image-pull-backoff*",
            "ImagePullBackOff",
            "Back-off pulling image '{image}'.",
            FailureMode.FAILED_VERSION,
            400,
        ),
        (
            "default-invalid-container-image",
            "*invalid-container-image*",
            "InvalidContainerImage",
            "'{image}' is not a valid container image for a hosted agent.",
            FailureMode.HTTP_ERROR,
            400,
        ),
        (
            "default-capability-host-not-found",
            "*no-capability-host*",
            "CapabilityHostNotFound",
            "No capability host is configured for this project.",
            FailureMode.HTTP_ERROR,
            400,
        ),
        (
            "default-protocol-version-not-supported",
            "*unsupported-protocol*",
            "ProtocolVersionNotSupported",
            "The container of '{image}' does not implement the requested protocol version.",
            FailureMode.FAILED_VERSION,
            400,
        ),
    ]
    rules = [
        FailureRule(id=rid, match=glob, code=code, message=msg, mode=mode, http_status=status)
        for rid, glob, code, msg, mode, status in specs
    ]
    # Active but not answering (foundry-samples #515): by image, or by an environment
    # variable whose value names the variable the container then misses.
    rules += [
        FailureRule(
            id="default-crash-on-start",
            match="*crash-on-start*",
            code="session_not_ready",
            mode=FailureMode.NOT_ANSWERING,
            stderr=missing_env_traceback("AZURE_AI_MODEL_DEPLOYMENT_NAME"),
        ),
        FailureRule(
            id="default-crash-on-start-env",
            env_match={"EMULATOR_CRASH_ON_START": "*"},
            code="session_not_ready",
            mode=FailureMode.NOT_ANSWERING,
            stderr=missing_env_traceback("{env:EMULATOR_CRASH_ON_START}"),
        ),
    ]
    return rules


class FaultKind(enum.StrEnum):
    LATENCY = "latency"
    STATUS = "status"
    DROP = "drop"
    # The request is carried out, then answered with the error status: what a client sees
    # when the service applied a create but the answer was lost to a 5xx on the way back.
    APPLY_THEN_STATUS = "apply_then_status"


class FaultRule(_Section):
    """A fault injected in front of the project API.

    ``operations`` empty means every project API operation (never ``token``, which must be
    named explicitly). ``count`` bounds how many times the rule fires before it retires,
    which makes deterministic tests possible with ``rate: 1``.
    """

    id: str | None = None
    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    operations: list[str] = Field(default_factory=list)
    count: int | None = Field(default=None, ge=1)
    latency_ms: float = Field(default=0.0, ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    status: int = Field(default=503, ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    code: str | None = None
    message: str | None = None


class AppRegistration(_Section):
    """A service principal the Entra-style token endpoint (``entra.py``) issues tokens to:
    with its client secret, a client assertion signed by its certificate, or a federated
    token (a Kubernetes ServiceAccount token) whose subject it trusts."""

    client_id: str = Field(min_length=1, max_length=128)
    # None: any tenant in the token URL is accepted for this client.
    tenant_id: str | None = None
    client_secret: str | None = None
    # PEM of the certificate whose key signs the client assertions (ClientCertificate).
    certificate_pem: str | None = None
    # `sub` of the federated tokens accepted as client assertions (WorkloadIdentity), e.g.
    # system:serviceaccount:NAMESPACE:NAME; their signature is not checked.
    federated_subject: str | None = None
    federated_audience: str = "api://AzureADTokenExchange"


class AuthSettings(_Section):
    # Accept any bearer token, e.g. a real Entra token from `az login` during local dev.
    accept_any_bearer: bool = False
    audiences: list[str] = Field(default_factory=lambda: ["https://ai.azure.com"])
    token_lifetime_seconds: int = Field(default=86400, ge=60)
    apps: list[AppRegistration] = Field(default_factory=list)


# The subject of tokens from the managed-identity endpoint (what `principals` names).
MANAGED_IDENTITY_PRINCIPAL = "managed-identity"


class ProjectSettings(_Section):
    """One project the emulator serves besides (or restricting) the default one: its own
    path prefix /api/projects/NAME and its own state."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    # Who may call it: client IDs of app registrations, and "managed-identity" for tokens
    # of the identity endpoint. None: every valid token (the default project's behaviour).
    principals: list[str] | None = None


class LifecycleSettings(_Section):
    provisioning_seconds: float = Field(default=1.0, ge=0)
    identical_definition: IdenticalDefinitionPolicy = IdenticalDefinitionPolicy.NEW_VERSION
    delete_routed_version: RoutedVersionDeletePolicy = RoutedVersionDeletePolicy.ALLOW
    # Live GETs were seen echoing `container_protocol_versions: []` next to protocol_versions.
    echo_container_protocol_versions: bool = True


class LimitSettings(_Section):
    max_versions_per_agent: int = Field(default=1000, ge=1)
    cpu_min: float = 0.25
    cpu_max: float = 4.0
    memory_min_gi: float = 0.5
    memory_max_gi: float = 8.0
    # e.g. 2.0 to require memory == 2 x cpu, as every official sample does; None = no check.
    memory_per_cpu_gi: float | None = None
    reserved_env_prefixes: list[str] = Field(default_factory=lambda: ["FOUNDRY_", "AGENT_"])
    idle_timeout_min_seconds: int = 120
    idle_timeout_max_seconds: int = 14400
    metadata_max_pairs: int = 16
    metadata_key_max_chars: int = 64
    metadata_value_max_chars: int = 512
    description_max_chars: int = 512


class ValidationSettings(_Section):
    # The strict rule: refuse (400 unknown_field, param naming it) a hosted definition or an
    # agent_endpoint PATCH with a field the SDK's models do not have. Off by default: the
    # service is assumed to accept them, as the SDK passes them through.
    reject_unknown_fields: bool = False


class PagingSettings(_Section):
    # False: the last page carries last_id=null, so the SDK stops without an extra request.
    # True: every page carries last_id and the SDK's extra request gets an empty page.
    last_id_on_final_page: bool = False


class ResponsesSettings(_Section):
    disabled_status: int = Field(default=403, ge=400, le=599)
    not_ready_status: int = Field(default=503, ge=400, le=599)
    # 400 agent_version_failed, as seen live (azure-dev #7515); also for new sessions.
    failed_status: int = Field(default=400, ge=400, le=599)
    unknown_api_version_status: int = Field(default=404, ge=400, le=599)
    # Create (and remember) a session when a request names an unknown agent_session_id.
    create_missing_session: bool = True
    # not_answering versions: seconds an invocation waits before its 424 (the service waits
    # for the container's readiness first), and whether creating a session is refused too.
    not_answering_delay_seconds: float = Field(default=0.0, ge=0, le=600)
    not_answering_refuses_session_create: bool = False
    # A disabled agent refuses every request by default; True serves requests that name an
    # existing session (one reading of "existing sessions drain"), refusing the rest.
    disabled_serves_existing_sessions: bool = False


class RoutingSettings(_Section):
    split: TrafficSplit = TrafficSplit.ROTATION
    # Seed of the per-agent generators of ``split: random`` (each agent's draws are
    # seeded by this value and the agent's name, so concurrent tests do not disturb
    # each other's sequence).
    seed: int = 0


class LogStreamSettings(_Section):
    # How long a log stream stays open after its backlog; the service holds it up to 30 min.
    hold_seconds: float = Field(default=0.0, ge=0, le=1800)


class PersistenceSettings(_Section):
    debounce_seconds: float = Field(default=0.05, ge=0, le=10)


class EmulatorConfig(_Section):
    api_versions: list[str] = Field(default_factory=lambda: ["v1"])
    unknown_api_version_status: int = Field(default=400, ge=400, le=599)
    admin_token: str | None = None
    auth: AuthSettings = Field(default_factory=AuthSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    paging: PagingSettings = Field(default_factory=PagingSettings)
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    log_stream: LogStreamSettings = Field(default_factory=LogStreamSettings)
    persistence: PersistenceSettings = Field(default_factory=PersistenceSettings)
    include_default_failure_rules: bool = True
    failure_rules: list[FailureRule] = Field(default_factory=list)
    faults: list[FaultRule] = Field(default_factory=list)
    # Further projects (and the default one's authorization, listed under its own name).
    projects: list[ProjectSettings] = Field(default_factory=list)

    @field_validator("api_versions")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("api_versions must name at least one version")
        return value

    def effective_failure_rules(self) -> list[FailureRule]:
        """Configured rules first, so a user rule can shadow a default one."""
        defaults = default_failure_rules() if self.include_default_failure_rules else []
        return [*self.failure_rules, *defaults]


# Sections that PATCH /_emulator/config may change at runtime. Rules and faults have their
# own endpoints; the admin token is fixed for the process lifetime on purpose.
RUNTIME_SECTIONS = frozenset(
    {
        "auth",
        "lifecycle",
        "limits",
        "validation",
        "paging",
        "responses",
        "routing",
        "log_stream",
        "persistence",
        "api_versions",
        "unknown_api_version_status",
    }
)


def load_config(path: Path | None) -> EmulatorConfig:
    """Read a YAML or JSON file (JSON is YAML, but a .json file gets the clearer JSON errors)."""
    if path is None:
        return EmulatorConfig()
    text = path.read_text(encoding="utf-8")
    raw: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if raw is None:
        return EmulatorConfig()
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the emulator config must be a mapping at the top level")
    return EmulatorConfig.model_validate(raw)


def merge_runtime_patch(config: EmulatorConfig, patch: dict[str, Any]) -> EmulatorConfig:
    """Return a new config with ``patch`` merged into the runtime-changeable sections."""
    unknown = set(patch) - RUNTIME_SECTIONS
    if unknown:
        raise ValueError(f"not changeable at runtime: {', '.join(sorted(unknown))}")
    data = config.model_dump(mode="json")
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return EmulatorConfig.model_validate(data)
