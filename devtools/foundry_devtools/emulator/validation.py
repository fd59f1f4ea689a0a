"""Request validation, as pure functions over decoded JSON.

Each check raises :class:`ApiError` with ``param`` set to the JSON path of the offending
field, so a caller can tell exactly what the emulator (and, we assume, the service) refused.
Checks that need state (does a version exist?) live in state.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from .config import LimitSettings
from .errors import invalid
from .schema import AGENT_ENDPOINT, HOSTED_DEFINITION, reject_unknown

AGENT_KINDS = frozenset({"prompt", "hosted", "workflow", "external", "voice"})
PROTOCOLS = frozenset(
    {
        "activity",
        "responses",
        "a2a",
        "mcp",
        "invocations",
        "voice",
        "invocations_ws",
        "voice_conversation_engine",
    }
)
AUTHORIZATION_SCHEMES = frozenset({"Entra", "BotService", "BotServiceRbac", "BotServiceTenant"})
# The SDK's TelemetryDataKind, TelemetryTransportProtocol, RaiInvocationContentType and
# RaiInvocationMode.
TELEMETRY_DATA = frozenset({"ContainerStdoutStderr", "ContainerOtel", "Metrics"})
TELEMETRY_PROTOCOLS = frozenset({"Http", "Grpc"})
RAI_CONTENT_TYPES = frozenset({"json", "text"})
RAI_RESPONSE_MODES = frozenset({"non_streaming", "streaming", "both"})
DEPENDENCY_RESOLUTIONS = frozenset({"bundled", "remote_build"})

_AGENT_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CPU = re.compile(r"^\d+(?:\.\d+)?$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Gi|Mi)$")
# A loose Docker reference: [host[:port]/]path[/path...][:tag][@sha256:digest]
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?:{_HOST}(?::\d+)?/)?{_PATH}(?:/{_PATH})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$"
)
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class CreateVersionRequest:
    definition: dict[str, Any]
    metadata: dict[str, str]
    description: str
    draft: bool
    blueprint_reference: dict[str, Any] | None


def validate_agent_name(name: str) -> None:
    if not _AGENT_NAME.match(name):
        raise invalid(
            f"Invalid agent name '{name}': it must start and end with a letter or digit, "
            "contain only letters, digits and hyphens, and be at most 63 characters.",
            param="agent_name",
        )


def validate_session_id(session_id: str) -> None:
    if not _SESSION_ID.match(session_id):
        raise invalid(
            f"Invalid agent_session_id '{session_id}': use letters, digits, '.', '_' or '-' "
            "(at most 128 characters).",
            param="agent_session_id",
        )


def require_object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"'{param}' must be a JSON object.", param=param)
    return value


def validate_metadata(value: Any, limits: LimitSettings) -> dict[str, str]:
    if value is None:
        return {}
    metadata = require_object(value, "metadata")
    if len(metadata) > limits.metadata_max_pairs:
        raise invalid(
            f"metadata has {len(metadata)} pairs; at most {limits.metadata_max_pairs} are allowed.",
            param="metadata",
        )
    for key, item in metadata.items():
        if len(key) > limits.metadata_key_max_chars:
            raise invalid(
                f"metadata key '{key[:20]}...' is longer than {limits.metadata_key_max_chars} "
                "characters.",
                param=f"metadata.{key}",
            )
        if not isinstance(item, str):
            raise invalid(f"metadata value of '{key}' must be a string.", param=f"metadata.{key}")
        if len(item) > limits.metadata_value_max_chars:
            raise invalid(
                f"metadata value of '{key}' is longer than {limits.metadata_value_max_chars} "
                "characters.",
                param=f"metadata.{key}",
            )
    return dict(metadata)


def validate_create_body(
    body: Any, limits: LimitSettings, *, strict: bool = False
) -> CreateVersionRequest:
    payload = require_object(body, "body")
    if "definition" not in payload:
        raise invalid("Missing required property 'definition'.", param="definition")
    definition = validate_definition(payload["definition"], limits, strict=strict)
    description = payload.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise invalid("'description' must be a string.", param="description")
    if len(description) > limits.description_max_chars:
        raise invalid(
            f"'description' is longer than {limits.description_max_chars} characters.",
            param="description",
        )
    draft = payload.get("draft", False)
    if not isinstance(draft, bool):
        raise invalid("'draft' must be a boolean.", param="draft")
    blueprint = payload.get("blueprint_reference")
    if blueprint is not None:
        blueprint = require_object(blueprint, "blueprint_reference")
    return CreateVersionRequest(
        definition=definition,
        metadata=validate_metadata(payload.get("metadata"), limits),
        description=description,
        draft=draft,
        blueprint_reference=blueprint,
    )


def validate_definition(
    value: Any, limits: LimitSettings, *, strict: bool = False
) -> dict[str, Any]:
    definition = require_object(value, "definition")
    kind = definition.get("kind")
    if kind not in AGENT_KINDS:
        raise invalid(
            f"definition.kind must be one of {', '.join(sorted(AGENT_KINDS))}; got {kind!r}.",
            param="definition.kind",
        )
    if kind == "hosted":
        if strict:
            reject_unknown(definition, HOSTED_DEFINITION, "definition", "HostedAgentDefinition")
        _validate_hosted(definition, limits)
    # Otherwise unknown fields are kept and echoed back: the emulator must not be stricter
    # than the service about fields it does not model (see docs/emulator.md).
    return definition


def _validate_hosted(definition: dict[str, Any], limits: LimitSettings) -> None:
    cpu = _parse_cpu(definition.get("cpu"), limits)
    memory_gi = _parse_memory(definition.get("memory"), limits)
    if limits.memory_per_cpu_gi is not None and memory_gi != cpu * limits.memory_per_cpu_gi:
        raise invalid(
            f"definition.memory must be {limits.memory_per_cpu_gi:g} Gi per CPU; "
            f"cpu {cpu:g} needs memory {cpu * limits.memory_per_cpu_gi:g}Gi.",
            param="definition.memory",
        )
    has_container = definition.get("container_configuration") is not None
    has_code = definition.get("code_configuration") is not None
    if has_container == has_code:
        raise invalid(
            "A hosted agent definition needs exactly one of container_configuration or "
            "code_configuration.",
            param="definition.container_configuration",
        )
    if has_container:
        _validate_container(definition["container_configuration"])
    else:
        _validate_code(definition["code_configuration"])
    _validate_protocols(definition.get("protocol_versions"))
    _validate_env(definition.get("environment_variables"), limits)
    _validate_session_configuration(definition.get("session_configuration"), limits)
    _validate_telemetry(definition.get("telemetry_config"))
    _validate_rai(definition.get("rai_config"))
    snapshot = definition.get("enable_memory_snapshot")
    if snapshot is not None and not isinstance(snapshot, bool):
        raise invalid(
            "enable_memory_snapshot must be a boolean.", param="definition.enable_memory_snapshot"
        )


def _parse_cpu(value: Any, limits: LimitSettings) -> float:
    if not isinstance(value, str) or not value:
        raise invalid(
            'definition.cpu is required, as a string such as "1".', param="definition.cpu"
        )
    if not _CPU.match(value):
        raise invalid(
            f"definition.cpu '{value}' is not a decimal number of vCPUs.", param="definition.cpu"
        )
    cpu = float(value)
    if not limits.cpu_min <= cpu <= limits.cpu_max:
        raise invalid(
            f"definition.cpu {value} is out of range: {limits.cpu_min:g} to {limits.cpu_max:g}.",
            param="definition.cpu",
        )
    return cpu


def _parse_memory(value: Any, limits: LimitSettings) -> float:
    if not isinstance(value, str) or not value:
        raise invalid(
            'definition.memory is required, as a string such as "2Gi".', param="definition.memory"
        )
    match = _MEMORY.match(value)
    if not match:
        raise invalid(
            f"definition.memory '{value}' must be a quantity in Gi or Mi, e.g. 2Gi.",
            param="definition.memory",
        )
    try:
        amount = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise invalid(
            f"definition.memory '{value}' is not a number.", param="definition.memory"
        ) from exc
    gi = float(amount if match.group(2) == "Gi" else amount / 1024)
    if not limits.memory_min_gi <= gi <= limits.memory_max_gi:
        raise invalid(
            f"definition.memory {value} is out of range: {limits.memory_min_gi:g}Gi to "
            f"{limits.memory_max_gi:g}Gi.",
            param="definition.memory",
        )
    return gi


def _validate_container(value: Any) -> None:
    container = require_object(value, "definition.container_configuration")
    image = container.get("image")
    param = "definition.container_configuration.image"
    if not isinstance(image, str) or not image:
        raise invalid("container_configuration.image is required.", param=param)
    if not _IMAGE.match(image):
        raise invalid(f"'{image}' is not a valid image reference.", param=param)
    connection = container.get("registry_connection_id")
    if connection is not None and (not isinstance(connection, str) or not connection):
        raise invalid(
            "registry_connection_id must be a non-empty string.",
            param="definition.container_configuration.registry_connection_id",
        )


def _validate_code(value: Any) -> None:
    code = require_object(value, "definition.code_configuration")
    if not isinstance(code.get("runtime"), str) or not code["runtime"]:
        raise invalid(
            "code_configuration.runtime is required.", param="definition.code_configuration.runtime"
        )
    entry = code.get("entry_point")
    if not isinstance(entry, list) or not entry or not all(isinstance(e, str) for e in entry):
        raise invalid(
            "code_configuration.entry_point must be a non-empty list of strings.",
            param="definition.code_configuration.entry_point",
        )
    resolution = code.get("dependency_resolution")
    if resolution not in DEPENDENCY_RESOLUTIONS:
        raise invalid(
            "code_configuration.dependency_resolution must be 'bundled' or 'remote_build'.",
            param="definition.code_configuration.dependency_resolution",
        )


def _validate_protocols(value: Any) -> None:
    if value is None:
        return
    param = "definition.protocol_versions"
    if not isinstance(value, list):
        raise invalid("protocol_versions must be a list.", param=param)
    seen: set[str] = set()
    for index, record in enumerate(value):
        item = require_object(record, f"{param}[{index}]")
        protocol = item.get("protocol")
        version = item.get("version")
        if protocol not in PROTOCOLS:
            raise invalid(
                f"Unknown protocol {protocol!r}; known: {', '.join(sorted(PROTOCOLS))}.",
                param=f"{param}[{index}].protocol",
            )
        if protocol in seen:
            raise invalid(
                f"Protocol '{protocol}' is listed twice.", param=f"{param}[{index}].protocol"
            )
        seen.add(protocol)
        if not isinstance(version, str) or not _SEMVER.match(version):
            raise invalid(
                f"Protocol version {version!r} of '{protocol}' is not a semantic version "
                "such as 1.0.0.",
                param=f"{param}[{index}].version",
            )
        if protocol.startswith("voice") and version != "1.0.0":
            raise invalid(
                f"Protocol '{protocol}' supports only version 1.0.0.",
                param=f"{param}[{index}].version",
            )


def _validate_env(value: Any, limits: LimitSettings) -> None:
    if value is None:
        return
    env = require_object(value, "definition.environment_variables")
    for name, item in env.items():
        param = f"definition.environment_variables.{name}"
        if not _ENV_NAME.match(name):
            raise invalid(f"'{name}' is not a valid environment variable name.", param=param)
        for prefix in limits.reserved_env_prefixes:
            if name.upper().startswith(prefix.upper()):
                raise invalid(
                    f"Environment variable '{name}' uses the reserved prefix '{prefix}'.",
                    param=param,
                )
        if not isinstance(item, str):
            raise invalid(
                f"The value of environment variable '{name}' must be a string.", param=param
            )


def _validate_session_configuration(value: Any, limits: LimitSettings) -> None:
    if value is None:
        return
    config = require_object(value, "definition.session_configuration")
    timeout = config.get("idle_timeout_seconds")
    if timeout is None:
        return
    lo, hi = limits.idle_timeout_min_seconds, limits.idle_timeout_max_seconds
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not lo <= timeout <= hi:
        raise invalid(
            f"session_configuration.idle_timeout_seconds must be an integer from {lo} to {hi}.",
            param="definition.session_configuration.idle_timeout_seconds",
        )


def _required_string(item: dict[str, Any], key: str, param: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise invalid(f"{key} is required, as a non-empty string.", param=f"{param}.{key}")
    return value


def _one_of(item: dict[str, Any], key: str, allowed: frozenset[str], param: str) -> None:
    value = item.get(key)
    if value not in allowed:
        raise invalid(
            f"{key} must be one of {', '.join(sorted(allowed))}; got {value!r}.",
            param=f"{param}.{key}",
        )


def _string_list(value: Any, param: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid("must be a list of non-empty strings.", param=param)
    return value


def _validate_telemetry(value: Any) -> None:
    """TelemetryConfig: OTLP endpoints, each with a URL, a transport, the data it receives
    (an empty list exports nothing) and an optional header auth by secret reference."""
    if value is None:
        return
    config = require_object(value, "definition.telemetry_config")
    param = "definition.telemetry_config.endpoints"
    endpoints = config.get("endpoints")
    if not isinstance(endpoints, list):
        raise invalid("telemetry_config.endpoints is required, as a list.", param=param)
    for index, raw in enumerate(endpoints):
        where = f"{param}[{index}]"
        item = require_object(raw, where)
        _one_of(item, "kind", frozenset({"OTLP"}), where)
        url = _required_string(item, "endpoint", where)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(f"'{url}' is not an http or https URL.", param=f"{where}.endpoint")
        _one_of(item, "protocol", TELEMETRY_PROTOCOLS, where)
        data = item.get("data")
        if not isinstance(data, list):
            raise invalid("data is required, as a list (empty exports nothing).", f"{where}.data")
        for n, kind in enumerate(data):
            if kind not in TELEMETRY_DATA:
                raise invalid(
                    f"Unknown telemetry data kind {kind!r}; known: "
                    f"{', '.join(sorted(TELEMETRY_DATA))}.",
                    param=f"{where}.data[{n}]",
                )
        auth = item.get("auth")
        if auth is not None:
            auth_at = f"{where}.auth"
            auth_item = require_object(auth, auth_at)
            _one_of(auth_item, "type", frozenset({"header"}), auth_at)
            for key in ("header_name", "secret_id", "secret_key"):
                _required_string(auth_item, key, auth_at)


def _validate_rai(value: Any) -> None:
    """RaiConfig, with the "required when" rules of RaiInvocationModeration's docstring."""
    if value is None:
        return
    param = "definition.rai_config"
    config = require_object(value, param)
    _required_string(config, "rai_policy_name", param)
    moderation = config.get("invocations_moderation")
    if moderation is None:
        return
    where = f"{param}.invocations_moderation"
    item = require_object(moderation, where)
    _one_of(item, "response_mode", RAI_RESPONSE_MODES, where)
    for key in ("input_content_type", "output_content_type"):
        if item.get(key) is not None:
            _one_of(item, key, RAI_CONTENT_TYPES, where)
    for key in ("input_paths", "output_paths"):
        if item.get(key) is not None:
            _string_list(item[key], f"{where}.{key}")
    selectors = item.get("stream_selectors")
    if selectors is not None:
        if not isinstance(selectors, list):
            raise invalid("stream_selectors must be a list.", param=f"{where}.stream_selectors")
        for index, raw in enumerate(selectors):
            at = f"{where}.stream_selectors[{index}]"
            selector = require_object(raw, at)
            _required_string(selector, "event_type", at)
            text_field = selector.get("text_field")
            if text_field is not None and (not isinstance(text_field, str) or not text_field):
                raise invalid("text_field must be a non-empty string.", param=f"{at}.text_field")
    mode = item["response_mode"]
    # Omitted content types are json (the service's default, per the SDK).
    reads_input_json = item.get("input_content_type", "json") == "json"
    reads_output_json = item.get("output_content_type", "json") == "json"
    needs = [("input_paths", reads_input_json)]
    needs.append(("output_paths", reads_output_json and mode in ("non_streaming", "both")))
    needs.append(("stream_selectors", reads_output_json and mode in ("streaming", "both")))
    for key, required in needs:
        if required and not item.get(key):
            raise invalid(
                f"invocations_moderation.{key} is required for response_mode '{mode}' when "
                "the body is read as json.",
                param=f"{where}.{key}",
            )


def reject_unknown_endpoint_fields(endpoint: Any) -> None:
    """The strict rule for an agent_endpoint PATCH (see schema.py)."""
    if endpoint is not None:
        reject_unknown(endpoint, AGENT_ENDPOINT, "agent_endpoint", "AgentEndpointConfig")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass(frozen=True)
class RoutingRule:
    agent_version: str
    traffic_percentage: int


def validate_agent_endpoint(endpoint: Any) -> list[RoutingRule]:
    """Check the shape of an agent_endpoint; returns its routing rules (may be empty).

    Whether the named versions exist is checked by the caller, which has the state.
    """
    config = require_object(endpoint, "agent_endpoint")
    rules: list[RoutingRule] = []
    selector = config.get("version_selector")
    if selector is not None:
        rules = _validate_selector(selector)
    protocols = config.get("protocol_configuration")
    if protocols is not None:
        protocol_map = require_object(protocols, "agent_endpoint.protocol_configuration")
        for name, value in protocol_map.items():
            if name not in PROTOCOLS:
                raise invalid(
                    f"Unknown protocol '{name}' in protocol_configuration.",
                    param=f"agent_endpoint.protocol_configuration.{name}",
                )
            options = require_object(value, f"agent_endpoint.protocol_configuration.{name}")
            public = options.get("enable_m365_public_endpoint")
            if name == "activity" and public is not None and not isinstance(public, bool):
                raise invalid(
                    "enable_m365_public_endpoint must be a boolean.",
                    param="agent_endpoint.protocol_configuration.activity."
                    "enable_m365_public_endpoint",
                )
    schemes = config.get("authorization_schemes")
    if schemes is not None:
        param = "agent_endpoint.authorization_schemes"
        if not isinstance(schemes, list):
            raise invalid("authorization_schemes must be a list.", param=param)
        for index, scheme in enumerate(schemes):
            item = require_object(scheme, f"{param}[{index}]")
            if item.get("type") not in AUTHORIZATION_SCHEMES:
                raise invalid(
                    f"Unknown authorization scheme {item.get('type')!r}; known: "
                    f"{', '.join(sorted(AUTHORIZATION_SCHEMES))}.",
                    param=f"{param}[{index}].type",
                )
    return rules


def _validate_selector(selector: Any) -> list[RoutingRule]:
    param = "agent_endpoint.version_selector.version_selection_rules"
    body = require_object(selector, "agent_endpoint.version_selector")
    raw_rules = body.get("version_selection_rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise invalid("version_selection_rules must be a non-empty list.", param=param)
    rules: list[RoutingRule] = []
    for index, raw in enumerate(raw_rules):
        item = require_object(raw, f"{param}[{index}]")
        if item.get("type") != "FixedRatio":
            raise invalid(
                f"Unknown version selection rule type {item.get('type')!r}; "
                "only 'FixedRatio' is supported.",
                param=f"{param}[{index}].type",
            )
        version = item.get("agent_version")
        if not isinstance(version, str) or not version:
            raise invalid(
                "agent_version is required in a version selection rule.",
                param=f"{param}[{index}].agent_version",
            )
        percentage = item.get("traffic_percentage")
        if (
            isinstance(percentage, bool)
            or not isinstance(percentage, int)
            or not (0 <= percentage <= 100)
        ):
            raise invalid(
                "traffic_percentage must be an integer from 0 to 100.",
                param=f"{param}[{index}].traffic_percentage",
            )
        if any(r.agent_version == version for r in rules):
            raise invalid(
                f"Version '{version}' appears in more than one rule.",
                param=f"{param}[{index}].agent_version",
            )
        rules.append(RoutingRule(version, percentage))
    total = sum(r.traffic_percentage for r in rules)
    if total != 100:
        raise invalid(
            f"traffic_percentage values must sum to 100; they sum to {total}.", param=param
        )
    return rules
