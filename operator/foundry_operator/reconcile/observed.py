"""What the operator observed in Foundry, as plain values (no SDK types)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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

    @property
    def number(self) -> int:
        return int(self.version) if self.version.isdigit() else -1


@dataclass(frozen=True)
class AgentInfo:
    name: str
    # version -> traffic percentage, from the endpoint's FixedRatio rules
    routing: Mapping[str, int] = field(default_factory=dict)
    enabled: bool = True
    # versions.latest of AgentDetails: with the routing above, enough to look at an object
    # that is creating or serving without listing every version.
    latest: VersionInfo | None = None
