"""The fields a client may write, as azure-ai-projects 2.10's models have them.

Used by the opt-in strict rule (``validation.reject_unknown_fields``): a hosted definition or
an ``agent_endpoint`` PATCH carrying any other field is refused with 400, ``param`` naming
it. The service may well accept and ignore such fields (the SDK passes unknown keys through
untouched), which is why the rule is off by default; on, it proves a client never sends one.
Read-only fields (``content_hash``, ``access_boundaries``, ``publish_approval_status``) are
not writable and so count as unknown here. A unit test holds these tables to the SDK.
"""

from __future__ import annotations

from typing import Any, Final

from .errors import invalid

# field -> the shape of its value: None for a scalar, a string map or a list of scalars;
# a nested table for an object or a list of objects.
Shape = dict[str, "Shape | None"]

TELEMETRY_AUTH: Final[Shape] = {
    "type": None,
    "header_name": None,
    "secret_id": None,
    "secret_key": None,
}
TELEMETRY_ENDPOINT: Final[Shape] = {
    "kind": None,
    "endpoint": None,
    "protocol": None,
    "data": None,
    "auth": TELEMETRY_AUTH,
}
INVOCATIONS_MODERATION: Final[Shape] = {
    "input_content_type": None,
    "output_content_type": None,
    "response_mode": None,
    "input_paths": None,
    "output_paths": None,
    "stream_selectors": {"event_type": None, "text_field": None},
}
HOSTED_DEFINITION: Final[Shape] = {
    "kind": None,
    "cpu": None,
    "memory": None,
    "environment_variables": None,
    "container_configuration": {"image": None, "registry_connection_id": None},
    "code_configuration": {"runtime": None, "entry_point": None, "dependency_resolution": None},
    "protocol_versions": {"protocol": None, "version": None},
    "session_configuration": {"idle_timeout_seconds": None},
    "telemetry_config": {"endpoints": TELEMETRY_ENDPOINT},
    "rai_config": {"rai_policy_name": None, "invocations_moderation": INVOCATIONS_MODERATION},
    "enable_memory_snapshot": None,
}
PROTOCOL_CONFIGURATION: Final[Shape] = {
    "activity": {"enable_m365_public_endpoint": None},
    "responses": {},
    "a2a": {},
    "mcp": {},
    "invocations": {},
    "invocations_ws": {},
}
AGENT_ENDPOINT: Final[Shape] = {
    "version_selector": {
        "version_selection_rules": {"type": None, "agent_version": None, "traffic_percentage": None}
    },
    "protocol_configuration": PROTOCOL_CONFIGURATION,
    "authorization_schemes": {"type": None},
}


def unknown_field(value: Any, shape: Shape, path: str) -> str | None:
    """The JSON path of the first field of ``value`` that ``shape`` does not have."""
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue  # the type is the ordinary validation's to judge
        where = f"{path}[{index}]" if isinstance(value, list) else path
        for key, child in item.items():
            if key not in shape:
                return f"{where}.{key}"
            inner = shape[key]
            if inner is not None and child is not None:
                found = unknown_field(child, inner, f"{where}.{key}")
                if found is not None:
                    return found
    return None


def reject_unknown(value: Any, shape: Shape, path: str, model: str) -> None:
    """400 naming the first field of ``value`` that ``shape`` does not have."""
    found = unknown_field(value, shape, path)
    if found is not None:
        raise invalid(
            f"Unknown field '{found}': it is not a writable field of {model}.",
            param=found,
            code="unknown_field",
        )
