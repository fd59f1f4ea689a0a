"""The baseline: agents created one after another with the plain SDK, the way the
hosted-agents samples do it (create the version, poll it until active, route traffic to
it), against the same emulator and settings as the operator run."""

from __future__ import annotations

import time

from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    FixedRatioVersionSelectionRule,
    HostedAgentDefinition,
    ProtocolConfiguration,
    VersionSelector,
)
from azure.identity import DefaultAzureCredential

from .harness import IMAGE

# The official sample polls every 10 s; 1 s is kinder to the baseline with a 2 s delay.
POLL_SECONDS = 1.0


def create_sequentially(endpoint: str, count: int, prefix: str = "baseline") -> list[float]:
    """Seconds since the start at which each agent became routable, in order."""
    ready: list[float] = []
    with AIProjectClient(endpoint=endpoint, credential=DefaultAzureCredential()) as project:
        started = time.monotonic()
        for i in range(count):
            name = f"{prefix}-{i:04d}"
            version = project.agents.create_version(
                name,
                definition=HostedAgentDefinition(
                    {
                        "kind": "hosted",
                        "cpu": "0.5",
                        "memory": "1Gi",
                        "container_configuration": {"image": f"{IMAGE}:1"},
                        "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
                    }
                ),
            )
            while version.get("status") == "creating":
                time.sleep(POLL_SECONDS)
                version = project.agents.get_version(name, version["version"])
            project.agents.update_details(
                name,
                agent_endpoint=AgentEndpointConfig(
                    version_selector=VersionSelector(
                        version_selection_rules=[
                            FixedRatioVersionSelectionRule(
                                agent_version=version["version"], traffic_percentage=100
                            )
                        ]
                    ),
                    protocol_configuration=ProtocolConfiguration({"responses": {}}),
                ),
            )
            ready.append(time.monotonic() - started)
    return ready
