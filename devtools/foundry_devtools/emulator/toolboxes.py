"""Foundry toolboxes: versions, the default version, and each version's MCP endpoint.

The wire follows azure-ai-projects 2.10's ``client.toolboxes`` (``ToolboxObject``,
``ToolboxVersionObject``, ``UpdateToolboxRequest``): ``POST /toolboxes/{name}/versions``
creates a version (and the toolbox with its first), ``PATCH /toolboxes/{name}`` with
``{"default_version"}`` moves the default, deletes answer 204. Versions are immutable and
have no lifecycle (usable at once); numbers count up from 1 and are never reused.

Behaviour chosen where the service is UNCONFIRMED (docs/emulator.md, "Toolboxes"):
- the default version follows the latest until a PATCH sets it, then stays there;
- deleting the default version is allowed and the default falls back to the latest;
- deleting the last version deletes the toolbox;
- each version's MCP endpoint lists one MCP tool per toolbox tool (an ``mcp`` tool with
  ``allowed_tools`` gives one per allowed name, ``{server_label}.{tool}``; an ``openapi``
  tool gives one per operation, ``{openapi.name}.{operationId}``), and ``tools/call``
  answers ``isError`` (the emulator reaches no real tool).

Like state.py, every method is synchronous and runs on the event loop thread: each call is
atomic, which is what keeps concurrent creates gap-free.
"""

from __future__ import annotations

import copy
import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from .config import LimitSettings
from .errors import ApiError, invalid, not_found
from .paging import Page, PageQuery, paginate
from .validation import require_object, validate_metadata

TOOLBOX_TOOL_TYPES: Final = frozenset(
    {
        "code_interpreter",
        "file_search",
        "web_search",
        "mcp",
        "azure_ai_search",
        "openapi",
        "a2a_preview",
        "browser_automation_preview",
        "reminder_preview",
        "work_iq_preview",
        "fabric_iq_preview",
        "toolbox_search",
        "toolbox_search_preview",
        "a2a",
        "shell",
        "web_iq_preview",
        "browser_automation",
    }
)
MCP_CONNECTORS: Final = frozenset(
    {
        "connector_dropbox",
        "connector_gmail",
        "connector_googlecalendar",
        "connector_googledrive",
        "connector_microsoftteams",
        "connector_outlookcalendar",
        "connector_outlookemail",
        "connector_sharepoint",
    }
)
MAX_TOOLS_PER_VERSION: Final = 128

_TOOLBOX_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$")
_SERVER_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")

# MCP (modelcontextprotocol.io, "Basic" and "Transports"): the handshake revisions served,
# newest last; an initialize asking for another gets the newest, as the spec says.
MCP_PROTOCOL_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
JSONRPC_PARSE_ERROR: Final = -32700
JSONRPC_INVALID_REQUEST: Final = -32600
JSONRPC_METHOD_NOT_FOUND: Final = -32601
JSONRPC_INVALID_PARAMS: Final = -32602


@dataclass
class ToolboxVersion:
    number: int
    created_at: int
    tools: list[dict[str, Any]]
    metadata: dict[str, str]
    description: str | None
    skills: list[dict[str, Any]] | None = None
    policies: dict[str, Any] | None = None


@dataclass
class Toolbox:
    name: str
    seq: int
    created_at: int
    updated_at: int
    next_version: int = 1
    versions: dict[int, ToolboxVersion] = field(default_factory=dict)
    # Set by PATCH default_version; None: the default follows the latest.
    pinned_default: int | None = None

    def latest(self) -> ToolboxVersion | None:
        return self.versions[max(self.versions)] if self.versions else None

    def default(self) -> ToolboxVersion | None:
        if self.pinned_default is not None and self.pinned_default in self.versions:
            return self.versions[self.pinned_default]
        return self.latest()


# --- validation ----------------------------------------------------------------------


def validate_toolbox_name(name: str) -> None:
    if not _TOOLBOX_NAME.match(name):
        raise invalid(
            f"Invalid toolbox name '{name}': use letters, digits, '_', '-' or '.', starting "
            "and ending with a letter or digit (at most 128 characters).",
            param="name",
        )


def _string(value: Any, param: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise invalid(f"'{param}' is required.", param=param)
        return None
    if not isinstance(value, str) or not value:
        raise invalid(f"'{param}' must be a non-empty string.", param=param)
    return value


def _strings(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid(f"'{param}' must be a list of non-empty strings.", param=param)


def _validate_mcp(tool: dict[str, Any], param: str) -> None:
    label = _string(tool.get("server_label"), f"{param}.server_label", required=True)
    assert label is not None
    if not _SERVER_LABEL.match(label):
        raise invalid(
            f"server_label '{label}' may contain only letters, digits, '_' and '-'.",
            param=f"{param}.server_label",
        )
    targets = [k for k in ("server_url", "connector_id", "tunnel_id") if tool.get(k) is not None]
    if len(targets) != 1:
        raise invalid(
            "An mcp tool needs exactly one of server_url, connector_id or tunnel_id.",
            param=f"{param}.server_url",
        )
    url = tool.get("server_url")
    if url is not None:
        parts = urlsplit(str(url)) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(f"server_url {url!r} is not an http(s) URL.", param=f"{param}.server_url")
    connector = tool.get("connector_id")
    if connector is not None and connector not in MCP_CONNECTORS:
        raise invalid(f"Unknown connector_id {connector!r}.", param=f"{param}.connector_id")
    approval = tool.get("require_approval")
    if (
        approval is not None
        and approval not in ("always", "never")
        and not isinstance(approval, dict)
    ):
        raise invalid(
            "require_approval must be 'always', 'never' or an object.",
            param=f"{param}.require_approval",
        )
    headers = tool.get("headers")
    well_formed = isinstance(headers, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    )
    if headers is not None and not well_formed:
        raise invalid("headers must map names to string values.", param=f"{param}.headers")
    _string(tool.get("authorization"), f"{param}.authorization")
    allowed = tool.get("allowed_tools")
    if allowed is not None and not isinstance(allowed, dict):
        _strings(allowed, f"{param}.allowed_tools")


OPENAPI_AUTH_TYPES: Final = frozenset({"anonymous", "project_connection", "managed_identity"})
OPENAPI_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def openapi_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of each operation of a validated OpenAPI document."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in dict(document.get("paths") or {}).items():
        for method in OPENAPI_METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if isinstance(operation, dict):
                out.append((str(path), method, operation))
    return out


def _validate_openapi(tool: dict[str, Any], param: str) -> None:
    """OpenApiToolboxTool: ``openapi`` is an OpenApiFunctionDefinition whose ``spec`` is an
    OpenAPI 3 document; each operation needs an operationId (it names the function)."""
    where = f"{param}.openapi"
    function = require_object(tool.get("openapi"), where)
    name = _string(function.get("name"), f"{where}.name", required=True)
    if name is not None and not _FUNCTION_NAME.match(name):
        raise invalid(
            f"openapi.name '{name}' must be 1-64 letters, digits, '_' or '-'.",
            param=f"{where}.name",
        )
    _string(function.get("description"), f"{where}.description")
    _strings(function.get("default_params"), f"{where}.default_params")
    auth = require_object(function.get("auth"), f"{where}.auth")
    kind = auth.get("type")
    if kind not in OPENAPI_AUTH_TYPES:
        raise invalid(
            f"openapi.auth.type must be one of {', '.join(sorted(OPENAPI_AUTH_TYPES))}.",
            param=f"{where}.auth.type",
        )
    if kind == "project_connection":
        scheme = require_object(auth.get("security_scheme"), f"{where}.auth.security_scheme")
        _string(
            scheme.get("project_connection_id"),
            f"{where}.auth.security_scheme.project_connection_id",
            required=True,
        )
    elif kind == "managed_identity":
        scheme = require_object(auth.get("security_scheme"), f"{where}.auth.security_scheme")
        _string(scheme.get("audience"), f"{where}.auth.security_scheme.audience", required=True)
    document = require_object(function.get("spec"), f"{where}.spec")
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise invalid(
            "openapi.spec must be an OpenAPI 3 document ('openapi': '3.x').",
            param=f"{where}.spec.openapi",
        )
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise invalid("openapi.spec.paths must be a non-empty object.", param=f"{where}.spec.paths")
    seen: set[str] = set()
    for path, item in paths.items():
        if not isinstance(item, dict):
            raise invalid(f"Path '{path}' must be an object.", param=f"{where}.spec.paths")
        for method in OPENAPI_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            at = f"{where}.spec.paths['{path}'].{method}"
            operation_id = operation.get("operationId") if isinstance(operation, dict) else None
            if not isinstance(operation_id, str) or not _FUNCTION_NAME.match(operation_id):
                raise invalid(
                    f"Operation {method.upper()} {path} needs an operationId of 1-64 letters, "
                    "digits, '_' or '-'.",
                    param=f"{at}.operationId",
                )
            if operation_id in seen:
                raise invalid(
                    f"operationId '{operation_id}' is used by two operations.",
                    param=f"{at}.operationId",
                )
            seen.add(operation_id)
    if not seen:
        raise invalid("openapi.spec declares no operation.", param=f"{where}.spec.paths")


def _validate_tool(tool: Any, param: str) -> None:
    item = require_object(tool, param)
    kind = item.get("type")
    if kind not in TOOLBOX_TOOL_TYPES:
        raise invalid(
            f"Unknown toolbox tool type {kind!r}; known: {', '.join(sorted(TOOLBOX_TOOL_TYPES))}.",
            param=f"{param}.type",
        )
    _string(item.get("name"), f"{param}.name")
    _string(item.get("description"), f"{param}.description")
    if kind == "mcp":
        _validate_mcp(item, param)
    elif kind == "file_search":
        _strings(item.get("vector_store_ids"), f"{param}.vector_store_ids")
        results = item.get("max_num_results")
        if results is not None and (
            isinstance(results, bool) or not isinstance(results, int) or not 1 <= results <= 50
        ):
            raise invalid(
                "max_num_results must be an integer from 1 to 50.",
                param=f"{param}.max_num_results",
            )
    elif kind == "code_interpreter":
        container = item.get("container")
        if container is not None and not isinstance(container, str):
            box = require_object(container, f"{param}.container")
            if box.get("type") != "auto":
                raise invalid("container.type must be 'auto'.", param=f"{param}.container.type")
            _strings(box.get("file_ids"), f"{param}.container.file_ids")
    elif kind == "openapi":
        _validate_openapi(item, param)
    elif kind == "azure_ai_search":
        search = require_object(item.get("azure_ai_search"), f"{param}.azure_ai_search")
        indexes = search.get("indexes")
        if not isinstance(indexes, list) or len(indexes) > 1:
            raise invalid(
                "azure_ai_search.indexes must be a list of at most one index.",
                param=f"{param}.azure_ai_search.indexes",
            )


@dataclass(frozen=True)
class CreateToolboxVersionRequest:
    tools: list[dict[str, Any]]
    metadata: dict[str, str]
    description: str | None
    skills: list[dict[str, Any]] | None
    policies: dict[str, Any] | None


def validate_toolbox_body(body: Any, limits: LimitSettings) -> CreateToolboxVersionRequest:
    payload = require_object(body, "body")
    tools = payload.get("tools")
    if not isinstance(tools, list):
        raise invalid("Missing required property 'tools' (a list).", param="tools")
    if len(tools) > MAX_TOOLS_PER_VERSION:
        raise invalid(f"At most {MAX_TOOLS_PER_VERSION} tools are allowed.", param="tools")
    labels: set[str] = set()
    apis: set[str] = set()
    for index, tool in enumerate(tools):
        _validate_tool(tool, f"tools[{index}]")
        if tool.get("type") == "mcp":
            label = str(tool["server_label"])
            if label in labels:
                raise invalid(
                    f"server_label '{label}' is used by two mcp tools.",
                    param=f"tools[{index}].server_label",
                )
            labels.add(label)
        if tool.get("type") == "openapi":
            # Its operations are listed as {name}.{operationId}: two APIs of one name clash.
            api = str(tool["openapi"]["name"])
            if api in apis:
                raise invalid(
                    f"openapi.name '{api}' is used by two openapi tools.",
                    param=f"tools[{index}].openapi.name",
                )
            apis.add(api)
    description = payload.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise invalid("'description' must be a string.", param="description")
        if len(description) > limits.description_max_chars:
            raise invalid(
                f"'description' is longer than {limits.description_max_chars} characters.",
                param="description",
            )
    skills = payload.get("skills")
    if skills is not None:
        if not isinstance(skills, list):
            raise invalid("'skills' must be a list.", param="skills")
        for index, skill in enumerate(skills):
            entry = require_object(skill, f"skills[{index}]")
            if entry.get("type") != "skill_reference":
                raise invalid(
                    "skills[].type must be 'skill_reference'.", param=f"skills[{index}].type"
                )
            _string(entry.get("name"), f"skills[{index}].name", required=True)
    policies = payload.get("policies")
    if policies is not None:
        policies = require_object(policies, "policies")
    return CreateToolboxVersionRequest(
        tools=[dict(t) for t in tools],
        metadata=validate_metadata(payload.get("metadata"), limits),
        description=description,
        skills=skills,
        policies=policies,
    )


# --- the store --------------------------------------------------------------------------


def _version_number(label: str) -> int | None:
    if not label.isdigit() or len(label) > 9:
        return None
    number = int(label)
    return number if number >= 1 else None


class ToolboxStore:
    """Every toolbox of the project. ``touch`` marks one dirty for persistence."""

    def __init__(
        self, project: str, clock: Callable[[], float], touch: Callable[[str], None]
    ) -> None:
        self.project = project
        self.clock = clock
        self.touch = touch
        self.toolboxes: dict[str, Toolbox] = {}
        self._seq = itertools.count(1)
        self._tombstones: dict[str, int] = {}

    def _now(self) -> int:
        return int(self.clock())

    def reset(self) -> None:
        for name in list(self.toolboxes):
            self.touch(name)
        self.toolboxes.clear()
        self._tombstones.clear()
        self._seq = itertools.count(1)

    def get(self, name: str) -> Toolbox:
        toolbox = self.toolboxes.get(name)
        if toolbox is None:
            raise not_found(
                f"Toolbox '{name}' was not found in project '{self.project}'.", param="name"
            )
        return toolbox

    def get_version(self, name: str, version: str) -> tuple[Toolbox, ToolboxVersion]:
        toolbox = self.get(name)
        number = _version_number(version)
        found = toolbox.versions.get(number) if number is not None else None
        if found is None:
            raise not_found(
                f"Version '{version}' of toolbox '{name}' was not found.", param="version"
            )
        return toolbox, found

    def create_version(
        self, name: str, request: CreateToolboxVersionRequest
    ) -> tuple[Toolbox, ToolboxVersion]:
        toolbox = self.toolboxes.get(name)
        now = self._now()
        if toolbox is None:
            toolbox = Toolbox(name=name, seq=next(self._seq), created_at=now, updated_at=now)
            self._tombstones.pop(name, None)
            self.toolboxes[name] = toolbox
        version = ToolboxVersion(
            number=toolbox.next_version,
            created_at=now,
            tools=copy.deepcopy(request.tools),
            metadata=dict(request.metadata),
            description=request.description,
            skills=copy.deepcopy(request.skills),
            policies=copy.deepcopy(request.policies),
        )
        toolbox.next_version += 1
        toolbox.versions[version.number] = version
        toolbox.updated_at = now
        self.touch(name)
        return toolbox, version

    def list(self, query: PageQuery) -> Page[Toolbox]:
        def cursor_key(cursor: str) -> int | None:
            found = self.toolboxes.get(cursor)
            return found.seq if found is not None else self._tombstones.get(cursor)

        return paginate(
            list(self.toolboxes.values()),
            key=lambda t: t.seq,
            ident=lambda t: t.name,
            cursor_key=cursor_key,
            query=query,
            last_id_on_final_page=False,
        )

    def list_versions(self, name: str, query: PageQuery) -> Page[ToolboxVersion]:
        toolbox = self.get(name)

        def cursor_key(cursor: str) -> int | None:
            return _version_number(cursor.rsplit(":", 1)[-1])

        return paginate(
            list(toolbox.versions.values()),
            key=lambda v: v.number,
            ident=lambda v: f"{name}:{v.number}",
            cursor_key=cursor_key,
            query=query,
            last_id_on_final_page=False,
        )

    def update(self, name: str, body: Any) -> Toolbox:
        toolbox = self.get(name)
        payload = require_object(body, "body")
        wanted = payload.get("default_version")
        if not isinstance(wanted, str) or not wanted:
            raise invalid("'default_version' is required.", param="default_version")
        number = _version_number(wanted)
        if number is None or number not in toolbox.versions:
            raise invalid(
                f"Version '{wanted}' of toolbox '{name}' does not exist.", param="default_version"
            )
        toolbox.pinned_default = number
        toolbox.updated_at = self._now()
        self.touch(name)
        return toolbox

    def delete(self, name: str) -> None:
        toolbox = self.get(name)
        self._forget(toolbox)

    def delete_version(self, name: str, version: str) -> None:
        toolbox, found = self.get_version(name, version)
        del toolbox.versions[found.number]
        if toolbox.pinned_default == found.number:
            toolbox.pinned_default = None
        if not toolbox.versions:
            self._forget(toolbox)
            return
        toolbox.updated_at = self._now()
        self.touch(name)

    def _forget(self, toolbox: Toolbox) -> None:
        self._tombstones[toolbox.name] = toolbox.seq
        self.toolboxes.pop(toolbox.name, None)
        self.touch(toolbox.name)

    # --- rendering -------------------------------------------------------------------

    @staticmethod
    def render_version(name: str, version: ToolboxVersion) -> dict[str, Any]:
        body: dict[str, Any] = {
            "object": "toolbox.version",
            "id": f"{name}:{version.number}",
            "name": name,
            "version": str(version.number),
            "description": version.description or "",
            "created_at": version.created_at,
            "tools": version.tools,
            "metadata": version.metadata,
        }
        if version.skills is not None:
            body["skills"] = version.skills
        if version.policies is not None:
            body["policies"] = version.policies
        return body

    def render_toolbox(self, toolbox: Toolbox) -> dict[str, Any]:
        latest = toolbox.latest()
        default = toolbox.default()
        return {
            "object": "toolbox",
            "id": toolbox.name,
            "name": toolbox.name,
            "updated_at": toolbox.updated_at,
            "versions": {"latest": self.render_version(toolbox.name, latest) if latest else None},
            "default_version": str(default.number) if default else None,
        }

    # --- persistence -----------------------------------------------------------------

    def dump(self, name: str) -> dict[str, Any] | None:
        toolbox = self.toolboxes.get(name)
        if toolbox is None:
            return None
        return {
            "name": toolbox.name,
            "seq": toolbox.seq,
            "created_at": toolbox.created_at,
            "updated_at": toolbox.updated_at,
            "next_version": toolbox.next_version,
            "pinned_default": toolbox.pinned_default,
            "versions": [
                {
                    "number": v.number,
                    "created_at": v.created_at,
                    "tools": v.tools,
                    "metadata": v.metadata,
                    "description": v.description,
                    "skills": v.skills,
                    "policies": v.policies,
                }
                for v in toolbox.versions.values()
            ],
        }

    def load(self, record: dict[str, Any]) -> None:
        toolbox = Toolbox(
            name=str(record["name"]),
            seq=int(record["seq"]),
            created_at=int(record["created_at"]),
            updated_at=int(record["updated_at"]),
            next_version=int(record["next_version"]),
            pinned_default=record.get("pinned_default"),
        )
        for v in record["versions"]:
            toolbox.versions[int(v["number"])] = ToolboxVersion(
                number=int(v["number"]),
                created_at=int(v["created_at"]),
                tools=list(v["tools"]),
                metadata=dict(v["metadata"]),
                description=v.get("description"),
                skills=v.get("skills"),
                policies=v.get("policies"),
            )
        self.toolboxes[toolbox.name] = toolbox
        self._seq = itertools.count(max(t.seq for t in self.toolboxes.values()) + 1)


# --- MCP over streamable HTTP -----------------------------------------------------------

_TEXT_INPUT: Final = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to look for."}},
    "required": ["query"],
}


def _operation_input(operation: dict[str, Any]) -> dict[str, Any]:
    """An operation's arguments as one JSON Schema object: its parameters by name, and its
    JSON request body as ``body``."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in operation.get("parameters") or []:
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            continue  # a $ref to components: the emulator does not resolve it
        schema = parameter.get("schema")
        properties[parameter["name"]] = dict(schema) if isinstance(schema, dict) else {}
        if parameter.get("required"):
            required.append(parameter["name"])
    body = operation.get("requestBody")
    content = body.get("content") if isinstance(body, dict) else None
    json_body = content.get("application/json") if isinstance(content, dict) else None
    if isinstance(json_body, dict):
        schema = json_body.get("schema")
        properties["body"] = dict(schema) if isinstance(schema, dict) else {}
        if isinstance(body, dict) and body.get("required"):
            required.append("body")
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def mcp_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The MCP tools a toolbox version offers (see the module doc for the emulator's rule)."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        kind = str(tool.get("type"))
        described = tool.get("description")
        if kind == "mcp":
            label = str(tool.get("server_label"))
            allowed = tool.get("allowed_tools")
            names = [str(a) for a in allowed] if isinstance(allowed, list) and allowed else []
            about = tool.get("server_description") or described
            for name in names or [label]:
                out.append(
                    {
                        "name": f"{label}.{name}" if names else label,
                        "description": str(about or f"Tool {name} of MCP server {label}"),
                        "inputSchema": {"type": "object", "additionalProperties": True},
                    }
                )
        elif kind == "openapi":
            function = dict(tool.get("openapi") or {})
            api = str(function.get("name"))
            for path, method, operation in openapi_operations(dict(function.get("spec") or {})):
                about = operation.get("summary") or operation.get("description")
                out.append(
                    {
                        "name": f"{api}.{operation['operationId']}",
                        "description": str(about or f"{method.upper()} {path} of API {api}"),
                        "inputSchema": _operation_input(operation),
                    }
                )
        elif kind == "code_interpreter":
            out.append(
                {
                    "name": str(tool.get("name") or "code_interpreter"),
                    "description": str(described or "Runs Python code in a sandbox."),
                    "inputSchema": {
                        "type": "object",
                        "properties": {"code": {"type": "string", "description": "The code."}},
                        "required": ["code"],
                    },
                }
            )
        else:
            out.append(
                {
                    "name": str(tool.get("name") or kind),
                    "description": str(described or f"The toolbox's {kind} tool."),
                    "inputSchema": dict(_TEXT_INPUT),
                }
            )
    return out


@dataclass(frozen=True)
class McpAnswer:
    """What the HTTP layer sends: a JSON-RPC message (None: 202 Accepted, no body)."""

    status: int
    message: dict[str, Any] | None = None
    session_id: str | None = None


def _rpc_error(request_id: Any, code: int, message: str, status: int = 200) -> McpAnswer:
    return McpAnswer(
        status,
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}},
    )


def handle_mcp(
    message: Any, *, toolbox: str, version: ToolboxVersion, session_id: str | None
) -> McpAnswer:
    """One JSON-RPC message POSTed to a toolbox version's MCP endpoint."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _rpc_error(None, JSONRPC_INVALID_REQUEST, "Expected one JSON-RPC 2.0 message.", 400)
    method = message.get("method")
    if "id" not in message:
        # A notification (notifications/initialized, cancelled, ...): accepted, no answer.
        return McpAnswer(202)
    request_id = message.get("id")
    if not isinstance(method, str):
        return _rpc_error(request_id, JSONRPC_INVALID_REQUEST, "A request needs a method.", 400)
    params = message.get("params") or {}
    if not isinstance(params, dict):
        return _rpc_error(request_id, JSONRPC_INVALID_PARAMS, "params must be an object.")
    if method == "initialize":
        asked = params.get("protocolVersion")
        chosen = asked if asked in MCP_PROTOCOL_VERSIONS else MCP_PROTOCOL_VERSIONS[-1]
        result = {
            "protocolVersion": chosen,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": f"foundry-toolbox-{toolbox}", "version": str(version.number)},
        }
        return McpAnswer(
            200,
            {"jsonrpc": "2.0", "id": request_id, "result": result},
            session_id=session_id or uuid.uuid4().hex,
        )
    if method == "ping":
        return McpAnswer(200, {"jsonrpc": "2.0", "id": request_id, "result": {}})
    if method == "tools/list":
        result = {"tools": mcp_tools(version.tools)}
        return McpAnswer(200, {"jsonrpc": "2.0", "id": request_id, "result": result})
    if method == "tools/call":
        name = params.get("name")
        known = {t["name"] for t in mcp_tools(version.tools)}
        if name not in known:
            return _rpc_error(request_id, JSONRPC_INVALID_PARAMS, f"Unknown tool {name!r}.")
        text = f"The Foundry emulator does not run tool {name!r}; it only lists it."
        result = {"content": [{"type": "text", "text": text}], "isError": True}
        return McpAnswer(200, {"jsonrpc": "2.0", "id": request_id, "result": result})
    return _rpc_error(request_id, JSONRPC_METHOD_NOT_FOUND, f"Method not found: {method}")


def require_mcp_version(store: ToolboxStore, name: str, version: str | None) -> ToolboxVersion:
    """The version an MCP request is for; ``None`` means the default (invoke_mcp)."""
    if version is not None:
        return store.get_version(name, version)[1]
    found = store.get(name).default()
    if found is None:  # pragma: no cover - a toolbox exists only with versions
        raise ApiError(404, "not_found", f"Toolbox '{name}' has no version.")
    return found
