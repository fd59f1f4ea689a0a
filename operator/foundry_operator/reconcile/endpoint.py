"""The agent endpoint's settings: what the spec asks of them, the PATCH that sets them, and
whether Foundry has them. Pure: no I/O.

Foundry keeps these on the agent, not on a version (``AgentEndpointConfig``), so they are
outside the spec hash: changing them never makes a version. Every routing PATCH carries them,
and when only they differ they are PATCHed alone. That PATCH leaves ``version_selector`` out:
``update_details`` is a JSON merge patch (RFC 7396), so an absent member is left as it is and
the traffic split a rollout holds is never touched.

A setting the spec leaves unset is Foundry's: it is neither sent nor compared, so the
operator never fights a value Foundry (or its default) holds. Protocol keys are sent with
every routing PATCH as before, but their presence is not compared: a service that does not
echo them must not cost a write at every resync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from ..api.spec import HostedAgentSpec
from .observed import AgentInfo

JSON = dict[str, Any]

# The members of the SDK's ProtocolConfiguration. voice and voice_conversation_engine are
# protocols a version serves (AgentEndpointProtocol) but have no endpoint configuration, so
# they are never sent as keys of protocol_configuration.
PROTOCOL_CONFIGURATION_KEYS: Final = frozenset(
    {"activity", "responses", "a2a", "mcp", "invocations", "invocations_ws"}
)


@dataclass(frozen=True)
class EndpointSettings:
    """The agent endpoint as the spec wants it, in wire terms."""

    # protocol -> its options (snake_case wire names), for every configurable protocol served.
    protocol_configuration: Mapping[str, Mapping[str, Any]]
    # Scheme types in the spec's order; None leaves them to Foundry.
    authorization_schemes: tuple[str, ...] | None = None


def desired_endpoint(spec: HostedAgentSpec) -> EndpointSettings:
    protocols = sorted(
        str(p.protocol) for p in spec.protocols if str(p.protocol) in PROTOCOL_CONFIGURATION_KEYS
    )
    configuration: dict[str, dict[str, Any]] = {p: {} for p in protocols}
    endpoint = spec.endpoint
    activity = endpoint.activity if endpoint is not None else None
    public = activity.enable_m365_public_endpoint if activity is not None else None
    # The CRD requires the activity protocol for these options; without it they go nowhere.
    if public is not None and "activity" in configuration:
        configuration["activity"]["enable_m365_public_endpoint"] = public
    schemes = (
        tuple(str(s.type) for s in endpoint.authorization_schemes)
        if endpoint is not None and endpoint.authorization_schemes is not None
        else None
    )
    return EndpointSettings(protocol_configuration=configuration, authorization_schemes=schemes)


def agent_endpoint_body(settings: EndpointSettings, weights: Mapping[str, int] | None) -> JSON:
    """The ``agent_endpoint`` of an ``update_details`` PATCH, as the SDK serialises an
    ``AgentEndpointConfig``: the settings, and FixedRatio rules for ``weights`` (versions at
    0 % are left out). ``weights`` None leaves the routing out, and so as it is."""
    body: JSON = {}
    if weights is not None:
        body["version_selector"] = {
            "version_selection_rules": [
                {"type": "FixedRatio", "agent_version": v, "traffic_percentage": pct}
                for v, pct in weights.items()
                if pct > 0
            ]
        }
    body["protocol_configuration"] = {
        p: dict(options) for p, options in settings.protocol_configuration.items()
    }
    if settings.authorization_schemes is not None:
        body["authorization_schemes"] = [{"type": t} for t in settings.authorization_schemes]
    return body


def endpoint_in_step(settings: EndpointSettings, agent: AgentInfo) -> bool:
    """Whether Foundry's endpoint holds every setting the spec states (the order of the
    schemes aside: they are a set to a caller)."""
    if settings.authorization_schemes is not None and (
        agent.authorization_schemes is None
        or set(agent.authorization_schemes) != set(settings.authorization_schemes)
    ):
        return False
    for protocol, options in settings.protocol_configuration.items():
        held = agent.protocol_options.get(protocol) or {}
        if any(held.get(key) != value for key, value in options.items()):
            return False
    return True


def as_applied(agent: AgentInfo, settings: EndpointSettings) -> AgentInfo:
    """``agent`` with ``settings`` in place: what a PATCH Foundry accepted leaves, for when
    its answer could not be read."""
    options = {p: dict(o) for p, o in agent.protocol_options.items()}
    for protocol, wanted in settings.protocol_configuration.items():
        options[protocol] = {**options.get(protocol, {}), **wanted}
    schemes = settings.authorization_schemes
    return replace(
        agent,
        protocol_options=options,
        authorization_schemes=schemes if schemes is not None else agent.authorization_schemes,
    )
