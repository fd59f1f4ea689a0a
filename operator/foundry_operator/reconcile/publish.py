"""How to call the agent: what status.endpoint/identity say, and the ConfigMap for apps. Pure.

Status describes the endpoint the way the SDK's ``get_openai_client(agent_name=...)`` calls
it (base URL, api-version, token scope, headers) and the protocols Foundry says the endpoint
is configured for. ``spec.endpointConfigMap`` asks for the same facts as environment
variables in a ConfigMap the HostedAgent owns; this module decides what that ConfigMap holds
and whether to create it, change it or leave it alone. It never holds a secret or a token:
every value comes from status.endpoint, which holds none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from ..api.resource import API_VERSION, KIND
from ..api.status import AgentEndpoint, AgentIdentity, EndpointHeader
from .observed import AgentInfo, EndpointFacts

# The ConfigMap's keys (README "Calling the agent" lists them; so does kubectl explain).
KEY_BASE_URL: Final = "OPENAI_BASE_URL"  # read by the openai package itself
KEY_API_VERSION: Final = "OPENAI_API_VERSION"  # the api-version query value
KEY_AGENT_NAME: Final = "FOUNDRY_AGENT_NAME"
KEY_TOKEN_SCOPE: Final = "FOUNDRY_TOKEN_SCOPE"
KEY_PROTOCOLS: Final = "FOUNDRY_AGENT_PROTOCOLS"  # comma-separated
# Every header as "Name: value" lines: the openai package's own variable for extra headers.
KEY_CUSTOM_HEADERS: Final = "OPENAI_CUSTOM_HEADERS"
FIXED_KEYS: Final = (
    KEY_BASE_URL,
    KEY_API_VERSION,
    KEY_AGENT_NAME,
    KEY_TOKEN_SCOPE,
    KEY_PROTOCOLS,
    KEY_CUSTOM_HEADERS,
)

MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "foundry-agent-operator"


# --- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What one look at the Foundry agent's details says for status. A reconcile that did
    not look carries None instead, and status keeps what it said before."""

    endpoint: AgentEndpoint | None = None
    identity: AgentIdentity | None = None
    suspended: bool = False


# The agent does not exist, or is not this HostedAgent's: nothing to call, nobody to be.
NOTHING: Final = Seen()


def endpoint_status(
    facts: EndpointFacts, agent: AgentInfo, spec_protocols: Sequence[str]
) -> AgentEndpoint:
    """status.endpoint for an agent Foundry holds. The protocols are Foundry's word
    (protocol_configuration) when it gives one, else the spec's (which routing sends)."""
    protocols = list(agent.protocols) or sorted(set(spec_protocols))
    return AgentEndpoint(
        baseURL=facts.base_url,
        api_version=facts.api_version,
        token_scope=facts.token_scope,
        headers=[EndpointHeader(name=n, value=v) for n, v in facts.headers],
        protocols=protocols,
    )


def identity_status(agent: AgentInfo) -> AgentIdentity | None:
    found = agent.identity
    if found is None or not (found.principal_id or found.client_id):
        return None
    return AgentIdentity(principal_id=found.principal_id, client_id=found.client_id)


def seen(
    facts: EndpointFacts, agent: AgentInfo, spec_protocols: Sequence[str], *, suspended: bool
) -> Seen:
    return Seen(
        endpoint=endpoint_status(facts, agent, spec_protocols),
        identity=identity_status(agent),
        suspended=suspended,
    )


# --- the ConfigMap ---------------------------------------------------------------------------

_NOT_ENV = re.compile(r"[^A-Z0-9_]")


def header_key(name: str) -> str:
    """The ConfigMap key of a header: upper case, every other character '_' (so
    Foundry-Features is FOUNDRY_FEATURES), a valid environment variable name."""
    key = _NOT_ENV.sub("_", name.upper())
    return f"_{key}" if key[:1].isdigit() else key


def configmap_data(agent_name: str, endpoint: AgentEndpoint) -> dict[str, str]:
    data = {
        KEY_BASE_URL: endpoint.base_url,
        KEY_API_VERSION: endpoint.api_version,
        KEY_AGENT_NAME: agent_name,
        KEY_TOKEN_SCOPE: endpoint.token_scope,
        KEY_PROTOCOLS: ",".join(endpoint.protocols),
        KEY_CUSTOM_HEADERS: "\n".join(f"{h.name}: {h.value}" for h in endpoint.headers),
    }
    for header in endpoint.headers:
        key = header_key(header.name)
        if key not in FIXED_KEYS:  # a header never overwrites one of the fixed keys
            data[key] = header.value
    return data


@dataclass(frozen=True)
class Owner:
    """The HostedAgent that owns the ConfigMap."""

    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class ObservedConfigMap:
    """The parts of an existing ConfigMap the decision reads."""

    uid: str
    resource_version: str
    data: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    has_binary_data: bool = False
    # The ownerReference with controller: true, if any: (kind, name, uid).
    controller: tuple[str, str, str] | None = None


def observe_configmap(body: Mapping[str, Any]) -> ObservedConfigMap:
    meta = body.get("metadata") or {}
    controller = next(
        (
            (str(r.get("kind", "")), str(r.get("name", "")), str(r.get("uid", "")))
            for r in meta.get("ownerReferences") or []
            if r.get("controller")
        ),
        None,
    )
    return ObservedConfigMap(
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        data={str(k): str(v) for k, v in (body.get("data") or {}).items()},
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        has_binary_data=bool(body.get("binaryData")),
        controller=controller,
    )


def owned_by(existing: ObservedConfigMap, owner: Owner) -> bool:
    """Ours: its controller is this HostedAgent, this very object (same UID)."""
    return existing.controller is not None and existing.controller == (
        KIND,
        owner.name,
        owner.uid,
    )


class Step(StrEnum):
    KEEP = "Keep"  # ours, and it already says what status says
    CREATE = "Create"
    UPDATE = "Update"
    CONFLICT = "Conflict"  # someone else's: never touched


def configmap_step(
    existing: ObservedConfigMap | None, owner: Owner, data: Mapping[str, str]
) -> Step:
    if existing is None:
        return Step.CREATE
    if not owned_by(existing, owner):
        return Step.CONFLICT
    labelled = existing.labels.get(MANAGED_BY_LABEL) == MANAGED_BY
    if dict(existing.data) == dict(data) and labelled and not existing.has_binary_data:
        return Step.KEEP
    return Step.UPDATE


def configmap_body(name: str, owner: Owner, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [owner.reference()],
        },
        "data": dict(data),
    }


def configmap_patch(existing: ObservedConfigMap, data: Mapping[str, str]) -> dict[str, Any]:
    """A merge patch that makes our ConfigMap hold exactly ``data``: keys someone added are
    removed. It carries the resourceVersion read, so a ConfigMap replaced meanwhile (perhaps
    by someone else's) answers 409 instead of being overwritten."""
    patch: dict[str, Any] = {
        "metadata": {
            "resourceVersion": existing.resource_version,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
        },
        "data": {**dict.fromkeys(k for k in existing.data if k not in data), **data},
    }
    if existing.has_binary_data:
        patch["binaryData"] = None
    return patch


def conflict_message(name: str, existing: ObservedConfigMap, owner: Owner) -> str:
    if existing.controller is None:
        whose = "it has no controlling owner"
    else:
        kind, other, uid = existing.controller
        if (kind, other) == (KIND, owner.name) and uid != owner.uid:
            whose = (
                f"it belongs to an earlier {KIND} named {other!r} (UID {uid}), which "
                "Kubernetes garbage collection removes"
            )
        else:
            whose = f"it is controlled by {kind} {other!r}"
    return (
        f"ConfigMap {name!r} exists and is not owned by this {KIND} ({whose}); nothing in it "
        "was changed"
    )


def stale_configmap(recorded: str | None, wanted: str | None) -> str | None:
    """The ConfigMap the operator wrote before and no longer should: spec.endpointConfigMap
    was removed or renamed. Deleted only if still ours."""
    return recorded if recorded and recorded != wanted else None
