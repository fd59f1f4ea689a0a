"""`make bench`: how fast a fleet converges, how hard it hits Foundry, what it costs.

    python -m bench.run --agents 100 --latency-ms 50 --provisioning 2

Creates N HostedAgents at once, waits until all are Ready, measures a quiet period, updates
all of them, deletes all of them, then times the sequential SDK baseline on a sample and
runs the async peer (bench/peer.py) for N agents against the same emulator. The last line
printed is one JSON object with every figure and the parameters.

The operator runs with the interpreter of a virtualenv that holds only its wheel and its
runtime dependencies, as the image does (bench/operator_venv.py; built once per change of
its sources, in the project cache). ``--operator-python .venv/bin/python`` runs it from the
dev virtualenv instead, for debugging; its figures are then not the image's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .baseline import create_sequentially
from .harness import (
    Fleet,
    Params,
    cpu_seconds,
    dump,
    foundry_calls_by_operation,
    foundry_counts,
    kube_writes,
    log,
    peak_rss_mb,
    percentile,
    run_peer,
    running_stack,
    versions_per_agent,
)
from .operator_venv import ENV_VAR, OperatorVenvError
from .plot import plot_ready_over_time

OUT = Path(__file__).resolve().parent / "out"


def parse(argv: list[str] | None = None) -> tuple[Params, Path, Path | None]:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = Params()
    p.add_argument("--agents", type=int, default=d.agents)
    p.add_argument("--latency-ms", type=float, default=d.latency_ms, help="injected per call")
    p.add_argument("--provisioning", type=float, default=d.provisioning_seconds, help="seconds")
    p.add_argument("--throttle-rate", type=float, default=d.throttle_rate, help="share of 429s")
    p.add_argument("--error-rate", type=float, default=d.error_rate, help="share of 503s")
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="operator's Foundry cap")
    p.add_argument("--resync", type=float, default=d.resync_seconds, help="operator resync seconds")
    p.add_argument("--quiet", type=float, default=d.quiet_seconds, help="steady-state window")
    p.add_argument("--deadline", type=float, default=d.deadline_seconds)
    p.add_argument("--baseline-agents", type=int, default=d.baseline_agents)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--operator-python",
        type=Path,
        default=None,
        metavar="PATH",
        help="run the operator with this interpreter (e.g. .venv/bin/python, to debug) instead "
        f"of the bench virtualenv's; ${ENV_VAR} does the same",
    )
    a = p.parse_args(argv)
    params = Params(
        agents=a.agents,
        latency_ms=a.latency_ms,
        provisioning_seconds=a.provisioning,
        throttle_rate=a.throttle_rate,
        error_rate=a.error_rate,
        concurrency=a.concurrency,
        resync_seconds=a.resync,
        quiet_seconds=a.quiet,
        deadline_seconds=a.deadline,
        baseline_agents=min(a.baseline_agents, a.agents),
    )
    return params, a.out, a.operator_python


def run(params: Params, out: Path, operator_python: Path | None = None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    root = out / f"run-{params.agents}-{int(time.time())}"
    n = params.agents
    with running_stack(root, params, operator_python) as stack:
        admin = stack.admin()
        os.environ.update(stack.emulator.env)  # for the baseline's DefaultAzureCredential
        fleet = Fleet(stack, n)
        admin.reset(state=False, stats=True)

        pid = stack.operator.pid
        assert pid is not None  # started by running_stack
        kube_before = kube_writes(stack.api)
        cpu_before = cpu_seconds(pid)
        log(f"creating {n} HostedAgents at once")
        t0 = fleet.create()
        all_ready = fleet.wait_ready(1, params.deadline_seconds)
        create_times = fleet.durations(1, t0)
        create_cpu = cpu_seconds(pid) - cpu_before
        kube_by_resource = kube_writes(stack.api) - kube_before
        calls_to_ready, writes_to_ready = foundry_counts(admin)
        create_ops = foundry_calls_by_operation(admin)
        rss_after = {"create": stack.sampler.peak_rss_mb}
        per_agent = versions_per_agent(admin, "agent-")
        duplicates = sum(max(0, c - 1) for c in per_agent.values())

        log(
            f"quiet period of {params.quiet_seconds:.0f}s "
            f"(resync every {params.resync_seconds:.0f}s)"
        )
        admin.reset(state=False, stats=True)
        time.sleep(params.quiet_seconds)  # a measurement window, not a wait for a condition
        quiet_calls, quiet_writes = foundry_counts(admin)

        log(f"updating {n} HostedAgents")
        admin.reset(state=False, stats=True)
        t1 = fleet.update("2")
        all_updated = fleet.wait_ready(2, params.deadline_seconds)
        update_times = fleet.durations(2, t1)
        update_calls, update_writes = foundry_counts(admin)
        update_ops = foundry_calls_by_operation(admin)
        rss_after["update"] = stack.sampler.peak_rss_mb

        log(f"deleting {n} HostedAgents")
        admin.reset(state=False, stats=True)
        t2 = fleet.delete()
        all_deleted = fleet.wait_gone(params.deadline_seconds)
        seconds_to_deleted = time.monotonic() - t2
        delete_calls, delete_writes = foundry_counts(admin)
        leftover = sum(versions_per_agent(admin, "agent-").values())
        fleet.close()

        k = params.baseline_agents
        log(f"baseline: {k} agents one after another with the plain SDK")
        admin.reset(state=False, stats=True)
        baseline = create_sequentially(stack.emulator.endpoint, k)
        baseline_calls, _ = foundry_counts(admin)

        log(f"async peer: {n} agents at once, {params.concurrency} calls in flight")
        admin.reset(state=True, stats=True)  # the same settings, a fresh project
        peer = run_peer(stack.emulator.env, n, params.concurrency)
        peer_times: list[float] = peer.pop("routed_at")
        peer_calls, _ = foundry_counts(admin)
        peer_duplicates = sum(max(0, c - 1) for c in versions_per_agent(admin, "peer-").values())
        operator_rss = max(stack.sampler.peak_rss_mb, peak_rss_mb(pid) or 0.0)
        operator_cpu = stack.sampler.cpu_seconds
        operator_python_used = str(stack.interpreter.python)
        operator_package = str(stack.operator_package)

    seconds_to_ready = create_times[-1] if all_ready and create_times else float("nan")
    baseline_total = baseline[-1] / k * n if baseline else float("nan")
    bound = n * params.latency_ms / 1000 / params.concurrency + params.provisioning_seconds
    plot = plot_ready_over_time(
        create_times, baseline, peer_times, n, out / f"ready-over-time-{n}.png", params
    )
    total_calls = calls_to_ready + quiet_calls + update_calls + delete_calls
    # The harness itself sends one create per HostedAgent; the rest are the operator's.
    kube_by_resource["hostedagents"] -= n
    peer_seconds = peer["seconds_to_all_routed"]
    result: dict[str, Any] = {
        "agents": n,
        "ready": len(create_times),
        "seconds_to_all_ready": round(seconds_to_ready, 2),
        "p50_seconds_to_ready": round(percentile(create_times, 50), 2),
        "p99_seconds_to_ready": round(percentile(create_times, 99), 2),
        "seconds_to_all_updated": round(update_times[-1], 2)
        if all_updated and update_times
        else None,
        "seconds_to_all_deleted": round(seconds_to_deleted, 2) if all_deleted else None,
        "foundry_calls_total": total_calls,
        "foundry_writes_total": writes_to_ready + quiet_writes + update_writes + delete_writes,
        "foundry_calls_per_agent": round(calls_to_ready / n, 2),
        "foundry_calls_per_agent_update": round(update_calls / n, 2),
        "foundry_calls_by_operation_create": create_ops,
        "foundry_calls_by_operation_update": update_ops,
        "foundry_calls_per_agent_delete": round(delete_calls / n, 2),
        "steady_state_calls_per_agent_per_hour": round(
            quiet_calls / n / params.quiet_seconds * 3600, 2
        ),
        "steady_state_writes": quiet_writes,
        "duplicate_versions": duplicates,
        "leftover_versions": leftover,
        "operator_peak_rss_mb": round(operator_rss, 1),
        "operator_peak_rss_mb_by_phase": {k: round(v, 1) for k, v in rss_after.items()},
        "operator_cpu_seconds": round(operator_cpu, 1),
        "operator_cpu_seconds_per_agent": round(create_cpu / n, 4),
        "kube_writes_per_agent": round(sum(kube_by_resource.values()) / n, 2),
        "kube_writes_by_resource": dict(sorted(kube_by_resource.items())),
        "peer_agents": peer["agents"],
        "peer_routed": peer["routed"],
        "peer_seconds_to_all_routed": peer_seconds,
        "peer_foundry_calls_per_agent": round(peer_calls / n, 2),
        "peer_cpu_seconds_per_agent": round(peer["cpu_seconds"] / n, 4),
        "peer_peak_rss_mb": peer["peak_rss_mb"],
        "peer_duplicate_versions": peer_duplicates,
        "ratio_to_async_peer": round(seconds_to_ready / peer_seconds, 2) if peer_seconds else None,
        "baseline_agents_timed": k,
        "baseline_seconds_per_agent": round(baseline[-1] / k, 3) if baseline else None,
        "baseline_calls_per_agent": round(baseline_calls / k, 2) if k else None,
        "baseline_seconds_for_all_estimated": round(baseline_total, 1),
        "speedup_vs_baseline": round(baseline_total / seconds_to_ready, 1),
        "physical_bound_seconds": round(bound, 2),
        "bound_ratio": round(seconds_to_ready / bound, 2),
        "plot": str(plot) if plot else None,
        # Which interpreter ran the operator, and where its code came from: the bench
        # virtualenv (the image's packages) unless --operator-python chose another.
        "operator_python": operator_python_used,
        "operator_package": operator_package,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 2**30} GiB",
        **{f"param_{key}": value for key, value in asdict(params).items()},
    }
    (out / f"result-{n}.json").write_text(json.dumps(result, indent=2))
    return result


def main(argv: list[str] | None = None) -> int:
    params, out, operator_python = parse(argv)
    try:
        result = run(params, out, operator_python)
    except OperatorVenvError as exc:
        print(f"bench: error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(dump(result), flush=True)
    ok = result["ready"] == params.agents and result["duplicate_versions"] == 0
    ok = ok and result["leftover_versions"] == 0
    # A peer that did not route every agent makes ratio_to_async_peer meaningless.
    return 0 if ok and result["peer_routed"] == params.agents else 1


if __name__ == "__main__":
    sys.exit(main())
