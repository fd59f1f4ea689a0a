"""Requests per second the Foundry emulator sustains for get_version and create_version.

Starts an emulator subprocess (no injected latency, provisioning delay 0), then drives it
with many concurrent async SDK clients (azure.ai.projects.aio + DefaultAzureCredential, as
the operator does) for a fixed time per operation, and prints one JSON document.

    .venv/bin/python bench/emulator_rps.py --duration 10 --clients 8 --concurrency 8

Client processes (``--processes``) share the machine with the emulator; on a small machine
the client side (azure-core's per-request cost) can be the limit, so the figure is a lower
bound of what the emulator itself can do. The emulator's own count is reported alongside.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "operator")]  # runnable as a plain script

# Import nothing that pulls in aiohttp here: it reads SSL_CERT_FILE once, at import, and the
# emulator's CA only exists after it starts (see docs/emulator.md, "Trusting the CA").
from bench.deps import EmulatorProcess  # noqa: E402

DEFINITION = {
    "kind": "hosted",
    "cpu": "0.5",
    "memory": "1Gi",
    "container_configuration": {"image": "acr.azurecr.io/bench/echo:1"},
    "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
}


@dataclass
class PhaseResult:
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)


def run_phase(
    env: dict[str, str],
    operation: str,
    worker_id: int,
    clients: int,
    concurrency: int,
    start_at: float,
    duration: float,
) -> dict[str, Any]:
    """One client process: ``clients`` SDK clients x ``concurrency`` in-flight calls each."""
    os.environ.update(env)  # before the first aiohttp import in this (spawned) process
    from azure.ai.projects.aio import AIProjectClient
    from azure.ai.projects.models import HostedAgentDefinition
    from azure.identity.aio import DefaultAzureCredential

    result = PhaseResult()
    definition = HostedAgentDefinition(DEFINITION)

    async def main() -> None:
        async with DefaultAzureCredential() as credential:
            projects = [
                AIProjectClient(endpoint=env["AZURE_AI_PROJECT_ENDPOINT"], credential=credential)
                for _ in range(clients)
            ]
            # Warm up: token, TLS connections, and the version that get_version reads.
            for index, project in enumerate(projects):
                await project.agents.create_version(
                    f"bench-{worker_id}-{index}", definition=definition
                )
            await asyncio.sleep(max(0.0, start_at - time.time()))
            deadline = time.monotonic() + duration

            async def worker(project: AIProjectClient, agent: str) -> None:
                while time.monotonic() < deadline:
                    began = time.perf_counter()
                    try:
                        if operation == "get":
                            await project.agents.get_version(agent, "1")
                        else:
                            await project.agents.create_version(agent, definition=definition)
                    except Exception:  # counted; the run goes on
                        result.errors += 1
                        continue
                    result.requests += 1
                    result.latencies_ms.append((time.perf_counter() - began) * 1000)

            await asyncio.gather(
                *(
                    worker(project, f"bench-{worker_id}-{index}")
                    for index, project in enumerate(projects)
                    for _ in range(concurrency)
                )
            )
            for project in projects:
                await project.close()

    asyncio.run(main())
    return {
        "requests": result.requests,
        "errors": result.errors,
        "latencies_ms": result.latencies_ms,
    }


def measure(emulator: EmulatorProcess, operation: str, args: argparse.Namespace) -> dict[str, Any]:
    admin = emulator.admin()
    admin.reset(state=True, stats=True)
    start_at = time.time() + 3.0  # every process warmed up and waiting
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.processes, mp_context=context) as pool:
        futures = [
            pool.submit(
                run_phase,
                emulator.env,
                operation,
                worker,
                args.clients,
                args.concurrency,
                start_at,
                args.duration,
            )
            for worker in range(args.processes)
        ]
        parts = [f.result() for f in futures]
    requests = sum(p["requests"] for p in parts)
    latencies = sorted(lat for p in parts for lat in p["latencies_ms"])
    sdk_name = "get_version" if operation == "get" else "create_version"
    served = admin.stats().count(sdk_name, 200)
    return {
        "requests": requests,
        "errors": sum(p["errors"] for p in parts),
        "seconds": args.duration,
        "rps": round(requests / args.duration, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else None,
        "emulator_served_200": served,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per operation")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--clients", type=int, default=8, help="SDK clients per process")
    parser.add_argument("--concurrency", type=int, default=8, help="in-flight calls per SDK client")
    parser.add_argument("--operations", default="get,create")
    args = parser.parse_args()

    config = {
        "lifecycle": {"provisioning_seconds": 0},
        "limits": {"max_versions_per_agent": 1_000_000},
    }
    with (
        tempfile.TemporaryDirectory(prefix="emulator-bench-") as tmp,
        EmulatorProcess.start(Path(tmp) / "emu", config=config) as emulator,
    ):
        report: dict[str, Any] = {
            "benchmark": "emulator_rps",
            "cpus": os.cpu_count(),
            "processes": args.processes,
            "clients_per_process": args.clients,
            "concurrency_per_client": args.concurrency,
        }
        for operation in args.operations.split(","):
            report[operation] = measure(emulator, operation, args)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
