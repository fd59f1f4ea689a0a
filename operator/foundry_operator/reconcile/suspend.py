"""spec.suspend: whether to flip the Foundry agent's switch, and what to report. Pure.

Foundry has one administrative switch per agent (``POST /agents/{name}:enable|:disable``,
read back as ``configuration_state``), apart from its operational ``state``, which can also
be disabled by the agent's identity or blueprint (``state_source``). The operator flips the
switch only when the spec asks for the other position, and enables an agent again only when
it was the one that disabled it (``status.suspended``): an agent someone switched off in
Foundry stays off and is reported as ``AgentDisabled``.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from .observed import AgentInfo


class Switch(StrEnum):
    KEEP = "Keep"  # Foundry already is as the spec wants (or there is no agent yet)
    DISABLE = "Disable"
    ENABLE = "Enable"


def switch(*, suspend: bool, agent: AgentInfo | None, suspended_by_us: bool) -> Switch:
    """The one call, if any, that puts the agent's switch where the spec wants it."""
    if agent is None:
        return Switch.KEEP  # nothing to switch yet; the next look, once it exists
    if suspend:
        return Switch.DISABLE if agent.configured_enabled else Switch.KEEP
    if not agent.configured_enabled and suspended_by_us:
        return Switch.ENABLE
    return Switch.KEEP


def switched(agent: AgentInfo, step: Switch) -> AgentInfo:
    """The agent as it is after ``step`` succeeded (without reading it again). Enabling
    the switch leaves a state that comes from elsewhere (the identity, the blueprint)."""
    if step is Switch.DISABLE:
        return replace(agent, configured_enabled=False, enabled=False)
    if step is Switch.ENABLE:
        return replace(agent, configured_enabled=True, enabled=agent.state_source is None)
    return agent


def held_suspended(*, suspend: bool, agent: AgentInfo | None) -> bool:
    """What ``status.suspended`` records: the operator holds the agent disabled for the
    spec. Not while the spec no longer asks (the enable comes first), nor without an agent."""
    return suspend and agent is not None and not agent.configured_enabled
