"""Toolboxes, decided: the version a spec asks for, its hash, and the next step. Pure.

A Foundry toolbox version is immutable and, unlike an agent version, has no lifecycle: it
is usable the moment ``create_version`` answers. So the steps are few: create a version for
a spec hash that has none, make it the toolbox's default version, prune what retention lets
go, and otherwise do nothing. Ownership works as for agents (``plan.py``): reserved
metadata on each version names its owner, and a toolbox holding any version that is not
ours is a conflict, touched by nothing.

Two kinds of owner share this: a FoundryToolbox, and a HostedAgent whose inline
``spec.tools`` (the preview-era shorthand) become a toolbox of its own. The owner's kind is
part of ownership (``k8s-kind``), since both may be called ``namespace/name``.

Tools go on the wire exactly as azure-ai-projects 2.10 serialises its ``*ToolboxTool``
models; a unit test checks that against the SDK. Secret values (an MCP server's OAuth token,
header values) come in resolved, are sent, and enter the hash only as digests. An OpenAPI
tool's document read from a ConfigMap comes in as text, is parsed and checked here, and
enters the hash whole (it is no secret), so an edited ConfigMap is a new version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import quote

import yaml

from ..api.reserved import METADATA_KIND, METADATA_REF, is_managed, is_toolbox_owned_by
from ..api.reserved import spec_hash_of as _recorded_hash
from ..api.spec import CodeInterpreterTool, FileSearchTool, McpTool, Tool
from ..api.status import Condition, LastError, Phase
from ..api.toolbox import (
    AzureAISearchToolboxTool,
    CodeInterpreterToolboxTool,
    ConfigMapKeySelector,
    FileSearchToolboxTool,
    FoundryToolboxStatus,
    McpApprovalMode,
    McpToolboxTool,
    OpenApiAuthType,
    OpenApiToolboxTool,
    SecretKeySelector,
    ToolboxTool,
    ToolboxVersionRecord,
    WebSearchToolboxTool,
    openapi_document_problem,
)
from .conditions import StateReason, apply_phase
from .desired import env_digest
from .errors import Failure

JSON = dict[str, Any]

TOOLBOX_HASH_SCHEMA: Final = 1
SPEC_HASH_LENGTH: Final = 20
KIND_TOOLBOX: Final = "FoundryToolbox"
KIND_AGENT: Final = "HostedAgent"
INLINE_SUFFIX: Final = "-tools"
STATUS_TOOLBOX_HISTORY_MAX: Final = 20

# (Secret name, key) -> value.
SecretValues = Mapping[tuple[str, str], str]
# (ConfigMap name, key) -> the OpenAPI document it holds, parsed.
Documents = Mapping[tuple[str, str], JSON]


class MissingSecretValue(ValueError):
    """A referenced Secret key has no resolved value (the kube layer reports it first)."""


class InvalidOpenApiDocument(ValueError):
    """A ConfigMap's OpenAPI document cannot be used; the message names the field."""


# --- the MCP endpoint -------------------------------------------------------------------


def mcp_url(endpoint: str, toolbox: str, version: str, api_version: str = "v1") -> str:
    """Where a hosted agent reaches one toolbox version over MCP (the SDK samples' form)."""
    base = endpoint.rstrip("/")
    return (
        f"{base}/toolboxes/{quote(toolbox, safe='')}/versions/{quote(version, safe='')}/mcp"
        f"?api-version={quote(api_version, safe='')}"
    )


def inline_toolbox_name(agent: str) -> str:
    """The Foundry toolbox of a HostedAgent's inline ``spec.tools``: ``{agent}-tools``,
    the agent name shortened so that the whole stays within 63 characters."""
    return agent[: 63 - len(INLINE_SUFFIX)] + INLINE_SUFFIX


# --- the preview tools as toolbox tools ------------------------------------------------


def from_preview_tools(tools: Sequence[Tool]) -> list[ToolboxTool]:
    """HostedAgent ``spec.tools`` (the original hosted-agent API's shapes) as the GA
    toolbox tools they correspond to."""
    out: list[ToolboxTool] = []
    for tool in tools:
        if isinstance(tool, CodeInterpreterTool):
            out.append(CodeInterpreterToolboxTool(type="code_interpreter"))
        elif isinstance(tool, FileSearchTool):
            out.append(
                FileSearchToolboxTool(
                    type="file_search",
                    vector_store_ids=list(tool.vector_store_ids),
                    max_num_results=tool.max_num_results,
                )
            )
        elif isinstance(tool, McpTool):
            out.append(
                McpToolboxTool(
                    type="mcp",
                    server_label=tool.server_label,
                    server_url=tool.server_url,
                    require_approval=(
                        McpApprovalMode(str(tool.require_approval))
                        if tool.require_approval is not None
                        else None
                    ),
                    allowed_tools=list(tool.allowed_tools)
                    if tool.allowed_tools is not None
                    else None,
                    project_connection_id=tool.project_connection_id,
                )
            )
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown tool {tool!r}")
    return out


# --- the wire form -----------------------------------------------------------------------


def secret_keys(tools: Sequence[ToolboxTool]) -> list[SecretKeySelector]:
    """Every Secret key the tools read, in order, without repeats."""
    found: dict[tuple[str, str], SecretKeySelector] = {}
    for tool in tools:
        if not isinstance(tool, McpToolboxTool):
            continue
        if tool.authorization is not None:
            ref = tool.authorization.secret_key_ref
            found.setdefault((ref.name, ref.key), ref)
        for header in tool.headers or []:
            if header.value_from is not None:
                ref = header.value_from.secret_key_ref
                found.setdefault((ref.name, ref.key), ref)
    return list(found.values())


def config_map_keys(tools: Sequence[ToolboxTool]) -> list[ConfigMapKeySelector]:
    """Every ConfigMap key the tools read their OpenAPI document from, in order, once."""
    found: dict[tuple[str, str], ConfigMapKeySelector] = {}
    for tool in tools:
        if isinstance(tool, OpenApiToolboxTool) and tool.openapi.spec_from is not None:
            ref = tool.openapi.spec_from.config_map_key_ref
            found.setdefault((ref.name, ref.key), ref)
    return list(found.values())


class _DocumentLoader(yaml.SafeLoader):
    """YAML as JSON sees it: a date stays the string it was written as."""


_DocumentLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_openapi_text(text: str) -> JSON:
    """An OpenAPI document written as JSON or YAML, as JSON. Raises ValueError."""
    try:
        loaded = yaml.load(text, Loader=_DocumentLoader)  # a SafeLoader: no tags that build objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"not JSON or YAML{where}") from None
    try:
        # Through JSON once: YAML's integer keys (response codes) become the strings JSON
        # has, and anything JSON cannot hold is refused here rather than when hashing.
        document = json.loads(json.dumps(loaded))
    except (TypeError, ValueError):
        raise ValueError("holds values that JSON cannot represent") from None
    problem = openapi_document_problem(document)
    if problem is not None:
        raise ValueError(problem)
    return dict(document)


def openapi_documents(
    tools: Sequence[ToolboxTool], texts: SecretValues
) -> dict[tuple[str, str], JSON]:
    """The documents of the tools' ConfigMap keys, parsed. Raises InvalidOpenApiDocument
    naming the first tool whose document is unusable."""
    out: dict[tuple[str, str], JSON] = {}
    for index, tool in enumerate(tools):
        if not isinstance(tool, OpenApiToolboxTool) or tool.openapi.spec_from is None:
            continue
        ref = tool.openapi.spec_from.config_map_key_ref
        if (ref.name, ref.key) in out:
            continue
        text = texts.get((ref.name, ref.key))
        if text is None:
            raise InvalidOpenApiDocument(
                f"spec.tools[{index}].openapi.specFrom: no value read from ConfigMap "
                f"{ref.name!r} key {ref.key!r}"
            )
        try:
            out[(ref.name, ref.key)] = parse_openapi_text(text)
        except ValueError as exc:
            raise InvalidOpenApiDocument(
                f"spec.tools[{index}].openapi.specFrom: the document in ConfigMap "
                f"{ref.name!r} key {ref.key!r}: {exc}"
            ) from None
    return out


def _openapi_wire(tool: OpenApiToolboxTool, documents: Documents) -> JSON:
    function = tool.openapi
    if function.spec is not None:
        document = function.spec.document()
    else:
        assert function.spec_from is not None  # the model's rule: exactly one of them
        ref = function.spec_from.config_map_key_ref
        if (ref.name, ref.key) not in documents:
            raise InvalidOpenApiDocument(
                f"no document read from ConfigMap {ref.name!r} key {ref.key!r}"
            )
        document = documents[(ref.name, ref.key)]
    auth: JSON = {"type": function.auth.type.value}
    scheme = function.auth.security_scheme
    if function.auth.type is OpenApiAuthType.PROJECT_CONNECTION and scheme is not None:
        auth["security_scheme"] = {"project_connection_id": scheme.project_connection_id}
    elif function.auth.type is OpenApiAuthType.MANAGED_IDENTITY and scheme is not None:
        auth["security_scheme"] = {"audience": scheme.audience}
    out: JSON = {"name": function.name}
    _set(out, "description", function.description)
    out["spec"] = document
    out["auth"] = auth
    _set(out, "default_params", function.default_params)
    return out


def _secret(ref: SecretKeySelector, values: SecretValues, digest: bool) -> str:
    value = values.get((ref.name, ref.key))
    if value is None:
        raise MissingSecretValue(f"no value resolved for Secret {ref.name!r} key {ref.key!r}")
    return env_digest(value) if digest else value


def _common(tool: ToolboxTool) -> JSON:
    out: JSON = {"type": tool.type}
    if tool.name is not None:
        out["name"] = tool.name
    if tool.description is not None:
        out["description"] = tool.description
    return out


def _set(out: JSON, key: str, value: Any) -> None:
    if value is not None:
        out[key] = [str(v) for v in value] if isinstance(value, list) else value


def tool_wire(
    tool: ToolboxTool,
    values: SecretValues,
    *,
    digest: bool = False,
    documents: Documents | None = None,
) -> JSON:
    """One tool as the SDK serialises it; ``digest`` puts digests where secrets go.
    ``documents`` holds the OpenAPI documents read from ConfigMaps."""
    out = _common(tool)
    if isinstance(tool, McpToolboxTool):
        out["server_label"] = tool.server_label
        _set(out, "server_url", tool.server_url)
        _set(out, "connector_id", tool.connector_id.value if tool.connector_id else None)
        _set(out, "tunnel_id", tool.tunnel_id)
        _set(out, "server_description", tool.server_description)
        _set(
            out, "require_approval", tool.require_approval.value if tool.require_approval else None
        )
        _set(out, "allowed_tools", tool.allowed_tools)
        _set(out, "defer_loading", tool.defer_loading)
        _set(out, "project_connection_id", tool.project_connection_id)
        if tool.headers:
            headers: dict[str, str] = {}
            for header in tool.headers:
                if header.value is not None:
                    headers[header.name] = header.value
                elif header.value_from is not None:
                    headers[header.name] = _secret(header.value_from.secret_key_ref, values, digest)
            out["headers"] = headers
        if tool.authorization is not None:
            out["authorization"] = _secret(tool.authorization.secret_key_ref, values, digest)
    elif isinstance(tool, CodeInterpreterToolboxTool):
        if tool.file_ids is not None or tool.memory_limit is not None:
            container: JSON = {"type": "auto"}
            _set(container, "file_ids", tool.file_ids)
            _set(container, "memory_limit", tool.memory_limit.value if tool.memory_limit else None)
            out["container"] = container
    elif isinstance(tool, FileSearchToolboxTool):
        out["vector_store_ids"] = list(tool.vector_store_ids)
        _set(out, "max_num_results", tool.max_num_results)
    elif isinstance(tool, WebSearchToolboxTool):
        _set(out, "external_web_access", tool.external_web_access)
        _set(
            out,
            "search_context_size",
            tool.search_context_size.value if tool.search_context_size else None,
        )
    elif isinstance(tool, AzureAISearchToolboxTool):
        indexes: list[JSON] = []
        for index in tool.indexes:
            item: JSON = {}
            _set(item, "project_connection_id", index.project_connection_id)
            _set(item, "index_name", index.index_name)
            _set(item, "query_type", index.query_type.value if index.query_type else None)
            _set(item, "top_k", index.top_k)
            _set(item, "filter", index.filter)
            _set(item, "index_asset_id", index.index_asset_id)
            indexes.append(item)
        out["azure_ai_search"] = {"indexes": indexes}
    elif isinstance(tool, OpenApiToolboxTool):
        out["openapi"] = _openapi_wire(tool, documents or {})
    return out


# --- the version a spec asks for --------------------------------------------------------


@dataclass(frozen=True)
class DesiredToolbox:
    """The toolbox version a spec asks for. ``tools`` holds secret values: never log it."""

    tools: list[JSON]
    description: str | None
    metadata: dict[str, str]
    spec_hash: str


def toolbox_hash(
    hashed_tools: Sequence[Mapping[str, Any]],
    *,
    description: str | None,
    metadata: Mapping[str, str],
    retry_token: str | None = None,
) -> str:
    document: dict[str, Any] = {
        "schema": TOOLBOX_HASH_SCHEMA,
        "tools": list(hashed_tools),
        "description": description or "",
        "metadata": dict(metadata),
    }
    if retry_token:
        document["retry"] = retry_token
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:SPEC_HASH_LENGTH]


def desired_toolbox(
    tools: Sequence[ToolboxTool],
    values: SecretValues | None = None,
    *,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    retry_token: str | None = None,
    documents: Documents | None = None,
) -> DesiredToolbox:
    """The toolbox version for ``tools``. The order of the tools is kept (it is the order
    the model sees them in); a different order is a different version."""
    resolved = values or {}
    docs = documents or {}
    wire = [tool_wire(t, resolved, documents=docs) for t in tools]
    hashed = [tool_wire(t, resolved, digest=True, documents=docs) for t in tools]
    meta = dict(metadata or {})
    return DesiredToolbox(
        tools=wire,
        description=description,
        metadata=meta,
        spec_hash=toolbox_hash(
            hashed, description=description, metadata=meta, retry_token=retry_token
        ),
    )


def create_toolbox_body(desired: DesiredToolbox, reserved: Mapping[str, str]) -> JSON:
    """The JSON body of ``POST /toolboxes/{name}/versions``."""
    body: JSON = {"tools": desired.tools, "metadata": {**desired.metadata, **reserved}}
    if desired.description:
        body["description"] = desired.description
    return body


# --- what Foundry holds, and the plan -------------------------------------------------


@dataclass(frozen=True)
class ToolboxVersionInfo:
    name: str
    version: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    created_at: int = 0

    @property
    def number(self) -> int:
        return int(self.version) if self.version.isdigit() else -1


@dataclass(frozen=True)
class ToolboxInfo:
    name: str
    default_version: str | None
    latest: ToolboxVersionInfo | None = None


class ToolboxAction(StrEnum):
    CREATE = "Create"  # no version for the current spec yet
    SET_DEFAULT = "SetDefault"  # it exists; make it the toolbox's default version
    READY = "Ready"  # it exists and is the default: nothing to do (but retention)
    CONFLICT = "Conflict"  # the toolbox holds versions that are not ours


@dataclass(frozen=True)
class ToolboxPlan:
    action: ToolboxAction
    target: ToolboxVersionInfo | None = None
    prune: tuple[str, ...] = ()
    ours: tuple[ToolboxVersionInfo, ...] = ()
    # For CONFLICT: who holds it ("Kind namespace/name"), None when made outside Kubernetes.
    owner: str | None = None
    foreign_version: str | None = None


def owned_toolbox_versions(
    owner: str, kind: str, versions: Sequence[ToolboxVersionInfo]
) -> list[ToolboxVersionInfo]:
    """Versions ``kind`` ``owner`` created, oldest first."""
    return sorted(
        (v for v in versions if is_toolbox_owned_by(v.metadata, owner, kind)),
        key=lambda v: v.number,
    )


def plan_toolbox(
    *,
    owner: str,
    kind: str,
    spec_hash: str,
    versions: Sequence[ToolboxVersionInfo],
    info: ToolboxInfo | None,
    revision_history_limit: int,
) -> ToolboxPlan:
    foreign = sorted(
        (v for v in versions if not is_toolbox_owned_by(v.metadata, owner, kind)),
        key=lambda v: v.number,
    )
    if foreign:
        last = foreign[-1]
        other: str | None = None
        if is_managed(last.metadata):
            kind_of = last.metadata.get(METADATA_KIND, KIND_TOOLBOX)
            other = f"{kind_of} {last.metadata.get(METADATA_REF)}"
        return ToolboxPlan(ToolboxAction.CONFLICT, owner=other, foreign_version=last.version)
    ours = owned_toolbox_versions(owner, kind, versions)
    matching = [v for v in ours if _recorded_hash(v.metadata) == spec_hash]
    if not matching:
        return ToolboxPlan(ToolboxAction.CREATE, ours=tuple(ours))
    target = matching[-1]
    default = info.default_version if info is not None else None
    if default != target.version:
        return ToolboxPlan(ToolboxAction.SET_DEFAULT, target, ours=tuple(ours))
    older = [v for v in ours if v.version != target.version]
    excess = len(older) - revision_history_limit
    prune = tuple(v.version for v in older[:excess]) if excess > 0 else ()
    return ToolboxPlan(ToolboxAction.READY, target, prune=prune, ours=tuple(ours))


def decisive_latest_toolbox(
    owner: str, kind: str, spec_hash: str, info: ToolboxInfo | None
) -> ToolboxVersionInfo | None:
    """The toolbox's latest version when it alone settles the plan: ours, made from the
    current spec, and the default. Anything foreign would be newer (we never create next to
    foreign versions), so a look at a settled toolbox is one read."""
    latest = info.latest if info is not None else None
    if latest is None or info is None or info.default_version != latest.version:
        return None
    if not is_toolbox_owned_by(latest.metadata, owner, kind):
        return None
    return latest if _recorded_hash(latest.metadata) == spec_hash else None


def conflict_message(name: str, plan: ToolboxPlan) -> str:
    if plan.owner:
        return f"Foundry toolbox {name!r} is managed by {plan.owner}"
    return (
        f"Foundry toolbox {name!r} exists outside Kubernetes (version {plan.foreign_version} "
        "was not created by this operator); nothing there was changed"
    )


# --- the FoundryToolbox's status ---------------------------------------------------------


@dataclass(frozen=True)
class ToolboxReport:
    phase: Phase
    toolbox_name: str
    spec_hash: str | None = None
    failure: Failure | None = None
    reason: StateReason | None = None
    message: str = ""
    current: str | None = None
    mcp_endpoint: str | None = None
    ours: Sequence[ToolboxVersionInfo] | None = None


def load_toolbox_status(raw: Mapping[str, Any] | None) -> FoundryToolboxStatus:
    try:
        return FoundryToolboxStatus.model_validate(dict(raw or {}))
    except ValueError:
        return FoundryToolboxStatus()


def build_toolbox_status(
    previous: FoundryToolboxStatus,
    report: ToolboxReport,
    *,
    generation: int | None,
    now: datetime,
) -> FoundryToolboxStatus:
    """The status for ``report``; what this look did not learn stays as it was (so the
    current version stays known while a new spec fails)."""
    failure = report.failure
    message = report.message
    if failure:
        message = f"{failure.message.rstrip('. ')}; {message}" if message else failure.message
    conditions: list[Condition] = apply_phase(
        previous.conditions,
        report.phase,
        generation=generation,
        now=now.astimezone(UTC),
        reason=failure.reason if failure else report.reason,
        message=message,
    )
    history = (
        [
            ToolboxVersionRecord(version=v.version, spec_hash=_recorded_hash(v.metadata) or "")
            for v in sorted(report.ours, key=lambda v: v.number, reverse=True)
        ][:STATUS_TOOLBOX_HISTORY_MAX]
        if report.ours is not None
        else previous.versions
    )
    return FoundryToolboxStatus(
        observed_generation=generation,
        toolbox_name=report.toolbox_name,
        phase=report.phase,
        current_version=report.current or previous.current_version,
        mcp_endpoint=report.mcp_endpoint or previous.mcp_endpoint,
        spec_hash=report.spec_hash or previous.spec_hash,
        conditions=conditions,
        last_error=(
            LastError(code=failure.code, message=failure.message, remediation=failure.remediation)
            if failure
            else None
        ),
        versions=history,
    )
