"""managementPolicy, adoptionPolicy and `foundry-operator export`, as a platform team uses
them: against the real API server, the operator as its own process, agents made
beforehand with the real SDK, and the emulator's request counts as the proof of "no write"
and "no call"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import yaml
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    FixedRatioVersionSelectionRule,
    HostedAgentDefinition,
    ProtocolConfiguration,
    VersionSelector,
)

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from support import wait_for
from support.hagent import (
    IMAGE,
    condition,
    events,
    get,
    manifest,
    routing,
    unique,
    versions,
    wait_ready,
)


def made_by_hand(
    foundry: AIProjectClient,
    agent: str,
    image: str,
    *,
    env: dict[str, str] | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> str:
    """A version made with the SDK (outside Kubernetes), active and taking all traffic."""
    definition: dict[str, Any] = {
        "kind": "hosted",
        "cpu": "1",
        "memory": "2Gi",
        "container_configuration": {"image": image},
        "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
    }
    if env:
        definition["environment_variables"] = env
    created = foundry.agents.create_version(
        agent,
        definition=HostedAgentDefinition(definition),
        description=description,
        metadata=metadata or {"owner": "a-person"},
    )
    number = str(created["version"])
    wait_for(
        lambda: foundry.agents.get_version(agent, number)["status"] == "active",
        what=f"hand-made version {number} active",
    )
    foundry.agents.update_details(
        agent,
        agent_endpoint=AgentEndpointConfig(
            version_selector=VersionSelector(
                version_selection_rules=[
                    FixedRatioVersionSelectionRule(agent_version=number, traffic_percentage=100)
                ]
            ),
            protocol_configuration=ProtocolConfiguration({"responses": {}}),
        ),
    )
    return number


def apply(kubectl: Any, namespace: str, text: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=text)


def patch_spec(kubectl: Any, namespace: str, name: str, **spec: Any) -> None:
    kubectl(
        "patch", "hagent", name, "-n", namespace, "--type=merge", "-p", json.dumps({"spec": spec})
    )


def status_of(kubectl: Any, namespace: str, name: str) -> dict[str, Any]:
    return dict(get(kubectl, namespace, name).get("status") or {})


def gone(kubectl: Any, namespace: str, name: str) -> bool:
    proc = kubectl("get", "hagent", name, "-n", namespace, check=False)
    return proc.returncode != 0 and "NotFound" in proc.stderr


# --- ObserveOnly ------------------------------------------------------------------------


def test_observe_only_reports_an_existing_agent_and_never_writes(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    emulator: EmulatorProcess,
    dedicated_operator: OperatorProcess,
) -> None:
    agent = unique("observed")
    number = made_by_hand(foundry, agent, f"{IMAGE}:by-hand")
    before = (versions(foundry, agent), routing(foundry, agent))
    missing = unique("nowhere")
    admin = emulator.admin()
    admin.reset(state=False, stats=True)

    apply(
        kubectl,
        namespace,
        manifest(
            "watch",
            f"{IMAGE}:by-hand",
            agentName=agent,
            managementPolicy="ObserveOnly",
            metadata={"owner": "a-person"},  # part of the version, as the hand-made one has
        ),
    )
    apply(
        kubectl,
        namespace,
        manifest("absent", f"{IMAGE}:1", agentName=missing, managementPolicy="ObserveOnly"),
    )
    wait_ready(kubectl, namespace, "watch")
    status = status_of(kubectl, namespace, "watch")
    assert status["servingVersion"] == status["latestVersion"] == number
    assert status["traffic"] == [{"version": number, "weight": 100}]
    assert [(v["version"], v.get("adopted")) for v in status["versions"]] == [(number, True)]
    assert status["endpoint"]["baseURL"].endswith(f"/agents/{agent}/endpoint/protocols/openai")
    assert not status.get("adoptedVersions")  # observing is not adopting
    drifted = condition(kubectl, namespace, "watch", "Drifted")
    assert (drifted["status"], drifted["reason"]) == ("False", "InSync")

    # A missing agent is reported, not created.
    absent = wait_for(
        lambda: (
            c
            if (c := condition(kubectl, namespace, "absent", "Ready")).get("reason")
            == "AgentNotFound"
            else None
        ),
        what="AgentNotFound for the missing agent",
    )
    assert "ObserveOnly" in absent["message"]

    # A spec Foundry does not match is drift, reported and left alone.
    patch_spec(kubectl, namespace, "watch", image=f"{IMAGE}:2")
    wait_for(
        lambda: (
            condition(kubectl, namespace, "watch", "Drifted").get("reason") == "NoMatchingVersion"
        ),
        what="Drifted NoMatchingVersion after the image changed",
    )
    assert condition(kubectl, namespace, "watch", "Drifted")["status"] == "True"
    assert any(e["reason"] == "Drift" for e in events(kubectl, namespace, "watch"))

    # Deleting an observed object lets go and deletes nothing, whatever deletionPolicy says.
    for name in ("watch", "absent"):
        kubectl("delete", "hagent", name, "-n", namespace, "--timeout=30s", timeout=40)
    stats = admin.stats()
    assert stats.writes == 0, stats.operations
    assert stats.count("get_agent") >= 2  # it did look
    assert (versions(foundry, agent), routing(foundry, agent)) == before
    assert versions(foundry, missing) == []


# --- Paused -------------------------------------------------------------------------------


def test_paused_makes_no_call_then_manage_converges_and_a_paused_object_is_deleted(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    emulator: EmulatorProcess,
    dedicated_operator: OperatorProcess,
) -> None:
    name = unique("pause")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    first = status_of(kubectl, namespace, name)["servingVersion"]
    admin = emulator.admin()
    admin.reset(state=False, stats=True)

    patch_spec(kubectl, namespace, name, managementPolicy="Paused", image=f"{IMAGE}:2")
    generation = get(kubectl, namespace, name)["metadata"]["generation"]
    wait_for(
        lambda: condition(kubectl, namespace, name, "Paused").get("status") == "True",
        what="Paused=True",
    )
    status = status_of(kubectl, namespace, name)
    assert status["observedGeneration"] == generation
    assert condition(kubectl, namespace, name, "Ready")["status"] == "True"  # kept
    assert status["servingVersion"] == first
    # Another change while paused is looked at (observedGeneration) and still not acted on.
    kubectl("annotate", "hagent", name, "-n", namespace, "note=paused")
    patch_spec(kubectl, namespace, name, image=f"{IMAGE}:3")
    wait_for(
        lambda: status_of(kubectl, namespace, name)["observedGeneration"] == generation + 1,
        what="the paused object's new generation observed",
    )
    assert admin.stats().total == 0, admin.stats().operations
    assert any(e["reason"] == "Paused" for e in events(kubectl, namespace, name))

    # Back to Manage: at once, not at the next resync (the dedicated operator's is 10 min).
    patch_spec(kubectl, namespace, name, managementPolicy="Manage")
    wait_for(
        lambda: (
            (s := status_of(kubectl, namespace, name)).get("phase") == "Ready"
            and s.get("servingVersion") not in (None, first)
        ),
        timeout=30,
        what="Manage again converging to the new image",
    )
    assert condition(kubectl, namespace, name, "Paused") == {}
    held = versions(foundry, name)
    assert held[-1]["definition"]["container_configuration"]["image"] == f"{IMAGE}:3"
    assert routing(foundry, name) == {held[-1]["version"]: 100}

    # A paused object can be deleted: deletionPolicy Delete still deletes its versions.
    patch_spec(kubectl, namespace, name, managementPolicy="Paused")
    wait_for(
        lambda: condition(kubectl, namespace, name, "Paused").get("status") == "True",
        what="paused again",
    )
    kubectl("delete", "hagent", name, "-n", namespace, "--timeout=30s", timeout=40)
    assert gone(kubectl, namespace, name)
    assert versions(foundry, name) == []
    assert "Paused, but deleting the resource is an explicit request" in (
        dedicated_operator.log_since_start()
    )


# --- Adopt --------------------------------------------------------------------------------


@pytest.mark.usefixtures("running_operator")
def test_never_refuses_and_adopt_takes_over_keeping_versions_and_routing_until_ready(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    agent = unique("adopted")
    old = made_by_hand(foundry, agent, f"{IMAGE}:by-hand")

    apply(kubectl, namespace, manifest("chat", f"{IMAGE}:2", agentName=agent))
    wait_for(
        lambda: condition(kubectl, namespace, "chat", "Ready").get("reason") == "AgentNameConflict",
        what="AgentNameConflict under adoptionPolicy Never",
    )
    assert [v["version"] for v in versions(foundry, agent)] == [old]

    emulator.admin().set_provisioning_delay(4)
    patch_spec(kubectl, namespace, "chat", adoptionPolicy="Adopt")
    creating = wait_for(
        lambda: (
            s
            if (s := status_of(kubectl, namespace, "chat")).get("versionStatus") == "creating"
            else None
        ),
        what="the operator's first version creating",
    )
    new = creating["latestVersion"]
    assert new != old
    # The adopted routing stays while the operator's version is not ready.
    assert routing(foundry, agent) == {old: 100}
    assert creating["adoptedVersions"] == [old]
    wait_ready(kubectl, namespace, "chat")
    assert routing(foundry, agent) == {new: 100}
    status = status_of(kubectl, namespace, "chat")
    assert status["adoptedVersions"] == [old]
    assert {v["version"]: v.get("adopted") for v in status["versions"]} == {old: True, new: None}
    assert [v["version"] for v in versions(foundry, agent)] == [old, new]
    assert any(e["reason"] == "Adopted" for e in events(kubectl, namespace, "chat"))

    # Deleting it deletes only what the operator made; traffic goes back to the adopted one.
    kubectl("delete", "hagent", "chat", "-n", namespace, "--timeout=30s", timeout=40)
    assert [v["version"] for v in versions(foundry, agent)] == [old]
    assert routing(foundry, agent) == {old: 100}


@pytest.mark.usefixtures("running_operator")
def test_an_agent_of_another_hosted_agent_is_never_adopted(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    agent = unique("taken")
    apply(kubectl, namespace, manifest("first", f"{IMAGE}:1", agentName=agent))
    wait_ready(kubectl, namespace, "first")
    apply(
        kubectl,
        namespace,
        manifest("second", f"{IMAGE}:2", agentName=agent, adoptionPolicy="Adopt"),
    )
    refused = wait_for(
        lambda: (
            c
            if (c := condition(kubectl, namespace, "second", "Ready")).get("reason")
            == "AgentNameConflict"
            else None
        ),
        what="AgentNameConflict for an agent another HostedAgent owns",
    )
    assert f"{namespace}/first" in refused["message"]
    assert len(versions(foundry, agent)) == 1


# --- export -------------------------------------------------------------------------------


def test_export_prints_a_manifest_that_adopts_and_creates_nothing(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    emulator: EmulatorProcess,
    dedicated_operator: OperatorProcess,
) -> None:
    agent = unique("Exported")
    number = made_by_hand(
        foundry,
        agent,
        f"{IMAGE}:by-hand",
        env={"MODE": "fast"},
        description="made in the portal",
        metadata={"team": "search"},
    )
    before = (versions(foundry, agent), routing(foundry, agent))
    proc = subprocess.run(
        [sys.executable, "-m", "foundry_operator.cli", "export", agent, "-n", namespace],
        capture_output=True,
        text=True,
        env={**os.environ, "AZURE_AI_PROJECT_ENDPOINT": emulator.endpoint},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    exported = yaml.safe_load(proc.stdout)
    assert exported["metadata"] == {"name": agent.lower(), "namespace": namespace}
    assert exported["spec"]["adoptionPolicy"] == "Adopt"
    assert exported["spec"]["env"] == [{"name": "MODE", "value": "fast"}]

    admin = emulator.admin()
    admin.reset(state=False, stats=True)
    kubectl("apply", "-f", "-", input=proc.stdout)
    wait_ready(kubectl, namespace, agent.lower())
    status = status_of(kubectl, namespace, agent.lower())
    assert status["servingVersion"] == status["latestVersion"] == number
    assert status["adoptedVersions"] == [number]
    stats = admin.stats()
    assert stats.count("create_version") == 0 and stats.writes == 0, stats.operations
    assert (versions(foundry, agent), routing(foundry, agent)) == before
