"""The strongest peer: the operator's job done by a short asyncio script with the async SDK.

    python -m bench.peer --agents 100 --concurrency 16      # with the emulator's env set

For N agents at once, with at most CONCURRENCY Foundry calls in flight (the same cap the
operator gets): create the version, poll it every 2 s until it is active, route 100 % of the
agent endpoint's traffic to it. One credential (``DefaultAzureCredential``, as the operator
builds it), one HTTP pool, no Kubernetes, no status, no retries beyond the SDK's own. This is
what a careful engineer writes when a deploy job, not a controller, owns the agents; the
operator has to come close to it to be worth running.

Prints one JSON object: time until every agent was routed, the process's CPU seconds for
the rollout and in total, its peak RSS, and the calls it made per operation. The Foundry
calls the benchmark reports come from the emulator's own count, which also sees SDK retries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from azure.ai.projects.aio import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    FixedRatioVersionSelectionRule,
    HostedAgentDefinition,
    ProtocolConfiguration,
    VersionSelector,
)
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import DefaultAzureCredential

# The operator run's image. Not imported from bench.harness: that would load the Kubernetes
# client into this process and count it in the peer's memory.
IMAGE = "benchregistry.azurecr.io/agents/bench:1"
POLL_SECONDS = 2.0


def definition() -> HostedAgentDefinition:
    return HostedAgentDefinition(
        {
            "kind": "hosted",
            "cpu": "0.5",
            "memory": "1Gi",
            "container_configuration": {"image": IMAGE},
            "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
        }
    )


def route_all_to(version: str) -> AgentEndpointConfig:
    return AgentEndpointConfig(
        version_selector=VersionSelector(
            version_selection_rules=[
                FixedRatioVersionSelectionRule(agent_version=version, traffic_percentage=100)
            ]
        ),
        protocol_configuration=ProtocolConfiguration({"responses": {}}),
    )


@dataclass
class Rollout:
    routed_at: list[float] = field(default_factory=list)  # seconds since the start
    failed: dict[str, str] = field(default_factory=dict)  # agent -> why
    calls: Counter[str] = field(default_factory=Counter)


async def roll_out(
    endpoint: str, names: list[str], concurrency: int, poll_seconds: float
) -> Rollout:
    result = Rollout()
    # Caps calls, not agents: an agent waiting between polls holds no slot.
    limit = asyncio.Semaphore(concurrency)
    async with (
        DefaultAzureCredential() as credential,
        AIProjectClient(endpoint=endpoint, credential=credential) as project,
    ):
        started = time.monotonic()

        async def one(name: str) -> None:
            async with limit:
                result.calls["create_version"] += 1
                version = await project.agents.create_version(name, definition=definition())
            while version.status == "creating":
                await asyncio.sleep(poll_seconds)
                async with limit:
                    result.calls["get_version"] += 1
                    version = await project.agents.get_version(name, version.version)
            if version.status != "active":
                result.failed[name] = f"version {version.version} is {version.status}"
                return
            async with limit:
                result.calls["update_details"] += 1
                await project.agents.update_details(
                    name, agent_endpoint=route_all_to(version.version)
                )
            result.routed_at.append(time.monotonic() - started)

        async def guarded(name: str) -> None:
            # The SDK has already retried 429s and 5xx; what is left is this agent's failure.
            try:
                await one(name)
            except HttpResponseError as exc:
                result.failed[name] = f"HTTP {exc.status_code}: {exc.message}"

        await asyncio.gather(*(guarded(name) for name in names))
    result.routed_at.sort()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=16, help="Foundry calls in flight")
    p.add_argument("--poll-seconds", type=float, default=POLL_SECONDS)
    p.add_argument("--prefix", default="peer", help="agent names are PREFIX-0000, ...")
    p.add_argument("--endpoint", default=os.environ.get("AZURE_AI_PROJECT_ENDPOINT"))
    a = p.parse_args(argv)
    if not a.endpoint:
        p.error("no --endpoint and no AZURE_AI_PROJECT_ENDPOINT")
    names = [f"{a.prefix}-{i:04d}" for i in range(a.agents)]

    cpu_before = time.process_time()
    result = asyncio.run(roll_out(a.endpoint, names, a.concurrency, a.poll_seconds))
    cpu_rollout = time.process_time() - cpu_before
    usage = resource.getrusage(resource.RUSAGE_SELF)
    everyone = len(result.routed_at) == a.agents
    figures = {
        "agents": a.agents,
        "routed": len(result.routed_at),
        "failed": result.failed,
        "seconds_to_all_routed": round(result.routed_at[-1], 3) if everyone else None,
        "p50_seconds_to_routed": round(result.routed_at[len(result.routed_at) // 2], 3)
        if result.routed_at
        else None,
        "cpu_seconds": round(cpu_rollout, 3),
        # Includes the interpreter's start and the imports, which the operator pays once.
        "cpu_seconds_total": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "calls": dict(result.calls),
        "routed_at": [round(t, 3) for t in result.routed_at],  # for the plot
        "param_concurrency": a.concurrency,
        "param_poll_seconds": a.poll_seconds,
    }
    print(json.dumps(figures), flush=True)
    return 0 if everyone else 1


if __name__ == "__main__":
    sys.exit(main())
