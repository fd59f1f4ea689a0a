"""How traffic moves from the serving version to a new one. Pure: no I/O, no clock.

A new version never takes traffic unproven: when the HostedAgent has a probe, the version
answers it (through a session pinned to that version) before its first share and again
before each larger one. With ``rollout.steps`` the share grows step by step, each step held
for its pause; without steps it takes everything at once, as a Deployment without a
strategy would. A failing probe sends all traffic back to the version that served before
and the rollout is not tried again for the same spec until a person asks (the retry
annotation) or the spec changes.

The rollout's progress lives in ``status.rollout`` (the version, the step, when the step
began), so a restarted operator resumes where it stood instead of starting over; without it
(status lost) the current split is kept and the step's pause starts again, which never moves
traffic faster than asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Move(StrEnum):
    PROBE = "Probe"  # ask the target version first; decide again with the answer
    SHIFT = "Shift"  # route ``weights`` now
    HOLD = "Hold"  # the current step's pause is not over: look again after ``wait``
    DONE = "Done"  # the target has all traffic
    ABORT = "Abort"  # route ``weights`` (all back to the previous version) and stop


@dataclass(frozen=True)
class Step:
    weight: int  # percent of traffic for the new version, 1..99
    pause_seconds: float


@dataclass(frozen=True)
class Progress:
    """What status.rollout remembers of a rollout in flight."""

    version: str
    step: int  # index into the steps; -1 before the first share
    since: datetime | None  # when the current step's share was routed


@dataclass(frozen=True)
class Decision:
    move: Move
    weights: Mapping[str, int] | None = None
    progress: Progress | None = None
    wait: float | None = None
    message: str = ""


def split(target: str, previous: str | None, weight: int) -> dict[str, int]:
    """FixedRatio weights giving ``target`` its share and the rest to ``previous``."""
    if previous is None or weight >= 100:
        return {target: 100}
    return {target: weight, previous: 100 - weight}


def _step_text(index: int, steps: Sequence[Step]) -> str:
    return f"step {index + 1}/{len(steps)}"


def decide(
    *,
    target: str,
    previous: str | None,
    routing: Mapping[str, int],
    steps: Sequence[Step],
    progress: Progress | None,
    now: datetime,
    probe: bool,
    probe_passed: bool | None,
) -> Decision:
    """The next move for an active ``target`` version.

    ``previous`` is the version of ours that served before (None for a first version, which
    has nothing to protect and takes all traffic once it answers). ``probe_passed`` is the
    answer of a probe made during this reconcile (None: none made yet).
    """
    if routing.get(target, 0) >= 100:
        return Decision(Move.DONE)
    if probe_passed is False:
        back = {previous: 100} if previous is not None else None
        return Decision(Move.ABORT, weights=back)
    stage = progress.step if progress is not None and progress.version == target else -1
    if previous is None or not steps:
        if probe and probe_passed is None:
            return Decision(Move.PROBE, message="probing before it takes traffic")
        return Decision(Move.SHIFT, weights={target: 100})

    if stage >= 0 and progress is not None:
        pause = steps[min(stage, len(steps) - 1)].pause_seconds
        elapsed = (now - progress.since).total_seconds() if progress.since else 0.0
        if progress.since is None or elapsed < pause:
            wait = pause if progress.since is None else pause - elapsed
            held = progress if progress.since is not None else Progress(target, stage, now)
            share = routing.get(target, 0)
            return Decision(
                Move.HOLD,
                weights=None,
                progress=held,
                wait=max(wait, 1.0),
                message=f"{_step_text(stage, steps)}: {share}% of traffic, next step in "
                f"{max(wait, 1.0):.0f}s",
            )
    nxt = stage + 1
    if probe and probe_passed is None:
        what = "before it takes traffic" if nxt == 0 else f"before {_step_text(nxt, steps)}"
        if nxt >= len(steps):
            what = "before it takes all traffic"
        return Decision(Move.PROBE, message=f"probing {what}")
    if nxt >= len(steps):
        return Decision(Move.SHIFT, weights={target: 100}, progress=None)
    weight = steps[nxt].weight
    return Decision(
        Move.SHIFT,
        weights=split(target, previous, weight),
        progress=Progress(target, nxt, now),
        message=f"{_step_text(nxt, steps)}: {weight}% of traffic",
    )


def previous_version(routing: Mapping[str, int], target: str, ours: Sequence[str]) -> str | None:
    """The version of ours that carries the most traffic besides the target."""
    candidates = [(pct, v) for v, pct in routing.items() if v != target and v in ours and pct > 0]
    return max(candidates)[1] if candidates else None
