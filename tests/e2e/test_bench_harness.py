"""The benchmark harness and the short resilience scenarios, run small.

Each starts its own control plane, emulator and operator (a scenario restarts the API server,
which must not disturb the session's shared cluster), so only the short ones run here; the
100-agent versions are `make bench-resilience`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.harness import Params
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
        "param_latency_ms",
    ):
        assert key in result, key
    assert result["ready"] == 5
    assert result["duplicate_versions"] == 0 and result["leftover_versions"] == 0
    assert result["steady_state_writes"] == 0


@pytest.mark.parametrize("scenario", ["emulator-restart", "apiserver-restart"])
def test_short_resilience_scenario_converges_without_duplicates(
    scenario: str, tmp_path: Path
) -> None:
    report = run_one(scenario, 10, tmp_path, Params(latency_ms=10, provisioning_seconds=1))
    assert report.passed, report.checks
