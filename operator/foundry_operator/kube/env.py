"""Resolve ``env[].valueFrom`` references from Secrets and ConfigMaps.

The only code that reads Secret values. It reads exactly the keys a HostedAgent names, in
that HostedAgent's namespace, at reconcile time; values go to the desired definition (and
so to Foundry) and nowhere else. Errors name the object and key, never a value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..api.spec import HostedAgentSpec, KeyReference
from .api import KubeClient, KubeError

Kind = Literal["Secret", "ConfigMap"]


@dataclass(frozen=True, order=True)
class Ref:
    """One object a HostedAgent's env reads from (same namespace as the HostedAgent)."""

    kind: Kind
    name: str


@dataclass(frozen=True)
class _Lookup:
    var: str
    ref: Ref
    key: str
    optional: bool


def _lookups(spec: HostedAgentSpec) -> list[_Lookup]:
    out: list[_Lookup] = []
    for var in spec.env:
        source = var.value_from
        if source is None:
            continue
        pairs: tuple[tuple[KeyReference | None, Kind], ...] = (
            (source.secret_key_ref, "Secret"),
            (source.config_map_key_ref, "ConfigMap"),
        )
        for sel, kind in pairs:
            if sel is not None:
                out.append(_Lookup(var.name, Ref(kind, sel.name), sel.key, bool(sel.optional)))
    return out


def references(spec: HostedAgentSpec) -> frozenset[Ref]:
    """Every Secret and ConfigMap the spec's env reads from."""
    return frozenset(lookup.ref for lookup in _lookups(spec))


@dataclass(frozen=True)
class Resolved:
    values: dict[str, str] = field(default_factory=dict)
    # "Secret foo (key bar)" for each required reference that could not be read
    missing: list[str] = field(default_factory=list)


class _Unreadable(Exception):
    """Reading a referenced object failed for a reason other than its absence."""


class EnvResolver:
    """Reads referenced keys through the Kubernetes API."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def _read(self, namespace: str, ref: Ref) -> Mapping[str, str | None] | None:
        plural = "secrets" if ref.kind == "Secret" else "configmaps"
        try:
            body = await self._kube.request(
                "GET", f"/api/v1/namespaces/{namespace}/{plural}/{ref.name}"
            )
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise _Unreadable(f"HTTP {exc.status} {exc.reason}".strip()) from None
        if ref.kind == "Secret":
            return {k: _decode(v) for k, v in (body.get("data") or {}).items()}
        # binaryData keys exist but cannot be environment values.
        binary = dict.fromkeys(body.get("binaryData") or {})
        return {**binary, **dict(body.get("data") or {})}

    async def resolve(self, namespace: str, spec: HostedAgentSpec) -> Resolved:
        return await self.resolve_lookups(namespace, _lookups(spec))

    async def resolve_lookups(self, namespace: str, lookups: list[_Lookup]) -> Resolved:
        cache: dict[Ref, Mapping[str, str | None] | None] = {}
        resolved = Resolved()
        for lookup in lookups:
            if lookup.ref not in cache:
                try:
                    cache[lookup.ref] = await self._read(namespace, lookup.ref)
                except _Unreadable as exc:
                    resolved.missing.append(
                        f"{lookup.ref.kind} {lookup.ref.name!r} unreadable: {exc}"
                    )
                    cache[lookup.ref] = {}
                    continue
            data = cache[lookup.ref]
            value = data.get(lookup.key) if data is not None else None
            if value is not None:
                resolved.values[lookup.var] = value
            elif data is not None and lookup.key in data:
                # Present but binary: optional or not, it cannot be sent, and saying "has no
                # key" would send a person looking for the wrong problem.
                resolved.missing.append(
                    f"{lookup.ref.kind} {lookup.ref.name!r} key {lookup.key!r} is not UTF-8 "
                    "text (binary data cannot be an environment variable)"
                )
            elif not lookup.optional:
                what = "not found" if data is None else f"has no key {lookup.key!r}"
                resolved.missing.append(f"{lookup.ref.kind} {lookup.ref.name!r} {what}")
        return resolved


@dataclass(frozen=True)
class ResolvedKeys:
    """Keys read for a FoundryToolbox (Secret credentials, ConfigMap OpenAPI documents):
    (object, key) -> value."""

    values: dict[tuple[str, str], str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


async def resolve_secret_keys(
    resolver: EnvResolver, namespace: str, keys: list[tuple[str, str]]
) -> ResolvedKeys:
    """Read each (Secret, key) once; every one is required. Errors name the Secret and key,
    never a value."""
    return await resolve_keys(resolver, namespace, "Secret", keys)


async def resolve_keys(
    resolver: EnvResolver, namespace: str, kind: Kind, keys: list[tuple[str, str]]
) -> ResolvedKeys:
    """Read each (object, key) of ``kind`` once; every one is required."""
    lookups = [_Lookup(f"{name}/{key}", Ref(kind, name), key, False) for name, key in keys]
    resolved = await resolver.resolve_lookups(namespace, lookups)
    by_label = {f"{name}/{key}": (name, key) for name, key in keys}
    return ResolvedKeys(
        values={by_label[label]: value for label, value in resolved.values.items()},
        missing=resolved.missing,
    )


def _decode(value: str | bytes) -> str | None:
    """Secret data as text; None for binary data, which cannot be an environment value
    (the error says so without showing anything)."""
    try:
        return base64.b64decode(value).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
