"""The FoundryToolbox ``spec`` and ``status``: a Foundry toolbox, declared in Kubernetes.

A toolbox is Foundry's GA way to give a hosted agent tools: a versioned project resource
holding tool definitions (``client.toolboxes`` in azure-ai-projects 2.10), that the agent's
container reaches over MCP at ``{project}/toolboxes/{name}/versions/{version}/mcp``. The
tools here are the SDK's ``*ToolboxTool`` models in camelCase (``MCPToolboxTool`` is
``type: mcp``, ``CodeInterpreterToolboxTool`` is ``type: code_interpreter``, ...).

Credentials never appear in the manifest: an MCP server's OAuth token and header values
come from Secrets by reference, and enter the spec hash only as digests (like a
HostedAgent's env). Project connections (``projectConnectionId``) keep them in Foundry.
An OpenAPI tool's document is inline or a ConfigMap key, which the operator reads at each
reconcile (it is no secret: the document itself enters the hash).

Field descriptions are user documentation (``kubectl explain foundrytoolbox.spec``); every
string and list is bounded so that the apiserver can cost the CEL rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from foundry_operator.api import patterns
from foundry_operator.api.reserved import (
    METADATA_KEY_MAX_LENGTH,
    METADATA_VALUE_MAX_LENGTH,
    RESERVED_METADATA_PREFIX,
    TOOLBOX_USER_METADATA_MAX_PAIRS,
)
from foundry_operator.api.rules import CrdModel, Rule, k8s_extra
from foundry_operator.api.status import Condition, LastError, Phase

MAX_TOOLBOX_TOOLS: Final = 32
TOOLBOX_REVISION_HISTORY_MAX: Final = 100

_TOOLBOX_NAME_RE = patterns.matcher(patterns.TOOLBOX_NAME)
_DNS_SUBDOMAIN_RE = patterns.matcher(patterns.DNS_SUBDOMAIN)
_CONFIG_KEY_RE = patterns.matcher(patterns.CONFIG_KEY)
_MCP_LABEL_RE = patterns.matcher(patterns.MCP_SERVER_LABEL)
_HEADER_NAME_RE = patterns.matcher(patterns.HTTP_HEADER_NAME)
_FUNCTION_NAME_RE = patterns.matcher(patterns.FUNCTION_NAME)

TOOLBOX_NAME_MESSAGE: Final = (
    "must be 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit"
)


def is_valid_toolbox_name(name: str) -> bool:
    return _TOOLBOX_NAME_RE.fullmatch(name) is not None


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


ToolboxName = Annotated[
    str,
    Field(min_length=1, max_length=63),
    Rule(
        f"self.matches('{patterns.TOOLBOX_NAME}')",
        f"spec.toolboxName {TOOLBOX_NAME_MESSAGE}",
        check=is_valid_toolbox_name,
    ),
    Rule("self == oldSelf", "spec.toolboxName is immutable; create a new FoundryToolbox instead"),
]

SecretName = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.DNS_SUBDOMAIN}')",
        "spec.tools[]: secretKeyRef.name must be a valid Secret name (lowercase DNS subdomain)",
        check=lambda v: _DNS_SUBDOMAIN_RE.fullmatch(v) is not None,
    ),
]

SecretKey = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.CONFIG_KEY}')",
        "spec.tools[]: secretKeyRef.key must consist of letters, digits, '-', '_' or '.'",
        check=lambda v: _CONFIG_KEY_RE.fullmatch(v) is not None,
    ),
]

ShortText = Annotated[str, Field(min_length=1, max_length=256)]
IdText = Annotated[str, Field(min_length=1, max_length=1024)]


class SecretKeySelector(CrdModel):
    """A key of a Secret in the FoundryToolbox's namespace. Its value goes to Foundry (that
    is its purpose) and nowhere else: status and logs show only a digest of it."""

    name: SecretName = Field(description="Name of the Secret.")
    key: SecretKey = Field(description="Key whose value is used.")


class SecretValueSource(CrdModel):
    """Where a credential's value comes from."""

    secret_key_ref: SecretKeySelector = Field(description="A key of a Secret.")


class McpHeader(CrdModel):
    """An HTTP header Foundry sends to the MCP server. Set exactly one of value or
    valueFrom; use valueFrom for anything secret (an API key)."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "has(self.value) != has(self.valueFrom)",
            "spec.tools[].headers[] must set exactly one of value or valueFrom",
            check=lambda h: (h.value is None) != (h.value_from is None),
        ),
    )

    name: Annotated[
        str,
        Field(min_length=1, max_length=256),
        Rule(
            f"self.matches('{patterns.HTTP_HEADER_NAME}')",
            "spec.tools[].headers[].name must be an HTTP header name: letters, digits, '-' "
            "or '_', starting with a letter or digit",
            check=lambda v: _HEADER_NAME_RE.fullmatch(v) is not None,
        ),
    ] = Field(description="Header name, e.g. X-Api-Key.")
    value: str | None = Field(
        default=None,
        max_length=4096,
        description="Literal value, visible to anyone who can read the manifest.",
    )
    value_from: SecretValueSource | None = Field(
        default=None,
        description="Read the value from a Secret (a rotated value makes a new toolbox version).",
    )


class McpApprovalMode(StrEnum):
    """Whether the tool calls of an MCP server need approval (MCPToolboxTool.require_approval)."""

    ALWAYS = "always"
    NEVER = "never"


class McpConnector(StrEnum):
    """Service connectors an MCP tool may name instead of a server URL."""

    DROPBOX = "connector_dropbox"
    GMAIL = "connector_gmail"
    GOOGLE_CALENDAR = "connector_googlecalendar"
    GOOGLE_DRIVE = "connector_googledrive"
    MICROSOFT_TEAMS = "connector_microsoftteams"
    OUTLOOK_CALENDAR = "connector_outlookcalendar"
    OUTLOOK_EMAIL = "connector_outlookemail"
    SHAREPOINT = "connector_sharepoint"


class CodeInterpreterMemory(StrEnum):
    """Memory of the code interpreter's sandbox (ContainerMemoryLimit)."""

    G1 = "1g"
    G4 = "4g"
    G16 = "16g"
    G64 = "64g"


class SearchContextSize(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SearchQueryType(StrEnum):
    """AzureAISearchQueryType."""

    SIMPLE = "simple"
    SEMANTIC = "semantic"
    VECTOR = "vector"
    VECTOR_SIMPLE_HYBRID = "vector_simple_hybrid"
    VECTOR_SEMANTIC_HYBRID = "vector_semantic_hybrid"


# --- the tools: one class per GA toolbox tool type -----------------------------------
# A discriminated union in Python; the CRD generator folds it into one object with a `type`
# enum and per-type CEL rules. Fields several types share are declared once (in
# _ToolboxToolBase) because the fold requires them to have the same schema everywhere.

_TOOL_NAME_DESCRIPTION = "Optional name of this tool in the toolbox, shown to the model."
_TOOL_DESCRIPTION_DESCRIPTION = "Optional description of this tool, shown to the model."


class _ToolboxToolBase(CrdModel):
    name: ShortText | None = Field(default=None, description=_TOOL_NAME_DESCRIPTION)
    description: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        default=None, description=_TOOL_DESCRIPTION_DESCRIPTION
    )


def _one_mcp_target(tool: McpToolboxTool) -> bool:
    return [tool.server_url, tool.connector_id, tool.tunnel_id].count(None) == 2


def _headers_unique(headers: list[McpHeader] | None) -> bool:
    names = [h.name.lower() for h in headers or []]
    return len(names) == len(set(names))


class McpToolboxTool(_ToolboxToolBase):
    """A remote MCP server (MCPToolboxTool)."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "[has(self.serverUrl), has(self.connectorId), has(self.tunnelId)]"
            ".filter(x, x).size() == 1",
            "spec.tools[]: an mcp tool needs exactly one of serverUrl, connectorId or tunnelId",
            check=_one_mcp_target,
        ),
    )

    type: Literal["mcp"] = Field(description="Tool type.")
    server_label: Annotated[
        str,
        Field(min_length=1, max_length=64),
        Rule(
            f"self.matches('{patterns.MCP_SERVER_LABEL}')",
            "spec.tools[].serverLabel must consist of letters, digits, '_' or '-'",
            check=lambda v: _MCP_LABEL_RE.fullmatch(v) is not None,
        ),
    ] = Field(description="Label of the MCP server in tool calls; unique in the toolbox (mcp).")
    server_url: (
        Annotated[
            str,
            Field(min_length=1, max_length=2048),
            Rule(
                "isURL(self) && url(self).getScheme() in ['http', 'https']",
                "spec.tools[].serverUrl must be an http or https URL",
                check=_is_http_url,
            ),
        ]
        | None
    ) = Field(default=None, description="URL of the MCP server (mcp).")
    connector_id: McpConnector | None = Field(
        default=None,
        description="A service connector instead of a server URL, e.g. connector_sharepoint (mcp).",
    )
    tunnel_id: IdText | None = Field(
        default=None, description="A Secure MCP Tunnel instead of a server URL (mcp)."
    )
    server_description: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        default=None, description="What the server is for, as context for the model (mcp)."
    )
    require_approval: McpApprovalMode | None = Field(
        default=None, description="Whether tool calls need approval: always or never (mcp)."
    )
    allowed_tools: list[ShortText] | None = Field(
        default=None,
        max_length=128,
        description="Only these tools of the server may be called; all when unset (mcp).",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    defer_loading: bool | None = Field(
        default=None,
        description="Whether the server's tools are discovered through tool search instead "
        "of listed up front (mcp).",
    )
    project_connection_id: IdText | None = Field(
        default=None,
        description="Foundry project connection holding the server's credentials, so that "
        "none appear in Kubernetes at all (mcp).",
    )
    headers: (
        Annotated[
            list[McpHeader],
            Rule(
                "self.all(h, self.filter(g, g.name.lowerAscii() == h.name.lowerAscii())"
                ".size() == 1)",
                "spec.tools[].headers: each header name may appear once",
                check=_headers_unique,
            ),
        ]
        | None
    ) = Field(
        default=None,
        max_length=16,
        description="HTTP headers Foundry sends to the server; values from Secrets for "
        "anything secret (mcp).",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    authorization: SecretValueSource | None = Field(
        default=None,
        description="An OAuth access token for the server, from a Secret (mcp).",
    )


class CodeInterpreterToolboxTool(_ToolboxToolBase):
    """A sandbox the agent writes and runs code in (CodeInterpreterToolboxTool)."""

    type: Literal["code_interpreter"] = Field(description="Tool type.")
    file_ids: list[IdText] | None = Field(
        default=None,
        max_length=64,
        description="Uploaded files to make available to the code (code_interpreter).",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    memory_limit: CodeInterpreterMemory | None = Field(
        default=None, description="Sandbox memory: 1g, 4g, 16g or 64g (code_interpreter)."
    )


class FileSearchToolboxTool(_ToolboxToolBase):
    """Search in Foundry vector stores (FileSearchToolboxTool)."""

    type: Literal["file_search"] = Field(description="Tool type.")
    vector_store_ids: list[ShortText] = Field(
        min_length=1,
        max_length=16,
        description="IDs of the vector stores to search (file_search).",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    max_num_results: int | None = Field(
        default=None, ge=1, le=50, description="Most results to return, 1-50 (file_search)."
    )


class WebSearchToolboxTool(_ToolboxToolBase):
    """Search the web (WebSearchToolboxTool)."""

    type: Literal["web_search"] = Field(description="Tool type.")
    external_web_access: bool | None = Field(
        default=None,
        description="false keeps the search off the live internet; Foundry's default is "
        "true (web_search).",
    )
    search_context_size: SearchContextSize | None = Field(
        default=None,
        description="How much context the results may take: low, medium or high (web_search).",
    )


class SearchIndex(CrdModel):
    """An Azure AI Search index (AISearchIndexResource)."""

    project_connection_id: IdText | None = Field(
        default=None, description="Project connection of the search service."
    )
    index_name: ShortText | None = Field(default=None, description="Name of the index.")
    query_type: SearchQueryType | None = Field(
        default=None,
        description="simple, semantic, vector, vector_simple_hybrid or vector_semantic_hybrid.",
    )
    top_k: int | None = Field(
        default=None, ge=1, le=1000, description="Documents to retrieve for the model."
    )
    filter: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        default=None, description="OData filter applied to the search."
    )
    index_asset_id: IdText | None = Field(
        default=None, description="Index asset id, instead of connection and index name."
    )


class AzureAISearchToolboxTool(_ToolboxToolBase):
    """Search an Azure AI Search index (AzureAISearchToolboxTool)."""

    type: Literal["azure_ai_search"] = Field(description="Tool type.")
    indexes: list[SearchIndex] = Field(
        min_length=1,
        max_length=1,
        description="The index to search; Foundry takes one (azure_ai_search).",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )


# --- openapi ------------------------------------------------------------------------

OPENAPI_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
OPENAPI_DOCUMENT_FIELD: Final = "spec.tools[].openapi.spec"


def openapi_operations(document: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(path, method, operation) of every operation of an OpenAPI document, in order."""
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    paths = document.get("paths")
    for path, item in (paths if isinstance(paths, Mapping) else {}).items():
        if not isinstance(item, Mapping):
            continue
        for method in OPENAPI_METHODS:
            operation = item.get(method)
            if isinstance(operation, Mapping):
                out.append((str(path), method, operation))
    return out


def openapi_document_problem(document: Any) -> str | None:
    """What is wrong with an OpenAPI document for a Foundry OpenAPI tool, None when nothing.

    Each operation becomes a function the model calls by its operationId, so each needs one,
    unique and shaped like a function name. The message names the place in the document."""
    if not isinstance(document, Mapping):
        return "must be an object (an OpenAPI 3 document)"
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        return "openapi must be an OpenAPI 3 version such as '3.0.3' (Swagger 2.0 is not supported)"
    paths = document.get("paths")
    if not isinstance(paths, Mapping) or not paths:
        return "paths must be an object with at least one path"
    seen: set[str] = set()
    for path, item in paths.items():
        if not str(path).startswith("/"):
            return f"paths[{str(path)!r}]: a path must start with '/'"
        if not isinstance(item, Mapping):
            return f"paths[{str(path)!r}] must be an object"
        for method in OPENAPI_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            where = f"paths[{str(path)!r}].{method}"
            if not isinstance(operation, Mapping):
                return f"{where} must be an object"
            operation_id = operation.get("operationId")
            if not isinstance(operation_id, str) or not operation_id:
                return f"{where} needs an operationId (it becomes the function's name)"
            if _FUNCTION_NAME_RE.fullmatch(operation_id) is None:
                return (
                    f"{where}.operationId {operation_id!r} must be 1-64 letters, digits, '_' or '-'"
                )
            if operation_id in seen:
                return f"{where}.operationId {operation_id!r} is used by two operations"
            seen.add(operation_id)
    if not seen:
        return "paths declare no operation (get, post, ...)"
    return None


class OpenApiDocument(CrdModel):
    """An OpenAPI 3 document, inline. Only openapi and paths are checked by the schema; every
    other field (info, servers, components, ...) is kept as written."""

    # The document is the user's, whole: nothing may be pruned or renamed.
    model_config = ConfigDict(extra="allow")

    openapi: Annotated[
        str,
        Field(min_length=1, max_length=16),
        Rule(
            "self.startsWith('3.')",
            "spec.tools[].openapi.spec.openapi must be an OpenAPI 3 version such as '3.0.3'",
            check=lambda v: v.startswith("3."),
        ),
    ] = Field(description="The OpenAPI version of the document, 3.x.")
    paths: dict[str, Any] = Field(
        description="The API's paths; each operation needs an operationId, which becomes "
        "the name of a function the model can call."
    )

    @model_validator(mode="after")
    def _operations(self) -> OpenApiDocument:
        problem = openapi_document_problem(self.document())
        if problem is not None:
            raise PydanticCustomError(
                "openapi_document",
                "{field}: {problem}",
                {"field": OPENAPI_DOCUMENT_FIELD, "problem": problem},
            )
        return self

    def document(self) -> dict[str, Any]:
        """The document as written (its own keys, not the model's aliases)."""
        return {"openapi": self.openapi, "paths": self.paths, **(self.model_extra or {})}


ConfigMapName = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.DNS_SUBDOMAIN}')",
        "spec.tools[].openapi.specFrom.configMapKeyRef.name must be a valid ConfigMap name "
        "(lowercase DNS subdomain)",
        check=lambda v: _DNS_SUBDOMAIN_RE.fullmatch(v) is not None,
    ),
]

ConfigMapKey = Annotated[
    str,
    Field(min_length=1, max_length=253),
    Rule(
        f"self.matches('{patterns.CONFIG_KEY}')",
        "spec.tools[].openapi.specFrom.configMapKeyRef.key must consist of letters, digits, "
        "'-', '_' or '.'",
        check=lambda v: _CONFIG_KEY_RE.fullmatch(v) is not None,
    ),
]


class ConfigMapKeySelector(CrdModel):
    """A key of a ConfigMap in the FoundryToolbox's namespace."""

    name: ConfigMapName = Field(description="Name of the ConfigMap.")
    key: ConfigMapKey = Field(description="Key whose value is the document.")


class OpenApiSpecSource(CrdModel):
    """Where an OpenAPI document comes from when it is not inline."""

    config_map_key_ref: ConfigMapKeySelector = Field(
        description="A ConfigMap key holding the document as JSON or YAML. The operator "
        "reads it at each reconcile: a changed document makes a new toolbox version."
    )


class OpenApiAuthType(StrEnum):
    """How Foundry authenticates to the API (OpenApiAuthType)."""

    ANONYMOUS = "anonymous"
    PROJECT_CONNECTION = "project_connection"
    MANAGED_IDENTITY = "managed_identity"


class OpenApiSecurityScheme(CrdModel):
    """The credentials of project_connection or managed_identity authentication."""

    project_connection_id: IdText | None = Field(
        default=None,
        description="Foundry project connection holding the API's key (project_connection).",
    )
    audience: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        default=None,
        description="Scope of the token the project's managed identity gets for the API, "
        "e.g. api://<app-id> (managed_identity).",
    )


def _auth_consistent(auth: OpenApiAuth) -> bool:
    scheme = auth.security_scheme
    if auth.type is OpenApiAuthType.ANONYMOUS:
        return scheme is None
    if auth.type is OpenApiAuthType.PROJECT_CONNECTION:
        return (
            scheme is not None
            and scheme.project_connection_id is not None
            and (scheme.audience is None)
        )
    return (
        scheme is not None
        and scheme.audience is not None
        and (scheme.project_connection_id is None)
    )


class OpenApiAuth(CrdModel):
    """How Foundry authenticates to the API (OpenApiAuthDetails and its subclasses).
    Credentials stay in Foundry: a project connection, or the project's managed identity."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.type == 'anonymous' ? !has(self.securityScheme) : "
            "self.type == 'project_connection' ? (has(self.securityScheme) && "
            "has(self.securityScheme.projectConnectionId) && "
            "!has(self.securityScheme.audience)) : "
            "(has(self.securityScheme) && has(self.securityScheme.audience) && "
            "!has(self.securityScheme.projectConnectionId))",
            "spec.tools[].openapi.auth: anonymous takes no securityScheme; project_connection "
            "needs securityScheme.projectConnectionId; managed_identity needs "
            "securityScheme.audience",
            check=_auth_consistent,
        ),
    )

    type: OpenApiAuthType = Field(description="anonymous, project_connection or managed_identity.")
    security_scheme: OpenApiSecurityScheme | None = Field(
        default=None,
        description="projectConnectionId (project_connection) or audience (managed_identity).",
    )


class OpenApiFunction(CrdModel):
    """An OpenAPI-described API the model can call (OpenApiFunctionDefinition)."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "has(self.spec) != has(self.specFrom)",
            "spec.tools[].openapi must set exactly one of spec or specFrom",
            check=lambda f: (f.spec is None) != (f.spec_from is None),
        ),
    )

    name: Annotated[
        str,
        Field(min_length=1, max_length=64),
        Rule(
            f"self.matches('{patterns.FUNCTION_NAME}')",
            "spec.tools[].openapi.name must be 1-64 letters, digits, '_' or '-'",
            check=lambda v: _FUNCTION_NAME_RE.fullmatch(v) is not None,
        ),
    ] = Field(description="Name of the API for the model; unique among the openapi tools.")
    description: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        default=None, description="What the API does, so the model knows when to call it."
    )
    spec: OpenApiDocument | None = Field(
        default=None,
        description="The OpenAPI 3 document, inline. Each operation needs a unique "
        "operationId. Set this or specFrom.",
    )
    spec_from: OpenApiSpecSource | None = Field(
        default=None, description="Read the OpenAPI document from a ConfigMap key instead."
    )
    auth: OpenApiAuth = Field(description="How Foundry authenticates to the API.")
    default_params: list[ShortText] | None = Field(
        default=None,
        max_length=64,
        description="Parameters of the document that take the defaults it declares instead "
        "of values from the model.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )


class OpenApiToolboxTool(_ToolboxToolBase):
    """An API described by an OpenAPI document (OpenApiToolboxTool)."""

    type: Literal["openapi"] = Field(description="Tool type.")
    openapi: OpenApiFunction = Field(description="The API and how to call it (openapi).")


ToolboxTool = Annotated[
    McpToolboxTool
    | CodeInterpreterToolboxTool
    | FileSearchToolboxTool
    | WebSearchToolboxTool
    | AzureAISearchToolboxTool
    | OpenApiToolboxTool,
    Field(discriminator="type"),
]


def _labels_unique(tools: list[ToolboxTool]) -> bool:
    labels = [t.server_label for t in tools if isinstance(t, McpToolboxTool)]
    return len(labels) == len(set(labels))


def _openapi_names_unique(tools: list[ToolboxTool]) -> bool:
    names = [t.openapi.name for t in tools if isinstance(t, OpenApiToolboxTool)]
    return len(names) == len(set(names))


class DeletionPolicy(StrEnum):
    """What happens in Foundry when the FoundryToolbox is deleted."""

    DELETE = "Delete"
    RETAIN = "Retain"


class ToolboxManagementPolicy(StrEnum):
    """How far the operator acts on the Foundry toolbox (HostedAgent's ObserveOnly has no
    toolbox counterpart yet)."""

    MANAGE = "Manage"
    PAUSED = "Paused"


ToolboxMetadata = Annotated[
    dict[str, Annotated[str, Field(max_length=METADATA_VALUE_MAX_LENGTH)]],
    Field(max_length=TOOLBOX_USER_METADATA_MAX_PAIRS),
    Rule(
        f"self.all(k, size(k) >= 1 && size(k) <= {METADATA_KEY_MAX_LENGTH})",
        f"spec.metadata keys must be 1-{METADATA_KEY_MAX_LENGTH} characters",
        check=lambda m: all(0 < len(k) <= METADATA_KEY_MAX_LENGTH for k in m),
    ),
    Rule(
        f"self.all(k, !k.startsWith('{RESERVED_METADATA_PREFIX}'))",
        f"spec.metadata keys starting with '{RESERVED_METADATA_PREFIX}' are reserved for the "
        "operator",
        check=lambda m: not any(k.startswith(RESERVED_METADATA_PREFIX) for k in m),
    ),
]


class FoundryToolboxSpec(CrdModel):
    """Desired state of a Microsoft Foundry toolbox.

    Each distinct set of tools, description and metadata (with the Secret values it reads)
    becomes one immutable Foundry toolbox version, which the operator makes the toolbox's
    default version. HostedAgents use it with spec.toolbox.name; each of their versions is
    pinned to the toolbox version that was current when it was made.
    """

    toolbox_name: ToolboxName | None = Field(
        default=None,
        description="Name of the toolbox in Foundry. Defaults to metadata.name. Immutable. "
        "1-63 letters, digits, '-' or '_', starting and ending with a letter or digit.",
    )
    description: Annotated[str, Field(max_length=512)] | None = Field(
        default=None, description="Human-readable description of the toolbox, shown in Foundry."
    )
    tools: Annotated[
        list[ToolboxTool],
        Rule(
            "self.all(t, t.type != 'mcp' || self.filter(u, u.type == 'mcp' && "
            "u.serverLabel == t.serverLabel).size() == 1)",
            "spec.tools: each mcp tool needs a distinct serverLabel",
            check=_labels_unique,
        ),
        Rule(
            "self.all(t, t.type != 'openapi' || self.filter(u, u.type == 'openapi' && "
            "u.openapi.name == t.openapi.name).size() == 1)",
            "spec.tools: each openapi tool needs a distinct openapi.name",
            check=_openapi_names_unique,
        ),
    ] = Field(
        min_length=1,
        max_length=MAX_TOOLBOX_TOOLS,
        description="The tools, in the terms of the SDK's toolbox tool models: mcp, "
        "code_interpreter, file_search, web_search, azure_ai_search or openapi.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    metadata: ToolboxMetadata = Field(
        default_factory=dict,
        description=f"Key-value pairs stored on every toolbox version (at most "
        f"{TOOLBOX_USER_METADATA_MAX_PAIRS} pairs, keys up to {METADATA_KEY_MAX_LENGTH} and "
        f"values up to {METADATA_VALUE_MAX_LENGTH} characters). Keys starting with "
        f"'{RESERVED_METADATA_PREFIX}' are reserved for the operator.",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete (default): deleting the FoundryToolbox deletes the toolbox "
        "versions it created in Foundry, once no HostedAgent uses it (until then it waits "
        "with reason ToolboxInUse). Retain: they are left in Foundry.",
    )
    management_policy: ToolboxManagementPolicy = Field(
        default=ToolboxManagementPolicy.MANAGE,
        description="Manage (default): the operator creates, sets the default version of, "
        "prunes and deletes the toolbox as the spec says. Paused: no Foundry call at all; "
        "condition Paused is True and status keeps what it said; deleting the "
        "FoundryToolbox still works, following deletionPolicy.",
    )
    revision_history_limit: int = Field(
        default=3,
        ge=0,
        le=TOOLBOX_REVISION_HISTORY_MAX,
        description="How many older toolbox versions created by this FoundryToolbox to keep "
        "besides the current one (agent versions made earlier stay pinned to them). "
        "Default 3.",
    )


def resolve_toolbox_name(spec: FoundryToolboxSpec, metadata_name: str) -> str:
    """The Foundry toolbox name: ``spec.toolboxName``, else ``metadata.name`` (recorded in
    ``status.toolboxName``). Raises ValueError when that is no valid toolbox name."""
    name = spec.toolbox_name if spec.toolbox_name is not None else metadata_name
    if not is_valid_toolbox_name(name):
        raise ValueError(
            f"metadata.name {name!r} is not a valid Foundry toolbox name "
            f"({TOOLBOX_NAME_MESSAGE}); set spec.toolboxName"
        )
    return name


# --- status ----------------------------------------------------------------------------


class ToolboxVersionRecord(CrdModel):
    """A Foundry toolbox version created by this FoundryToolbox."""

    version: str = Field(max_length=64, description="Foundry version identifier.")
    spec_hash: str = Field(max_length=64, description="Spec hash the version was created from.")


class FoundryToolboxStatus(CrdModel):
    """Observed state of the toolbox, written by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the operator last acted on."
    )
    toolbox_name: str | None = Field(
        default=None,
        max_length=63,
        description="The Foundry toolbox name in use (spec.toolboxName or metadata.name).",
    )
    phase: Phase | None = Field(
        default=None, description="Pending, Provisioning, Ready, Failed or Deleting."
    )
    current_version: str | None = Field(
        default=None,
        max_length=64,
        description="The toolbox version made from the current spec and set as Foundry's "
        "default version: the one HostedAgents are pinned to from now on.",
    )
    mcp_endpoint: str | None = Field(
        default=None,
        max_length=2048,
        description="The MCP endpoint of currentVersion, as HostedAgents get it in their "
        "environment.",
    )
    spec_hash: str | None = Field(
        default=None,
        max_length=64,
        description="Hash of the current spec (Secret values enter only as digests).",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready, Progressing and Degraded, following Kubernetes conventions; "
        "Paused while spec.managementPolicy is Paused.",
        json_schema_extra=k8s_extra(list_type="map", list_map_keys=["type"]),
    )
    last_error: LastError | None = Field(
        default=None, description="The most recent error, with a remediation."
    )
    versions: list[ToolboxVersionRecord] = Field(
        default_factory=list,
        max_length=20,
        description="Recent versions created by this FoundryToolbox, newest first.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
