"""From a HostedAgent spec to the Foundry agent version it asks for, and its hash.

``build_definition`` produces the ``definition`` object exactly as azure-ai-projects 2.10
serialises a ``HostedAgentDefinition`` (wire names, omitted optionals); a unit test checks it
against the SDK's own serializer. Secrets are resolved elsewhere (the kube layer) and come in
as a plain mapping, so this module does no I/O.

The spec hash is the operator's idempotency key: it is stored in each version's metadata
(``k8s-spec-hash``) and the operator never creates a second version with a hash that exists.
It covers everything that makes a version different (the definition, description and user
metadata) and nothing that does not (agentName is the path, not the content;
deletionPolicy and revisionHistoryLimit steer the operator, not Foundry; spec.endpoint is
the agent endpoint's, shared by every version, see ``reconcile.endpoint``). Fields added to
the definition since are omitted when unset, so the hash of a spec that does not use them
is what it always was.

Environment values enter the hash only as SHA-256 digests, so the hash changes when a Secret
is rotated but never contains a value. It is one-way, not magic: someone who knows every
other input and can guess a low-entropy value (``"true"``) could confirm the guess. Real
secrets (keys, tokens) are far beyond guessing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from foundry_operator.api.quantity import cores_as_decimal_string
from foundry_operator.api.rai import InvocationsModeration, RaiConfig
from foundry_operator.api.reserved import RESERVED_METADATA_PREFIX, reserved_metadata
from foundry_operator.api.spec import EnvVarSource, HostedAgentSpec
from foundry_operator.api.telemetry import TelemetryConfig, TelemetryEndpoint

# Part of the hashed document. Bump it only deliberately: every existing version's hash
# would change, and the operator would create a new version of every agent.
HASH_SCHEMA: Final = 1
SPEC_HASH_LENGTH: Final = 20

JSON = dict[str, Any]


class MissingEnvValue(ValueError):
    """A required ``valueFrom`` variable has no resolved value (the kube layer should have
    reported SecretNotFound before asking for a definition)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no value resolved for environment variable {name}")
        self.name = name


def resolve_environment(spec: HostedAgentSpec, env_values: Mapping[str, str]) -> dict[str, str]:
    """Name -> value of every variable: literal values from the spec, the rest from
    ``env_values``. An optional reference without a value leaves its variable out."""
    sourced = {e.name for e in spec.env if e.value_from is not None}
    unexpected = sorted(set(env_values) - sourced)
    if unexpected:
        # A programming error in the caller, never user input: fail loudly.
        raise ValueError(f"env values given for variables without valueFrom: {unexpected}")
    environment: dict[str, str] = {}
    for var in spec.env:
        if var.value is not None:
            environment[var.name] = var.value
        elif var.name in env_values:
            environment[var.name] = env_values[var.name]
        elif not _is_optional(var.value_from):
            raise MissingEnvValue(var.name)
    return environment


def _is_optional(source: EnvVarSource | None) -> bool:
    if source is None:  # pragma: no cover - the CRD requires value or valueFrom
        return False
    ref = source.secret_key_ref or source.config_map_key_ref
    return ref is not None and bool(ref.optional)


def _telemetry_endpoint_wire(endpoint: TelemetryEndpoint) -> JSON:
    out: JSON = {
        "kind": str(endpoint.kind),
        "endpoint": endpoint.endpoint,
        "protocol": str(endpoint.protocol),
        "data": [str(d) for d in endpoint.data],
    }
    if endpoint.auth is not None:
        # References only: Foundry resolves the value from its own secret store.
        out["auth"] = {
            "type": str(endpoint.auth.type),
            "header_name": endpoint.auth.header_name,
            "secret_id": endpoint.auth.secret_id,
            "secret_key": endpoint.auth.secret_key,
        }
    return out


def _telemetry_wire(config: TelemetryConfig) -> JSON:
    return {"endpoints": [_telemetry_endpoint_wire(e) for e in config.endpoints]}


def _moderation_wire(moderation: InvocationsModeration) -> JSON:
    out: JSON = {"response_mode": str(moderation.response_mode)}
    if moderation.input_content_type is not None:
        out["input_content_type"] = str(moderation.input_content_type)
    if moderation.output_content_type is not None:
        out["output_content_type"] = str(moderation.output_content_type)
    if moderation.input_paths is not None:
        out["input_paths"] = list(moderation.input_paths)
    if moderation.output_paths is not None:
        out["output_paths"] = list(moderation.output_paths)
    if moderation.stream_selectors is not None:
        selectors: list[JSON] = []
        for selector in moderation.stream_selectors:
            item: JSON = {"event_type": selector.event_type}
            if selector.text_field is not None:
                item["text_field"] = selector.text_field
            selectors.append(item)
        out["stream_selectors"] = selectors
    return out


def _rai_wire(config: RaiConfig) -> JSON:
    out: JSON = {"rai_policy_name": config.rai_policy_name}
    if config.invocations_moderation is not None:
        out["invocations_moderation"] = _moderation_wire(config.invocations_moderation)
    return out


def build_definition(
    spec: HostedAgentSpec,
    env_values: Mapping[str, str] | None = None,
    injected_env: Mapping[str, str] | None = None,
) -> JSON:
    """The ``definition`` of the version ``spec`` asks for, in Foundry's wire format.

    ``env_values`` holds the resolved values of the ``valueFrom`` variables (name -> value);
    ``injected_env`` the variables the operator sets itself (the toolbox's MCP URL, pinned
    to a toolbox version, so that a new toolbox version makes a new agent version). The CRD
    keeps their names out of ``spec.env``.
    Optional fields are omitted rather than null, as the SDK does. Protocols are sorted by
    name: the list is keyed by protocol, so its order carries no meaning and must not change
    the hash.
    """
    container: JSON = {"image": spec.image}
    if spec.registry_connection is not None:
        container["registry_connection_id"] = spec.registry_connection
    definition: JSON = {
        "kind": "hosted",
        "cpu": cores_as_decimal_string(spec.cpu),
        "memory": spec.memory,
        "container_configuration": container,
        "protocol_versions": [
            {"protocol": str(p.protocol), "version": p.version}
            for p in sorted(spec.protocols, key=lambda p: str(p.protocol))
        ],
    }
    environment = resolve_environment(spec, env_values or {})
    clashes = sorted(set(environment) & set(injected_env or {}))
    if clashes:
        # The CRD refuses such specs; an older CRD might not.
        raise ValueError(f"spec.env sets {clashes}, which the operator sets for the toolbox")
    environment.update(injected_env or {})
    if environment:
        definition["environment_variables"] = environment
    if spec.idle_timeout_seconds is not None:
        definition["session_configuration"] = {"idle_timeout_seconds": spec.idle_timeout_seconds}
    # Never `tools`: SDK 2.3 removed it from HostedAgentDefinition and GA agents get their
    # tools from a toolbox (spec.toolbox, or the toolbox spec.tools becomes) over MCP.
    if spec.telemetry_config is not None:
        definition["telemetry_config"] = _telemetry_wire(spec.telemetry_config)
    if spec.rai_config is not None:
        definition["rai_config"] = _rai_wire(spec.rai_config)
    if spec.enable_memory_snapshot is not None:
        definition["enable_memory_snapshot"] = spec.enable_memory_snapshot
    return definition


def env_digest(value: str) -> str:
    """How an environment value appears in hashes, status and logs."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def redacted_definition(definition: Mapping[str, Any]) -> JSON:
    """A copy of ``definition`` safe to log or show: env values replaced by digests."""
    out = dict(definition)
    env = definition.get("environment_variables")
    if env:
        out["environment_variables"] = {k: env_digest(v) for k, v in env.items()}
    return out


def spec_hash(
    definition: Mapping[str, Any],
    *,
    description: str | None,
    metadata: Mapping[str, str],
    retry_token: str | None = None,
) -> str:
    """A short, stable hash of everything that makes a version distinct (see module doc).

    ``retry_token`` is the value of the retry annotation: a person sets it to ask for a new
    version of an unchanged spec (after fixing a registry permission, say). Absent, it leaves
    the hash exactly as it was, so existing versions keep matching.
    """
    document: dict[str, Any] = {
        "schema": HASH_SCHEMA,
        "definition": redacted_definition(definition),
        # Foundry reports an unset description as "": treat both alike.
        "description": description or "",
        "metadata": dict(metadata),
    }
    if retry_token:
        document["retry"] = retry_token
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:SPEC_HASH_LENGTH]


@dataclass(frozen=True)
class DesiredVersion:
    """The version a spec asks for. ``definition`` holds secret values: never log it (use
    ``redacted_definition``)."""

    definition: JSON
    description: str | None
    metadata: dict[str, str]
    spec_hash: str


def desired_version(
    spec: HostedAgentSpec,
    env_values: Mapping[str, str] | None = None,
    *,
    retry_token: str | None = None,
    injected_env: Mapping[str, str] | None = None,
) -> DesiredVersion:
    definition = build_definition(spec, env_values, injected_env)
    metadata = dict(spec.metadata)
    return DesiredVersion(
        definition=definition,
        description=spec.description,
        metadata=metadata,
        spec_hash=spec_hash(
            definition, description=spec.description, metadata=metadata, retry_token=retry_token
        ),
    )


def create_version_body(desired: DesiredVersion, *, uid: str, namespace: str, name: str) -> JSON:
    """The JSON body of ``POST /agents/{agentName}/versions`` for ``desired``.

    Pass it as ``client.agents.create_version(agent_name, body=...)``. User metadata is
    merged with the operator's reserved keys (``api.reserved``), which the CRD stops users
    from setting.
    """
    clashes = sorted(k for k in desired.metadata if k.startswith(RESERVED_METADATA_PREFIX))
    if clashes:
        raise ValueError(f"metadata keys {clashes} are reserved for the operator")
    metadata = {
        **desired.metadata,
        **reserved_metadata(uid=uid, namespace=namespace, name=name, spec_hash=desired.spec_hash),
    }
    body: JSON = {"definition": desired.definition, "metadata": metadata}
    if desired.description:
        body["description"] = desired.description
    return body
