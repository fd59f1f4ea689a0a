"""The benchmark harness, the async peer and the short resilience scenarios, run small.

Each starts its own control plane, emulator and operator (a scenario restarts the API server,
which must not disturb the session's shared cluster), so only the short ones run here; the
100-agent versions are `make bench-resilience`. Figures are checked for presence and sanity,
never for speed: speed is what `make bench` measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.deps import EmulatorProcess
from bench.harness import Params, foundry_counts, run_peer, versions_per_agent
from bench.scenarios import run_one

REPO = Path(__file__).resolve().parents[2]


def test_bench_prints_one_json_line_with_every_figure(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--agents",
            "5",
            "--quiet",
            "2",
            "--resync",
            "60",
            "--baseline-agents",
            "1",
            "--provisioning",
            "0.5",
            "--latency-ms",
            "10",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "agents",
        "ready",
        "seconds_to_all_ready",
        "p50_seconds_to_ready",
        "p99_seconds_to_ready",
        "seconds_to_all_updated",
        "seconds_to_all_deleted",
        "foundry_calls_total",
        "foundry_writes_total",
        "foundry_calls_per_agent",
        "steady_state_calls_per_agent_per_hour",
        "duplicate_versions",
        "leftover_versions",
        "operator_peak_rss_mb",
        "operator_cpu_seconds",
        "operator_cpu_seconds_per_agent",
        "kube_writes_per_agent",
        "kube_writes_by_resource",
        "peer_routed",
        "peer_seconds_to_all_routed",
        "peer_foundry_calls_per_agent",
        "peer_cpu_seconds_per_agent",
        "peer_peak_rss_mb",
        "ratio_to_async_peer",
        "param_latency_ms",
        "operator_python",
        "operator_package",
    ):
        assert key in result, key
    if "BENCH_OPERATOR_PYTHON" not in os.environ:
        # The operator ran from the bench virtualenv (the image's packages), not this one.
        assert result["operator_python"] != sys.executable
        assert "/bench-venv-" in result["operator_package"], result["operator_package"]
    assert result["ready"] == 5
    # Creating, polling and routing: at least three calls each, for both.
    assert result["foundry_calls_per_agent"] >= 3
    assert result["peer_routed"] == 5 and result["peer_foundry_calls_per_agent"] >= 3
    assert result["peer_duplicate_versions"] == 0
    # At least its status on the way to Ready; the harness's own creates are not counted.
    assert result["kube_writes_by_resource"].get("hostedagents/status", 0) >= 5
    assert result["operator_cpu_seconds_per_agent"] >= 0
    assert result["ratio_to_async_peer"] > 0
    assert result["duplicate_versions"] == 0 and result["leftover_versions"] == 0
    assert result["steady_state_writes"] == 0


def test_async_peer_routes_every_agent_with_sane_figures(tmp_path: Path) -> None:
    emulator = EmulatorProcess.start(
        tmp_path / "emulator",
        config={
            "lifecycle": {"provisioning_seconds": 0.5},
            "faults": [{"kind": "latency", "latency_ms": 10}],
        },
    )
    try:
        admin = emulator.admin()
        admin.reset(state=True, stats=True)
        figures = run_peer(emulator.env, agents=3, concurrency=2)
        calls, writes = foundry_counts(admin)
        versions = versions_per_agent(admin, "peer-")
    finally:
        emulator.stop()
    assert figures["routed"] == 3 and figures["failed"] == {}, figures
    assert len(figures["routed_at"]) == 3 and figures["seconds_to_all_routed"] > 0
    # create_version, at least one get_version, update_details: per agent, seen by Foundry.
    assert calls / 3 >= 3 and writes == 6
    assert figures["calls"]["create_version"] == 3 and figures["calls"]["update_details"] == 3
    assert versions == {"peer-0000": 1, "peer-0001": 1, "peer-0002": 1}
    assert figures["cpu_seconds"] > 0 and figures["cpu_seconds_total"] >= figures["cpu_seconds"]
    assert figures["peak_rss_mb"] > 10


@pytest.mark.parametrize("scenario", ["emulator-restart", "apiserver-restart"])
def test_short_resilience_scenario_converges_without_duplicates(
    scenario: str, tmp_path: Path
) -> None:
    report = run_one(scenario, 10, tmp_path, Params(latency_ms=10, provisioning_seconds=1))
    assert report.passed, report.checks
