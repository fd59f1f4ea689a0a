"""The HostedAgent ``spec``: what users write, and the single source of the CRD schema.

Field descriptions are user documentation: they become ``kubectl explain`` text. Every
string and list is bounded because the apiserver estimates the worst-case cost of each CEL
rule from those bounds and refuses a CRD whose rules could cost too much.

Choices made where Foundry is vague (see foundry-api.md):
- cpu 0.25-4 cores and memory 0.5Gi-8Gi: the widest official range (azure.yaml reference).
- idleTimeoutSeconds 120-14400: the SDK 2.10 docstring; other docs say up to 3600.
- description at most 512 characters: OpenAI's agent limit; Foundry documents none.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from foundry_operator.api import patterns
from foundry_operator.api.endpoint import EndpointSpec
from foundry_operator.api.project import ProjectReference
from foundry_operator.api.quantity import quantity_in_range
from foundry_operator.api.rai import RaiConfig
from foundry_operator.api.reserved import (
    METADATA_KEY_MAX_LENGTH,
    METADATA_VALUE_MAX_LENGTH,
    RESERVED_METADATA_PREFIX,
    USER_METADATA_MAX_PAIRS,
)
from foundry_operator.api.rules import CrdModel, Rule, k8s_extra
from foundry_operator.api.telemetry import TelemetryConfig
from foundry_operator.api.traffic import Probe, Rollout

CPU_MIN, CPU_MAX = "250m", "4"
MEMORY_MIN, MEMORY_MAX = "512Mi", "8Gi"
IDLE_TIMEOUT_MIN, IDLE_TIMEOUT_MAX = 120, 14400
RESERVED_ENV_PREFIXES = ("FOUNDRY_", "AGENT_")
REVISION_HISTORY_LIMIT_MAX = 100
MAX_ENV = 128
MAX_TOOLS = 32
MAX_PROTOCOLS = 8

_AGENT_NAME_RE = patterns.matcher(patterns.AGENT_NAME)
_IMAGE_RE = patterns.matcher(patterns.IMAGE)
_ENV_NAME_RE = patterns.matcher(patterns.ENV_NAME)
_CONFIG_KEY_RE = patterns.matcher(patterns.CONFIG_KEY)
_DNS_SUBDOMAIN_RE = patterns.matcher(patterns.DNS_SUBDOMAIN)
_SEMVER_RE = patterns.matcher(patterns.SEMVER)
_MCP_LABEL_RE = patterns.matcher(patterns.MCP_SERVER_LABEL)


def is_valid_agent_name(name: str) -> bool:
    return _AGENT_NAME_RE.fullmatch(name) is not None


AGENT_NAME_MESSAGE = (
    "must be 1-63 letters, digits or '-', starting and ending with a letter or digit"
)

# --- field types with their rules ------------------------------------------------------

AgentName = Annotated[
    str,
    Field(min_length=1, max_length=63),
    Rule(
        f"self.matches('{patterns.AGENT_NAME}')",
        f"spec.agentName {AGENT_NAME_MESSAGE}",
        check=is_valid_agent_name,
    ),
    Rule("self == oldSelf", "spec.agentName is immutable; create a new HostedAgent instead"),
]

Image = Annotated[
    str,
    Field(min_length=1, max_length=512),
    Rule(
        f"self.matches('{patterns.IMAGE}')",
        "spec.image must be a full image reference with registry, repository and tag or "
        "digest, like myregistry.azurecr.io/agents/chat:1.4 or ...@sha256:<64 hex digits>",
        check=lambda v: _IMAGE_RE.fullmatch(v) is not None,
    ),
]

# The forms Foundry's samples and docs use: decimal cores ("0.5", "1") or millicores
# ("500m", sent as decimal cores); memory in Mi or Gi ("512Mi", "0.5Gi", "2Gi"). Kubernetes
# also accepts "1e0", "2G", "1000M" or plain bytes, which Foundry refuses: the schema names
# the accepted forms instead of letting Foundry fail the version later.
CPU_FORM: Final = r"^([0-9]+([.][0-9]+)?|[0-9]+m)$"
MEMORY_FORM: Final = r"^[0-9]+([.][0-9]+)?(Mi|Gi)$"

Cpu = Annotated[
    str,
    Field(min_length=1, max_length=16),
    Rule(
        f"self.matches('{CPU_FORM}')",
        'spec.cpu must be decimal cores or millicores, like "0.5", "1" or "500m"',
        check=lambda v: re.fullmatch(CPU_FORM, v) is not None,
    ),
    Rule(
        f"isQuantity(self) && quantity(self).compareTo(quantity('{CPU_MIN}')) >= 0"
        f" && quantity(self).compareTo(quantity('{CPU_MAX}')) <= 0",
        f'spec.cpu must be a quantity between {CPU_MIN} and {CPU_MAX} cores, like "0.5" or "1"',
        check=lambda v: quantity_in_range(v, CPU_MIN, CPU_MAX),
    ),
]

Memory = Annotated[
    str,
    Field(min_length=1, max_length=16),
    Rule(
        f"self.matches('{MEMORY_FORM}')",
        'spec.memory must be a number of Mi or Gi, like "512Mi", "0.5Gi" or "2Gi"',
        check=lambda v: re.fullmatch(MEMORY_FORM, v) is not None,
    ),
    Rule(
        f"isQuantity(self) && quantity(self).compareTo(quantity('{MEMORY_MIN}')) >= 0"
        f" && quantity(self).compareTo(quantity('{MEMORY_MAX}')) <= 0",
        f'spec.memory must be a quantity between {MEMORY_MIN} and {MEMORY_MAX}, like "2Gi"',
        check=lambda v: quantity_in_range(v, MEMORY_MIN, MEMORY_MAX),
    ),
]

ObjectName = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.DNS_SUBDOMAIN}')",
        "spec.env[].valueFrom: name must be a valid Kubernetes object name (lowercase DNS "
        "subdomain)",
        check=lambda v: _DNS_SUBDOMAIN_RE.fullmatch(v) is not None,
    ),
]

ConfigKey = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.CONFIG_KEY}')",
        "spec.env[].valueFrom: key must consist of letters, digits, '-', '_' or '.'",
        check=lambda v: _CONFIG_KEY_RE.fullmatch(v) is not None,
    ),
]


ConfigMapName = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.DNS_SUBDOMAIN}')",
        "spec.endpointConfigMap.name must be a valid ConfigMap name: lowercase letters, "
        "digits, '-' and '.', starting and ending with a letter or digit (a DNS-1123 "
        "subdomain)",
        check=lambda v: _DNS_SUBDOMAIN_RE.fullmatch(v) is not None,
    ),
]


def _env_name_allowed(name: str) -> bool:
    # Case-insensitive: "foundry_x" is as reserved as "FOUNDRY_X" to a reader, and refusing
    # it here beats a surprise from the service.
    return not name.upper().startswith(RESERVED_ENV_PREFIXES)


EnvName = Annotated[
    str,
    Field(min_length=1, max_length=256),
    Rule(
        f"self.matches('{patterns.ENV_NAME}')",
        "spec.env[].name must be a letter or '_' followed by letters, digits or '_'",
        check=lambda v: _ENV_NAME_RE.fullmatch(v) is not None,
    ),
    Rule(
        " && ".join(f"!self.upperAscii().startsWith('{p}')" for p in RESERVED_ENV_PREFIXES),
        "spec.env[].name must not start with "
        + " or ".join(RESERVED_ENV_PREFIXES)
        + " (in any case): Foundry reserves those prefixes",
        check=_env_name_allowed,
    ),
]

ProtocolVersionString = Annotated[
    str,
    Field(min_length=1, max_length=64),
    Rule(
        f"self.matches('{patterns.SEMVER}')",
        'spec.protocols[].version must be a semantic version like "1.0.0"',
        check=lambda v: _SEMVER_RE.fullmatch(v) is not None,
    ),
]


def _metadata_keys_allowed(metadata: dict[str, str]) -> bool:
    return all(
        0 < len(k) <= METADATA_KEY_MAX_LENGTH and not k.startswith(RESERVED_METADATA_PREFIX)
        for k in metadata
    )


UserMetadata = Annotated[
    dict[str, Annotated[str, Field(max_length=METADATA_VALUE_MAX_LENGTH)]],
    Field(max_length=USER_METADATA_MAX_PAIRS),
    Rule(
        f"self.all(k, size(k) >= 1 && size(k) <= {METADATA_KEY_MAX_LENGTH})",
        f"spec.metadata keys must be 1-{METADATA_KEY_MAX_LENGTH} characters",
        check=lambda m: all(0 < len(k) <= METADATA_KEY_MAX_LENGTH for k in m),
    ),
    Rule(
        f"self.all(k, !k.startsWith('{RESERVED_METADATA_PREFIX}'))",
        f"spec.metadata keys starting with '{RESERVED_METADATA_PREFIX}' are reserved for the "
        "operator",
        check=_metadata_keys_allowed,
    ),
]


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- enums ---------------------------------------------------------------------------


LATEST_TAG_WARNING = (
    "spec.image uses the moving tag :latest; a new push is not noticed. Use a versioned tag "
    "or a digest."
)


class AgentProtocol(StrEnum):
    """Ingress protocols a hosted agent can serve (the SDK's AgentEndpointProtocol values)."""

    ACTIVITY = "activity"
    RESPONSES = "responses"
    A2A = "a2a"
    MCP = "mcp"
    INVOCATIONS = "invocations"
    VOICE = "voice"
    INVOCATIONS_WS = "invocations_ws"
    VOICE_CONVERSATION_ENGINE = "voice_conversation_engine"


class DeletionPolicy(StrEnum):
    """What happens in Foundry when the HostedAgent is deleted."""

    DELETE = "Delete"
    RETAIN = "Retain"


class ManagementPolicy(StrEnum):
    """How far the operator acts on the Foundry agent (see reconcile.policy)."""

    MANAGE = "Manage"
    OBSERVE_ONLY = "ObserveOnly"
    PAUSED = "Paused"


class AdoptionPolicy(StrEnum):
    """Whether an existing Foundry agent the operator did not create may become this
    HostedAgent's."""

    NEVER = "Never"
    ADOPT = "Adopt"


class AdoptedVersions(StrEnum):
    """Whether revisionHistoryLimit and deletionPolicy Delete reach adopted versions."""

    KEEP = "Keep"
    INCLUDE = "Include"


class McpApproval(StrEnum):
    """Whether MCP tool calls need approval."""

    ALWAYS = "always"
    NEVER = "never"


# --- nested objects ------------------------------------------------------------------


class ProtocolVersion(CrdModel):
    """A protocol the agent container serves, and the version of its contract."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.protocol != 'voice_conversation_engine' || self.version == '1.0.0'",
            'spec.protocols: voice_conversation_engine only supports version "1.0.0"',
            check=lambda p: (
                p.protocol != AgentProtocol.VOICE_CONVERSATION_ENGINE or p.version == "1.0.0"
            ),
        ),
    )

    protocol: AgentProtocol = Field(
        description="Protocol name: responses (OpenAI Responses API), invocations, "
        "invocations_ws, activity, a2a, mcp, voice or voice_conversation_engine."
    )
    version: ProtocolVersionString = Field(
        description='Semantic version of the protocol contract, e.g. "1.0.0" or "2.0.0".'
    )


class KeyReference(CrdModel):
    """A key in a Secret or ConfigMap in the HostedAgent's namespace."""

    name: ObjectName = Field(description="Name of the Secret or ConfigMap.")
    key: ConfigKey = Field(description="Key whose value becomes the variable's value.")
    optional: bool | None = Field(
        default=None,
        description="If true, a missing object or key leaves the variable unset instead of "
        "blocking the rollout with SecretNotFound. Default false.",
    )


class EnvVarSource(CrdModel):
    """Where an environment variable's value comes from. Set exactly one field."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "has(self.secretKeyRef) != has(self.configMapKeyRef)",
            "spec.env[].valueFrom must set exactly one of secretKeyRef or configMapKeyRef",
            check=lambda s: (s.secret_key_ref is None) != (s.config_map_key_ref is None),
        ),
    )

    secret_key_ref: KeyReference | None = Field(
        default=None,
        description="A key of a Secret. The value is sent to Foundry (that is its purpose) and "
        "appears nowhere else: status and logs show only a digest of it.",
    )
    config_map_key_ref: KeyReference | None = Field(
        default=None, description="A key of a ConfigMap."
    )


class EnvVar(CrdModel):
    """An environment variable of the agent container."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "has(self.value) != has(self.valueFrom)",
            "spec.env[] must set exactly one of value or valueFrom",
            check=lambda e: (e.value is None) != (e.value_from is None),
        ),
    )

    name: EnvName = Field(
        description="Variable name. Names starting with FOUNDRY_ or AGENT_ are reserved by Foundry."
    )
    value: str | None = Field(
        default=None,
        max_length=65536,
        description="Literal value. Changing it creates a new agent version.",
    )
    value_from: EnvVarSource | None = Field(
        default=None,
        description="Read the value from a Secret or ConfigMap. A changed value (for example a "
        "rotated Secret) creates a new agent version.",
    )


class EndpointConfigMap(CrdModel):
    """A ConfigMap in the HostedAgent's namespace that the operator writes the agent's
    endpoint into, for applications to load with envFrom. It holds no secret and no token."""

    name: ConfigMapName = Field(
        description="Name of the ConfigMap. The operator creates it, owned by this "
        "HostedAgent, and keeps its keys (OPENAI_BASE_URL, OPENAI_API_VERSION, "
        "OPENAI_CUSTOM_HEADERS, FOUNDRY_AGENT_NAME, FOUNDRY_TOKEN_SCOPE, FOUNDRY_FEATURES, "
        "FOUNDRY_AGENT_PROTOCOLS) in step with status.endpoint. A ConfigMap of that name "
        "that this HostedAgent does not own is never changed (reason ConfigMapConflict). "
        "Removing spec.endpointConfigMap, or renaming it, deletes the ConfigMap the operator "
        "wrote."
    )


DEFAULT_TOOLBOX_ENV: Final = "MCP_SERVER_URL"
"""The variable the toolbox's MCP URL goes into (the name the SDK's toolbox samples use)."""


class ToolboxReference(CrdModel):
    """A FoundryToolbox in the HostedAgent's namespace whose MCP endpoint the agent gets."""

    name: Annotated[
        str,
        Field(min_length=1, max_length=253),
        Rule(
            f"self.matches('{patterns.DNS_SUBDOMAIN}')",
            "spec.toolbox.name must be the name of a FoundryToolbox (lowercase DNS subdomain)",
            check=lambda v: _DNS_SUBDOMAIN_RE.fullmatch(v) is not None,
        ),
    ] = Field(description="Name of the FoundryToolbox (metadata.name), same namespace.")
    env: Annotated[
        str,
        Field(min_length=1, max_length=256),
        Rule(
            f"self.matches('{patterns.ENV_NAME}')",
            "spec.toolbox.env must be a letter or '_' followed by letters, digits or '_'",
            check=lambda v: _ENV_NAME_RE.fullmatch(v) is not None,
        ),
        Rule(
            " && ".join(f"!self.upperAscii().startsWith('{p}')" for p in RESERVED_ENV_PREFIXES),
            "spec.toolbox.env must not start with "
            + " or ".join(RESERVED_ENV_PREFIXES)
            + " (in any case): Foundry reserves those prefixes",
            check=_env_name_allowed,
        ),
    ] = Field(
        default=DEFAULT_TOOLBOX_ENV,
        description="Environment variable that receives the toolbox's MCP URL, "
        "{project}/toolboxes/{toolbox}/versions/{version}/mcp?api-version=v1, pinned to the "
        "toolbox's current version: a new toolbox version gives a new agent version. "
        f"Default {DEFAULT_TOOLBOX_ENV}.",
    )


# Tools, as in the original hosted-agent API. A discriminated union in Python; the CRD
# generator folds the variants into one object with a `type` enum and per-type CEL rules,
# because structural schemas cannot express oneOf between different property sets.


class CodeInterpreterTool(CrdModel):
    """Lets the agent write and run code in a sandbox."""

    type: Literal["code_interpreter"] = Field(description="Tool type.")


class FileSearchTool(CrdModel):
    """Lets the agent search Foundry vector stores."""

    type: Literal["file_search"] = Field(description="Tool type.")
    vector_store_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        min_length=1,
        max_length=16,
        description="IDs of the vector stores to search (file_search only).",
    )
    max_num_results: int | None = Field(
        default=None,
        ge=1,
        le=50,
        description="Maximum number of search results, 1-50 (file_search only).",
    )


class McpTool(CrdModel):
    """Connects the agent to a remote MCP server."""

    type: Literal["mcp"] = Field(description="Tool type.")
    server_label: Annotated[
        str,
        Field(min_length=1, max_length=64),
        Rule(
            f"self.matches('{patterns.MCP_SERVER_LABEL}')",
            "spec.tools[].serverLabel must consist of letters, digits, '_' or '-'",
            check=lambda v: _MCP_LABEL_RE.fullmatch(v) is not None,
        ),
    ] = Field(description="Label identifying the MCP server in tool calls (mcp only).")
    server_url: Annotated[
        str,
        Field(min_length=1, max_length=2048),
        Rule(
            "isURL(self) && url(self).getScheme() in ['http', 'https']",
            "spec.tools[].serverUrl must be an http or https URL",
            check=_is_http_url,
        ),
    ] = Field(description="URL of the MCP server (mcp only).")
    require_approval: McpApproval | None = Field(
        default=None,
        description="Whether tool calls need approval: always or never (mcp only).",
    )
    allowed_tools: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None,
        max_length=128,
        description="Only these tools of the server may be called; all when unset (mcp only).",
    )
    project_connection_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Foundry project connection holding the server's credentials, so that "
        "none appear in the manifest (mcp only).",
    )


Tool = Annotated[
    CodeInterpreterTool | FileSearchTool | McpTool,
    Field(discriminator="type"),
]


def _mcp_labels_unique(tools: list[Tool]) -> bool:
    labels = [t.server_label for t in tools if isinstance(t, McpTool)]
    return len(labels) == len(set(labels))


def _protocols_unique(protocols: list[ProtocolVersion]) -> bool:
    names = [p.protocol for p in protocols]
    return len(names) == len(set(names))


def _env_names_unique(env: list[EnvVar]) -> bool:
    names = [e.name for e in env]
    return len(names) == len(set(names))


def _activity_served(spec: HostedAgentSpec) -> bool:
    if spec.endpoint is None or spec.endpoint.activity is None:
        return True
    return any(p.protocol is AgentProtocol.ACTIVITY for p in spec.protocols)


def _default_protocols() -> list[ProtocolVersion]:
    return [ProtocolVersion(protocol=AgentProtocol.RESPONSES, version="1.0.0")]


# --- the spec ------------------------------------------------------------------------


def _env_free_for_toolbox(spec: HostedAgentSpec) -> bool:
    wanted = toolbox_env_name(spec)
    return wanted is None or all(e.name != wanted for e in spec.env)


def toolbox_env_name(spec: HostedAgentSpec) -> str | None:
    """The variable the operator sets to a toolbox's MCP URL, None when it sets none."""
    if spec.toolbox is not None:
        return spec.toolbox.env
    return DEFAULT_TOOLBOX_ENV if spec.tools else None


class HostedAgentSpec(CrdModel):
    """Desired state of a Microsoft Foundry hosted agent.

    Each distinct combination of image, resources, protocols, environment (with the MCP URL
    of its toolbox's current version), telemetry, RAI policy, memory snapshots, description
    and metadata becomes one immutable Foundry agent version; the operator routes the
    agent's endpoint to the newest active one.
    """

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.toolbox) || !has(self.projectRef)",
            "spec.toolbox cannot be combined with spec.projectRef: FoundryToolboxes live in the "
            "operator's own project; use spec.tools for an agent in another project",
            check=lambda s: s.toolbox is None or s.project_ref is None,
            field_path=".projectRef",
        ),
        Rule(
            "!has(self.toolbox) || !has(self.tools) || size(self.tools) == 0",
            "spec.toolbox and spec.tools are exclusive: put the tools in the FoundryToolbox",
            check=lambda s: s.toolbox is None or not s.tools,
            field_path=".tools",
        ),
        Rule(
            "!has(self.env) || (has(self.toolbox) ? !self.env.exists(e, e.name == "
            f"(has(self.toolbox.env) ? self.toolbox.env : '{DEFAULT_TOOLBOX_ENV}')) : "
            "(!has(self.tools) || size(self.tools) == 0 || "
            f"!self.env.exists(e, e.name == '{DEFAULT_TOOLBOX_ENV}')))",
            "spec.env must not set the variable the toolbox's MCP URL goes into "
            f"(spec.toolbox.env, {DEFAULT_TOOLBOX_ENV} by default and for spec.tools)",
            check=_env_free_for_toolbox,
            field_path=".env",
        ),
        Rule(
            "!has(self.endpoint) || !has(self.endpoint.activity) || "
            "self.protocols.exists(p, p.protocol == 'activity')",
            "spec.endpoint.activity needs the activity protocol in spec.protocols",
            check=_activity_served,
            field_path=".endpoint.activity",
        ),
    )

    agent_name: AgentName | None = Field(
        default=None,
        description="Name of the agent in Foundry. Defaults to metadata.name. Immutable: "
        "renaming means a new HostedAgent. 1-63 letters, digits or '-', starting and ending "
        "with a letter or digit.",
    )
    image: Image = Field(
        description="Container image, as a full reference with registry and a tag or digest, "
        "e.g. myregistry.azurecr.io/agents/chat:1.4. A digest pins exactly what runs; a "
        "moving tag like :latest is accepted but a new push is not noticed.",
    )
    registry_connection: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Foundry project connection (name or id) holding the credentials of a "
        "private registry. Omit for public images and registries the project's identity "
        "can already pull from (e.g. an ACR with AcrPull granted).",
    )
    cpu: Cpu = Field(
        default="1",
        description='CPU cores for the agent container, 250m-4 (e.g. "0.5", "1"). Millicores '
        'are sent to Foundry as decimal cores ("500m" becomes "0.5").',
    )
    memory: Memory = Field(
        default="2Gi",
        description='Memory for the agent container, 512Mi-8Gi (e.g. "1Gi"). Foundry samples '
        "use twice the cpu in Gi.",
    )
    protocols: list[ProtocolVersion] = Field(
        default_factory=_default_protocols,
        min_length=1,
        max_length=MAX_PROTOCOLS,
        description="Protocols the container serves, one entry per protocol. Defaults to "
        "the Responses protocol, version 1.0.0.",
        json_schema_extra={
            "default": [{"protocol": "responses", "version": "1.0.0"}],
            **k8s_extra(list_type="map", list_map_keys=["protocol"]),
        },
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=MAX_ENV,
        description="Environment variables of the agent container. Names are unique.",
        json_schema_extra=k8s_extra(list_type="map", list_map_keys=["name"]),
    )
    tools: Annotated[
        list[Tool],
        Rule(
            "self.all(t, t.type != 'mcp' || !has(t.serverLabel) || self.exists_one(u, "
            "u.type == 'mcp' && has(u.serverLabel) && u.serverLabel == t.serverLabel))",
            "spec.tools: each mcp tool needs a distinct serverLabel",
            check=_mcp_labels_unique,
        ),
    ] = Field(
        default_factory=list,
        max_length=MAX_TOOLS,
        description="Tools the agent may use, in the shape of the preview hosted-agent API: "
        "code_interpreter, file_search or mcp. Shorthand for a toolbox: the operator keeps "
        "them in a Foundry toolbox of this HostedAgent's own ({agentName}-tools) and puts its "
        f"MCP URL in {DEFAULT_TOOLBOX_ENV}; they are never part of the agent definition "
        "(GA has no such field). Exclusive with spec.toolbox.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    toolbox: ToolboxReference | None = Field(
        default=None,
        description="A FoundryToolbox this agent uses: the operator sets spec.toolbox.env to "
        "the MCP URL of the toolbox's current version, so a toolbox change rolls out a new "
        "agent version. The agent's own identity (status.identity) needs a role on the "
        "project, such as Azure AI User, to call it.",
    )
    project_ref: ProjectReference | None = Field(
        default=None,
        description="The FoundryProject (same namespace) or ClusterFoundryProject whose "
        "endpoint and credential this agent uses. Unset: the operator's own project endpoint "
        "and identity. Fixed at creation: it can be neither added, removed nor changed. "
        "Not combinable with spec.toolbox (FoundryToolboxes live in the operator's project).",
    )
    description: str | None = Field(
        default=None,
        max_length=512,
        description="Human-readable description of the agent, shown in Foundry.",
    )
    metadata: UserMetadata = Field(
        default_factory=dict,
        description=f"Key-value pairs stored on every agent version (at most "
        f"{USER_METADATA_MAX_PAIRS} pairs, keys up to {METADATA_KEY_MAX_LENGTH} and values up "
        f"to {METADATA_VALUE_MAX_LENGTH} characters). Keys starting with "
        f"'{RESERVED_METADATA_PREFIX}' are reserved for the operator.",
    )
    idle_timeout_seconds: int | None = Field(
        default=None,
        ge=IDLE_TIMEOUT_MIN,
        le=IDLE_TIMEOUT_MAX,
        description=f"Seconds a session may stay idle before its sandbox is suspended, "
        f"{IDLE_TIMEOUT_MIN}-{IDLE_TIMEOUT_MAX}. Foundry's default (900) applies when unset.",
    )
    telemetry_config: TelemetryConfig | None = Field(
        default=None,
        description="Export the container's logs, OpenTelemetry signals and metrics to OTLP "
        "collectors of your own. Changing it creates a new agent version. Unset: no export.",
    )
    rai_config: RaiConfig | None = Field(
        default=None,
        description="The Responsible AI (content filtering and safety) policy Foundry "
        "applies to the agent. Changing it creates a new agent version. Unset: Foundry's "
        "default.",
    )
    enable_memory_snapshot: bool | None = Field(
        default=None,
        description="true starts each session from a snapshot of the agent's initialized "
        "process instead of starting the process from its image. Changing it creates a new "
        "agent version. Foundry's default: false.",
    )
    endpoint: EndpointSpec | None = Field(
        default=None,
        description="Settings of the agent endpoint that all versions share: authorization "
        "schemes and per-protocol options. Changing them updates the endpoint in place, "
        "without a new version and without moving traffic.",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete (default): deleting the HostedAgent deletes the agent versions it "
        "created in Foundry. Retain: they are left in Foundry.",
    )
    management_policy: ManagementPolicy = Field(
        default=ManagementPolicy.MANAGE,
        description="Manage (default): the operator creates, routes, prunes and deletes as "
        "the spec says. ObserveOnly: it only reads the Foundry agent and reports its "
        "versions, routing, endpoint and whether it matches the spec (condition Drifted); it "
        "never writes to Foundry, creates no missing agent and deletes nothing when the "
        "HostedAgent goes. Paused: no Foundry call at all; condition Paused is True and "
        "status keeps what it said; deleting the HostedAgent still works, following "
        "deletionPolicy. Distinct from spec.suspend, which disables the agent in Foundry.",
    )
    adoption_policy: AdoptionPolicy = Field(
        default=AdoptionPolicy.NEVER,
        description="Never (default): a Foundry agent holding versions this HostedAgent did "
        "not create is AgentNameConflict and left alone. Adopt: an existing agent whose "
        "versions were made outside the operator becomes this HostedAgent's; its versions "
        "are listed as adopted in status, a version of them matching the spec is used as "
        "is, and the routing stays until a version the operator created is ready. An agent "
        "with versions of another HostedAgent is never adopted.",
    )
    adopted_versions: AdoptedVersions = Field(
        default=AdoptedVersions.KEEP,
        description="Keep (default): adopted versions are never pruned by "
        "revisionHistoryLimit nor deleted by deletionPolicy Delete (deleting the HostedAgent "
        "removes only the versions the operator created). Include: they count like the "
        "operator's own for both.",
    )
    revision_history_limit: int = Field(
        default=3,
        ge=0,
        le=REVISION_HISTORY_LIMIT_MAX,
        description="How many older versions created by this HostedAgent to keep in Foundry "
        "besides the serving one (adopted versions count only with adoptedVersions: "
        "Include). Default 3.",
    )
    probe: Probe | None = Field(
        default=None,
        description="A question each new version must answer through the Responses protocol "
        "before it takes traffic, asked again of the serving version every periodSeconds. "
        "Unset: a version is Ready when Foundry says it is active.",
    )
    rollout: Rollout | None = Field(
        default=None,
        description="Steps in which a new version takes the traffic from the serving one. "
        "Unset: all at once.",
    )

    suspend: bool | None = Field(
        default=None,
        description="true disables the agent in Foundry (it rejects new sessions and "
        "requests; existing sessions drain) and the HostedAgent reports phase Suspended, "
        "Ready=False with reason Suspended. false or unset enables it again if the operator "
        "disabled it. Nothing else changes: no new version, the traffic split stays; spec "
        "changes made meanwhile still roll out, ready to serve on resume. Default false.",
    )
    endpoint_config_map: EndpointConfigMap | None = Field(
        default=None,
        description="Publish the agent's endpoint in a ConfigMap for applications "
        "(envFrom). Off when unset.",
    )

    # Uniqueness for protocols and env is enforced by the apiserver through list-type map;
    # these Python checks mirror it for specs that did not pass through the apiserver.
    @model_validator(mode="after")
    def _keys_unique(self) -> HostedAgentSpec:
        if not _protocols_unique(self.protocols):
            raise ValueError("spec.protocols must list each protocol once")
        if not _env_names_unique(self.env):
            raise ValueError("spec.env names must be unique")
        return self

    def warnings(self) -> list[str]:
        """Things that are allowed but probably not what the user wants (for Events)."""
        found: list[str] = []
        if "@sha256:" not in self.image and self.image.endswith(":latest"):
            found.append(LATEST_TAG_WARNING)
        return found


def resolve_agent_name(spec: HostedAgentSpec, metadata_name: str) -> str:
    """The Foundry agent name: ``spec.agentName``, else ``metadata.name``.

    The CRD cannot default a field from metadata, and the operator does not write spec, so the
    default is applied here and recorded in ``status.agentName``. A CEL rule on the object
    keeps the effective name from ever changing. Raises ValueError when the default is not a
    valid agent name (the CRD refuses such objects; this protects against older CRDs).
    """
    name = spec.agent_name if spec.agent_name is not None else metadata_name
    if not is_valid_agent_name(name):
        raise ValueError(
            f"metadata.name {name!r} is not a valid Foundry agent name ({AGENT_NAME_MESSAGE}); "
            "set spec.agentName"
        )
    return name
