"""spec.probe and spec.rollout: proving a version answers, and moving traffic to it in steps.

Neither enters the spec hash: changing how a version is proven or rolled out never makes a
new version.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Final

from pydantic import Field

from foundry_operator.api.rules import CrdModel, Rule, k8s_extra

PAUSE_FORM: Final = r"^[0-9]{1,5}(s|m|h)$"
_PAUSE_UNITS: Final = {"s": 1, "m": 60, "h": 3600}
ROLLOUT_STEPS_MAX: Final = 10
PROBE_INPUT_MAX: Final = 4096


def pause_seconds(pause: str) -> float:
    """ "90s", "5m", "1h" as seconds."""
    match = re.fullmatch(PAUSE_FORM, pause)
    if match is None:
        raise ValueError(f"pause {pause!r} is not a duration like 60s, 5m or 1h")
    return float(int(pause[:-1]) * _PAUSE_UNITS[pause[-1]])


class Probe(CrdModel):
    """A question the agent must answer before it takes traffic (and while it serves)."""

    input: Annotated[str, Field(min_length=1, max_length=PROBE_INPUT_MAX)] = Field(
        description="Text sent to the agent through the Responses protocol, as a client would."
    )
    expect: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        default=None,
        description="A substring the answer must contain. Unset: any non-empty answer passes.",
    )
    timeout_seconds: int = Field(
        default=30, ge=1, le=300, description="How long to wait for the answer. Default 30."
    )
    period_seconds: int = Field(
        default=300,
        ge=0,
        le=86400,
        description="How often to ask the serving version again, in seconds; 0 asks only "
        "before a version takes traffic. Default 300.",
    )


class RolloutStep(CrdModel):
    """One share of traffic for the new version, held for a while."""

    weight: int = Field(
        ge=1, le=99, description="Percent of the traffic the new version gets in this step."
    )
    pause: Annotated[str, Field(max_length=6, pattern=PAUSE_FORM)] = Field(
        description="How long the step holds before the next one, e.g. 60s, 5m or 1h."
    )


class Rollout(CrdModel):
    """How a new version takes the traffic from the serving one."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.steps.all(s, self.steps.filter(t, t.weight == s.weight).size() == 1)",
            "spec.rollout.steps: each weight may appear once",
            check=lambda r: len({s.weight for s in r.steps}) == len(r.steps),
        ),
    )

    steps: list[RolloutStep] = Field(
        default_factory=list,
        max_length=ROLLOUT_STEPS_MAX,
        description="Shares of traffic the new version takes one after another, in order of "
        "weight, each after the probe (if any) passes; after the last it takes 100%. Empty: "
        "all at once.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )

    def ordered(self) -> list[tuple[int, float]]:
        """(weight, pause seconds) in the order they are taken."""
        return sorted((s.weight, pause_seconds(s.pause)) for s in self.steps)
