"""Traffic moves from the serving version to a new one step by step, each gated by the probe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from foundry_operator.reconcile.rollout import (
    Decision,
    Move,
    Progress,
    Step,
    decide,
    previous_version,
)

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
STEPS = (Step(10, 60), Step(50, 300))


def _decide(**kw: Any) -> Decision:
    args: dict[str, Any] = {
        "target": "2",
        "previous": "1",
        "routing": {"1": 100},
        "steps": STEPS,
        "progress": None,
        "now": T0,
        "probe": True,
        "probe_passed": None,
    }
    args.update(kw)
    return decide(**args)


def test_a_new_version_is_probed_before_its_first_share() -> None:
    d = _decide()
    assert d.move is Move.PROBE and d.weights is None


def test_after_a_passing_probe_it_gets_the_first_step() -> None:
    d = _decide(probe_passed=True)
    assert d.move is Move.SHIFT
    assert d.weights == {"2": 10, "1": 90}
    assert d.progress == Progress("2", 0, T0)


def test_a_step_holds_for_its_pause() -> None:
    d = _decide(
        routing={"1": 90, "2": 10},
        progress=Progress("2", 0, T0),
        now=T0 + timedelta(seconds=20),
    )
    assert d.move is Move.HOLD
    assert d.wait == 40
    assert "step 1/2: 10%" in d.message


def test_after_the_pause_the_probe_gates_the_next_step() -> None:
    later = T0 + timedelta(seconds=61)
    held = {"routing": {"1": 90, "2": 10}, "progress": Progress("2", 0, T0), "now": later}
    assert _decide(**held).move is Move.PROBE
    d = _decide(**held, probe_passed=True)
    assert d.weights == {"2": 50, "1": 50}
    assert d.progress == Progress("2", 1, later)


def test_after_the_last_step_it_takes_everything() -> None:
    later = T0 + timedelta(seconds=301)
    d = _decide(
        routing={"1": 50, "2": 50},
        progress=Progress("2", 1, T0),
        now=later,
        probe_passed=True,
    )
    assert d.move is Move.SHIFT and d.weights == {"2": 100}
    assert _decide(routing={"2": 100}).move is Move.DONE


def test_a_failing_probe_sends_everything_back() -> None:
    d = _decide(routing={"1": 90, "2": 10}, progress=Progress("2", 0, T0), probe_passed=False)
    assert d.move is Move.ABORT and d.weights == {"1": 100}


def test_without_steps_or_previous_it_is_all_at_once_after_the_probe() -> None:
    assert _decide(steps=()).move is Move.PROBE
    assert _decide(steps=(), probe_passed=True).weights == {"2": 100}
    first = _decide(previous=None, routing={}, probe=False)
    assert first.move is Move.SHIFT and first.weights == {"2": 100}


def test_lost_progress_keeps_the_split_and_starts_the_pause_again() -> None:
    # status.rollout lost (restored object) while at 10 %: nothing moves faster than asked
    d = _decide(routing={"1": 90, "2": 10}, progress=Progress("2", 0, None), probe=False)
    assert d.move is Move.HOLD and d.progress == Progress("2", 0, T0)


def test_previous_is_the_busiest_other_version_of_ours() -> None:
    assert previous_version({"1": 60, "2": 10, "9": 30}, "2", ["1", "2"]) == "1"
    assert previous_version({"2": 100}, "2", ["1", "2"]) is None
    assert previous_version({"7": 100}, "2", ["1", "2"]) is None  # not ours: never "previous"
