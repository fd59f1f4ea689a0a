"""Resilience scenarios: break things during a rollout and check nothing is lost.

    python -m bench.scenarios --scenario all --agents 100

Each scenario prints what it checked (no duplicate versions, no leftovers, everything
converged) and how long it took; the last line is a JSON object with every result.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deps import APISERVER
from .harness import (
    Fleet,
    Params,
    Stack,
    dump,
    foundry_counts,
    log,
    running_stack,
    versions_per_agent,
)
from .operator_venv import ENV_VAR, OperatorVenvError

OUT = Path(__file__).resolve().parent / "out"


@dataclass
class Report:
    scenario: str
    agents: int
    checks: dict[str, bool] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(self, what: str, ok: bool) -> None:
        self.checks[what] = ok
        log(f"  {'PASS' if ok else 'FAIL'}  {what}")

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


def _rollout(stack: Stack, report: Report, disrupt: Callable[[Fleet], None]) -> Fleet:
    """Create the fleet, call ``disrupt`` while it rolls out, and check convergence."""
    fleet = Fleet(stack, report.agents)
    stack.admin().reset(state=False, stats=True)
    started = fleet.create()
    disrupt(fleet)
    converged = fleet.wait_ready(1, stack.params.deadline_seconds)
    report.figures["seconds_to_all_ready"] = round(time.monotonic() - started, 1)
    calls, _ = foundry_counts(stack.admin())
    report.figures["foundry_calls_per_agent"] = round(calls / report.agents, 2)
    report.check(f"all {report.agents} agents converged to Ready", converged)
    counts = versions_per_agent(stack.admin(), "agent-")
    report.check(
        "no duplicate versions (exactly one per agent)",
        len(counts) == report.agents and set(counts.values()) == {1},
    )
    return fleet


def _teardown(
    stack: Stack, report: Report, fleet: Fleet, during: Callable[[], None] = lambda: None
) -> None:
    started = fleet.delete()
    during()
    gone = fleet.wait_gone(stack.params.deadline_seconds)
    report.figures["seconds_to_all_deleted"] = round(time.monotonic() - started, 1)
    report.check("every HostedAgent deleted (finalizers released)", gone)
    report.check(
        "no versions left in Foundry",
        sum(versions_per_agent(stack.admin(), "agent-").values()) == 0,
    )
    fleet.close()


def sigkill(stack: Stack, report: Report) -> None:
    kills = 5

    def disrupt(fleet: Fleet) -> None:
        for _kill in range(kills):
            time.sleep(2.0)
            stack.operator.kill()
            stack.start_operator()
        report.figures["operator_kills"] = kills

    _teardown(stack, report, _rollout(stack, report, disrupt))


def emulator_restart(stack: Stack, report: Report) -> None:
    def disrupt(_: Fleet) -> None:
        time.sleep(2.0)
        stack.emulator.restart()

    _teardown(stack, report, _rollout(stack, report, disrupt))


def apiserver_restart(stack: Stack, report: Report) -> None:
    def disrupt(_: Fleet) -> None:
        time.sleep(2.0)
        stack.cluster.stop((APISERVER,))
        time.sleep(3.0)  # the API server is down for this long: part of the scenario
        stack.cluster.start()

    _teardown(stack, report, _rollout(stack, report, disrupt))


def throttled(stack: Stack, report: Report) -> None:
    _teardown(stack, report, _rollout(stack, report, lambda _: None))


def foundry_down_during_delete(stack: Stack, report: Report) -> None:
    fleet = _rollout(stack, report, lambda _: None)

    def outage() -> None:
        stack.emulator.stop()
        time.sleep(60)  # Foundry is down for a minute: the scenario itself
        report.check(
            "objects still held by their finalizers during the outage", fleet.remaining() > 0
        )
        stack.emulator.restart()

    _teardown(stack, report, fleet, during=outage)


SCENARIOS: dict[str, tuple[Callable[[Stack, Report], None], dict[str, Any]]] = {
    "sigkill": (sigkill, {}),
    "emulator-restart": (emulator_restart, {}),
    "apiserver-restart": (apiserver_restart, {}),
    "throttle-30": (throttled, {"throttle_rate": 0.3}),
    "foundry-down-during-delete": (foundry_down_during_delete, {}),
}


def run_one(
    name: str, agents: int, out: Path, base: Params, operator_python: Path | None = None
) -> Report:
    fn, overrides = SCENARIOS[name]
    params = Params(**{**base.__dict__, "agents": agents, **overrides})
    report = Report(name, agents)
    log(f"scenario {name}: {agents} agents")
    root = out / f"scenario-{name}-{int(time.time())}"
    with running_stack(root, params, operator_python) as stack:
        report.figures["operator_python"] = str(stack.interpreter.python)
        fn(stack, report)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scenario", default="all", choices=["all", *SCENARIOS])
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--latency-ms", type=float, default=50)
    p.add_argument("--provisioning", type=float, default=2)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--operator-python",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"run the operator with this interpreter instead of the bench virtualenv's "
        f"(${ENV_VAR} does the same)",
    )
    a = p.parse_args(argv)
    base = Params(
        latency_ms=a.latency_ms, provisioning_seconds=a.provisioning, deadline_seconds=600
    )
    names = list(SCENARIOS) if a.scenario == "all" else [a.scenario]
    try:
        reports = [run_one(name, a.agents, a.out, base, a.operator_python) for name in names]
    except OperatorVenvError as exc:
        print(f"bench: error: {exc}", file=sys.stderr, flush=True)
        return 2
    summary = {r.scenario: {"passed": r.passed, "checks": r.checks, **r.figures} for r in reports}
    print(dump(summary), flush=True)
    return 0 if all(r.passed for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
