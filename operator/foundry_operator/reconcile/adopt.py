"""Versions made outside the operator: what spec describes them, and their spec hash. Pure.

A version the operator created carries its spec hash in its metadata. One made with the
portal, the SDK or azd carries none, so adoption (``spec.adoptionPolicy: Adopt``) computes
it from what Foundry holds: the hash of the version's own definition, description and
metadata, taken exactly as ``reconcile.desired`` hashes what a spec asks for. The two are
equal exactly when the spec would create that very definition, so adopting an agent with a
spec that describes its version creates nothing, and any difference makes a new version
rather than a silent "close enough".

``foundry-operator export`` goes the other way: from a version to the HostedAgent spec that
asks for it, checked by building that spec's definition again and comparing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from ..api.reserved import RESERVED_METADATA_PREFIX, is_managed
from ..api.resource import API_VERSION, KIND
from ..api.spec import AdoptionPolicy, HostedAgentSpec
from .desired import JSON, build_definition, spec_hash
from .observed import GONE, VersionInfo

# Keys Foundry adds to a definition when it answers, which no spec sets: an empty
# container_protocol_versions is echoed for every hosted version.
_ECHOED_EMPTY: Final = frozenset({"container_protocol_versions"})


def comparable_definition(definition: Mapping[str, Any]) -> JSON:
    """A definition as Foundry returns it, in the form ``build_definition`` writes: echoed
    empty fields dropped, protocols in name order (they are keyed by protocol)."""
    out = {k: v for k, v in definition.items() if not (k in _ECHOED_EMPTY and not v)}
    protocols = out.get("protocol_versions")
    if isinstance(protocols, list):
        out["protocol_versions"] = sorted(
            (dict(p) for p in protocols if isinstance(p, Mapping)),
            key=lambda p: str(p.get("protocol", "")),
        )
    return out


def content_hash(version: VersionInfo) -> str | None:
    """The spec hash of a version made outside the operator, from what Foundry holds; None
    when no spec can describe it (no definition read, or metadata in the operator's
    reserved namespace, which no spec may set)."""
    if version.definition is None:
        return None
    if any(k.startswith(RESERVED_METADATA_PREFIX) for k in version.metadata):
        return None
    return spec_hash(
        comparable_definition(version.definition),
        description=version.description,
        metadata=version.metadata,
    )


@dataclass(frozen=True)
class Exported:
    """The spec that asks for one version, and what it cannot say."""

    spec: JSON
    # Why applying ``spec`` would not match the version (empty: it matches exactly).
    problems: list[str] = field(default_factory=list)


def _protocols(raw: Any) -> list[JSON]:
    return [
        {"protocol": str(p.get("protocol")), "version": str(p.get("version"))}
        for p in raw or []
        if isinstance(p, Mapping)
    ]


def _camel(value: Any) -> Any:
    """Wire (snake_case) keys to the spec's camelCase, for the nested telemetry and RAI
    objects, whose field names are the wire names in the other case."""
    if isinstance(value, Mapping):
        out: JSON = {}
        for key, item in value.items():
            head, *rest = str(key).split("_")
            out[head + "".join(w[:1].upper() + w[1:] for w in rest)] = _camel(item)
        return out
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


_DEFINITION_KEYS: Final = frozenset(
    {
        "kind",
        "cpu",
        "memory",
        "container_configuration",
        "protocol_versions",
        "environment_variables",
        "session_configuration",
        "telemetry_config",
        "rai_config",
        "enable_memory_snapshot",
    }
)


def spec_from_version(
    agent: str,
    definition: Mapping[str, Any],
    description: str | None,
    metadata: Mapping[str, str],
) -> Exported:
    """The HostedAgent spec (camelCase, as written in a manifest) that asks for this
    version, with ``adoptionPolicy: Adopt``. Environment values come out as literal values:
    move secret ones to a Secret (``valueFrom.secretKeyRef``); the hash covers the value,
    not where it comes from, so that changes nothing."""
    problems: list[str] = []
    wire = comparable_definition(definition)
    if wire.get("kind") != "hosted":
        problems.append(f"definition.kind is {wire.get('kind')!r}, not 'hosted'")
    unknown = sorted(set(wire) - _DEFINITION_KEYS)
    if unknown:
        problems.append(f"definition fields a HostedAgent cannot set: {', '.join(unknown)}")
    container = wire.get("container_configuration") or {}
    spec: JSON = {"agentName": agent, "image": container.get("image", "")}
    if container.get("registry_connection_id"):
        spec["registryConnection"] = container["registry_connection_id"]
    for key in ("cpu", "memory"):
        if wire.get(key) is not None:
            spec[key] = str(wire[key])
    protocols = _protocols(wire.get("protocol_versions"))
    if protocols:
        spec["protocols"] = protocols
    env = wire.get("environment_variables") or {}
    if env:
        spec["env"] = [{"name": str(k), "value": str(v)} for k, v in sorted(env.items())]
    session = wire.get("session_configuration") or {}
    if session.get("idle_timeout_seconds") is not None:
        spec["idleTimeoutSeconds"] = session["idle_timeout_seconds"]
    if wire.get("telemetry_config") is not None:
        spec["telemetryConfig"] = _camel(wire["telemetry_config"])
    if wire.get("rai_config") is not None:
        spec["raiConfig"] = _camel(wire["rai_config"])
    if wire.get("enable_memory_snapshot") is not None:
        spec["enableMemorySnapshot"] = wire["enable_memory_snapshot"]
    if description:
        spec["description"] = description
    reserved = sorted(k for k in metadata if k.startswith(RESERVED_METADATA_PREFIX))
    if reserved:
        problems.append(f"metadata keys reserved for the operator: {', '.join(reserved)}")
    user = {k: v for k, v in metadata.items() if not k.startswith(RESERVED_METADATA_PREFIX)}
    if user:
        spec["metadata"] = dict(sorted(user.items()))
    spec["adoptionPolicy"] = str(AdoptionPolicy.ADOPT)
    if not problems:
        problems.extend(_round_trip(spec, wire))
    return Exported(spec, problems)


def _round_trip(spec: JSON, wire: JSON) -> list[str]:
    """What would differ between the version and what ``spec`` asks for."""
    try:
        parsed = HostedAgentSpec.model_validate(spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return [f"spec.{where}: {first.get('msg', 'invalid')}"]
    built = build_definition(parsed)
    return [
        f"definition.{key}: the spec would send {built.get(key)!r}, Foundry holds {wire.get(key)!r}"
        for key in sorted(set(built) | set(wire))
        if built.get(key) != wire.get(key)
    ]


def _kube_name(agent: str) -> str:
    """metadata.name for an agent: agent names allow capitals, Kubernetes names do not."""
    return agent.lower()


def export_manifest(
    agent: str,
    versions: Sequence[VersionInfo],
    routing: Mapping[str, int],
    *,
    name: str | None = None,
    namespace: str | None = None,
    version: str | None = None,
) -> tuple[JSON, VersionInfo, list[str]]:
    """The HostedAgent manifest for an existing agent: the spec of the version the endpoint
    serves (all traffic), else of the newest one, or of ``version``. Taking the serving one
    means applying the manifest with Adopt moves no traffic either. Raises LookupError when
    there is no such version."""
    live = sorted((v for v in versions if v.status not in GONE), key=lambda v: v.number)
    if version is not None:
        chosen = next((v for v in live if v.version == version), None)
        if chosen is None:
            raise LookupError(f"agent {agent!r} has no version {version!r}")
    else:
        full = [v for v, pct in routing.items() if pct == 100]
        serving = next((v for v in live if full and v.version == full[0]), None)
        if serving is None and not live:
            raise LookupError(f"agent {agent!r} has no versions")
        chosen = serving or live[-1]
    if chosen.definition is None:
        raise LookupError(f"version {chosen.version} of agent {agent!r} has no definition")
    exported = spec_from_version(agent, chosen.definition, chosen.description, chosen.metadata)
    metadata: JSON = {"name": name or _kube_name(agent)}
    if namespace:
        metadata["namespace"] = namespace
    manifest: JSON = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": exported.spec,
    }
    problems = list(exported.problems)
    if is_managed(chosen.metadata):
        problems.insert(0, f"version {chosen.version} was created by the operator, not adopted")
    return manifest, chosen, problems
