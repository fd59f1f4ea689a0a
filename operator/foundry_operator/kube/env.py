"""Resolve ``env[].valueFrom`` references from Secrets and ConfigMaps.

The only code that reads Secret values. It reads exactly the keys a HostedAgent names, in
that HostedAgent's namespace, at reconcile time; values go to the desired definition (and
so to Foundry) and nowhere else. Errors name the object and key, never a value.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.exceptions import ApiException

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


def _lookups(spec: Mapping[str, Any]) -> list[_Lookup]:
    out: list[_Lookup] = []
    for var in spec.get("env") or []:
        source = var.get("valueFrom") or {}
        for field_name, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            sel = source.get(field_name)
            if sel:
                out.append(
                    _Lookup(
                        var=str(var["name"]),
                        ref=Ref(kind, str(sel["name"])),  # type: ignore[arg-type]
                        key=str(sel["key"]),
                        optional=bool(sel.get("optional", False)),
                    )
                )
    return out


def references(spec: Mapping[str, Any]) -> frozenset[Ref]:
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
    """Reads referenced keys through the Kubernetes API (in a worker thread: the official
    client is synchronous)."""

    def __init__(self, api: ApiClient) -> None:
        self._core = CoreV1Api(api)

    def _read(self, namespace: str, ref: Ref) -> Mapping[str, str] | None:
        try:
            if ref.kind == "Secret":
                secret = self._core.read_namespaced_secret(ref.name, namespace)
                decoded = {k: _decode(v) for k, v in (secret.data or {}).items()}
                return {k: v for k, v in decoded.items() if v is not None}
            config_map = self._core.read_namespaced_config_map(ref.name, namespace)
            return dict(config_map.data or {})
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _Unreadable(f"HTTP {exc.status} {exc.reason or ''}".strip()) from None

    def _resolve(self, namespace: str, lookups: Iterable[_Lookup]) -> Resolved:
        cache: dict[Ref, Mapping[str, str] | None] = {}
        resolved = Resolved()
        for lookup in lookups:
            if lookup.ref not in cache:
                try:
                    cache[lookup.ref] = self._read(namespace, lookup.ref)
                except _Unreadable as exc:
                    resolved.missing.append(
                        f"{lookup.ref.kind} {lookup.ref.name!r} unreadable: {exc}"
                    )
                    cache[lookup.ref] = {}
                    continue
            data = cache[lookup.ref]
            if data is not None and lookup.key in data:
                resolved.values[lookup.var] = data[lookup.key]
            elif not lookup.optional:
                what = "not found" if data is None else f"has no key {lookup.key!r}"
                resolved.missing.append(f"{lookup.ref.kind} {lookup.ref.name!r} {what}")
        return resolved

    async def resolve(self, namespace: str, spec: Mapping[str, Any]) -> Resolved:
        lookups = _lookups(spec)
        if not lookups:
            return Resolved()
        return await asyncio.to_thread(self._resolve, namespace, lookups)


def _decode(value: str | bytes) -> str | None:
    """Secret data as text; None for binary data, which cannot be an environment value
    (the key then counts as absent, and the error says so without showing anything)."""
    try:
        return base64.b64decode(value).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
