"""What the operator observed in Foundry, as plain values (no SDK types)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Foundry's version lifecycle: creating -> active | failed, then deleting -> deleted.
CREATING = "creating"
ACTIVE = "active"
FAILED = "failed"
GONE = frozenset({"deleting", "deleted"})


@dataclass(frozen=True)
class VersionInfo:
    """What the operator needs to know about one agent version."""

    agent: str
    version: str
    status: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    created_at: int = 0
    # What Foundry holds, for versions made outside the operator (their spec hash is
    # computed from it: reconcile.adopt). May hold secret values: never log it.
    definition: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    description: str | None = None
    # For a version made outside the operator rebuilt from status (no definition read):
    # the hash status recorded for it.
    recorded_hash: str | None = None

    @property
    def number(self) -> int:
        return int(self.version) if self.version.isdigit() else -1


@dataclass(frozen=True)
class Identity:
    """AgentDetails.instance_identity: the agent's own Entra identity."""

    principal_id: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class AgentInfo:
    name: str
    # version -> traffic percentage, from the endpoint's FixedRatio rules
    routing: Mapping[str, int] = field(default_factory=dict)
    # AgentDetails.state: whether the endpoint accepts requests at all (it may be disabled
    # by the administrative switch below, or by its identity or blueprint: state_source).
    enabled: bool = True
    # versions.latest of AgentDetails: with the routing above, enough to look at an object
    # that is creating or serving without listing every version.
    latest: VersionInfo | None = None
    # AgentDetails.configuration_state: the switch that enable/disable flip.
    configured_enabled: bool = True
    # AgentDetails.state_source: where a disabled state comes from, when not the switch.
    state_source: str | None = None
    identity: Identity | None = None
    # The protocols the agent endpoint is configured for (protocol_configuration's keys).
    protocols: tuple[str, ...] = ()
    # protocol_configuration itself: protocol -> its options, as Foundry holds them.
    protocol_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The types of agent_endpoint.authorization_schemes; None when Foundry reports none.
    authorization_schemes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EndpointFacts:
    """How a client reaches one agent, as the SDK's get_openai_client(agent_name=...) would
    set itself up: base URL, the api-version query value, the token scope and the headers."""

    base_url: str
    api_version: str
    token_scope: str
    headers: tuple[tuple[str, str], ...] = ()
