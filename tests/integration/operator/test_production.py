"""Production semantics: drift, retention, ownership, throttling, crashes, outages, metrics."""

from __future__ import annotations

import json
import random
import threading
import urllib.request
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import HostedAgentDefinition

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from support import TEST_RESYNC_SECONDS, wait_for
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

pytestmark = pytest.mark.usefixtures("running_operator")


def apply(kubectl: Any, namespace: str, text: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=text)


def test_version_deleted_behind_the_operators_back_is_recreated_at_resync(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    name = unique("drift")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    first = versions(foundry, name)[0]["version"]
    created = versions(foundry, name)[0]["created_at"]

    # The SDK's own sample deletes the routed version with force=True: the emulator allows it.
    foundry.agents.delete_version(name, first, force=True)
    wait_for(
        lambda: any(
            e["reason"] == "DriftDetected" and e["type"] == "Warning"
            for e in events(kubectl, namespace, name)
        ),
        timeout=30,
        what="a DriftDetected warning at the next resync",
    )
    # Foundry numbers versions per agent, and the agent went with its last version: the
    # replacement may carry the same number, so identity is checked by creation time.
    wait_for(
        lambda: (
            [v["created_at"] for v in versions(foundry, name)] not in ([], [created])
            and get(kubectl, namespace, name)["status"].get("phase") == "Ready"
        ),
        timeout=60,
        what="a replacement version, Ready again",
    )
    (replacement,) = versions(foundry, name)
    assert routing(foundry, name) == {replacement["version"]: 100}
    assert get(kubectl, namespace, name)["status"]["servingVersion"] == replacement["version"]


def test_retention_prunes_old_versions_and_a_foreign_version_stops_all_changes(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("prune")
    for tag in ("1", "2", "3", "4"):
        apply(kubectl, namespace, manifest(name, f"{IMAGE}:{tag}", revisionHistoryLimit=1))
        wait_for(
            lambda tag=tag: (
                get(kubectl, namespace, name).get("status", {}).get("phase") == "Ready"
                and any(
                    v["definition"]["container_configuration"]["image"].endswith(f":{tag}")
                    and routing(foundry, name).get(v["version"]) == 100
                    for v in versions(foundry, name)
                )
            ),
            timeout=60,
            what=f"tag {tag} serving",
        )
    images = [v["definition"]["container_configuration"]["image"] for v in versions(foundry, name)]
    assert images == [f"{IMAGE}:3", f"{IMAGE}:4"]

    # A version someone made by hand, outside Kubernetes, in the agent we own: from now on
    # the operator reports it and changes nothing there (no version, no routing, no prune).
    manual = foundry.agents.create_version(
        name,
        definition=HostedAgentDefinition(
            {
                "kind": "hosted",
                "cpu": "1",
                "memory": "2Gi",
                "container_configuration": {"image": f"{IMAGE}:manual"},
                "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
            }
        ),
        metadata={"owner": "a-person"},
    )
    # Settled first: its own creating -> active is Foundry's doing, not a change to catch.
    wait_for(
        lambda: foundry.agents.get_version(name, str(manual["version"]))["status"] == "active",
        what="the hand-made version active",
    )
    before = (versions(foundry, name), routing(foundry, name))
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:5", revisionHistoryLimit=1))
    wait_for(
        lambda: condition(kubectl, namespace, name, "Ready").get("reason") == "AgentNameConflict",
        what="AgentNameConflict for the version made outside Kubernetes",
    )
    assert "outside Kubernetes" in condition(kubectl, namespace, name, "Ready")["message"]
    assert (versions(foundry, name), routing(foundry, name)) == before


def test_second_resource_naming_an_owned_agent_reports_conflict_and_touches_nothing(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    agent = unique("shared")
    apply(kubectl, namespace, manifest("owner", f"{IMAGE}:1", agentName=agent))
    wait_ready(kubectl, namespace, "owner")
    before = (versions(foundry, agent), routing(foundry, agent))

    other_ns = f"{namespace}-b"
    kubectl("create", "namespace", other_ns)
    try:
        apply(kubectl, other_ns, manifest("intruder", f"{IMAGE}:2", agentName=agent))
        ready = wait_for(
            lambda: (
                condition(kubectl, other_ns, "intruder", "Ready").get("reason")
                == "AgentNameConflict"
                and condition(kubectl, other_ns, "intruder", "Ready")
            ),
            what="AgentNameConflict",
        )
        assert f"{namespace}/owner" in ready["message"]
        kubectl("delete", "hagent", "intruder", "-n", other_ns, "--timeout=60s", timeout=70)
    finally:
        kubectl("delete", "namespace", other_ns, "--wait=false", check=False)
    assert (versions(foundry, agent), routing(foundry, agent)) == before


def test_foundry_down_during_delete_keeps_the_object_deleting_until_it_returns(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    name = unique("outage")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)

    emulator.stop()
    try:
        kubectl("delete", "hagent", name, "-n", namespace, "--wait=false")
        status = wait_for(
            lambda: (
                (s := get(kubectl, namespace, name).get("status", {})).get("phase") == "Deleting"
                and s.get("lastError")
                and s
            ),
            timeout=60,
            what="phase Deleting with the reason",
        )
        assert condition(kubectl, namespace, name, "Ready")["reason"] == "FoundryUnavailable"
        assert status["lastError"]["remediation"]
    finally:
        emulator.restart()
    wait_for(
        lambda: kubectl("get", "hagent", name, "-n", namespace, check=False).returncode != 0,
        timeout=120,
        what="the object to be gone once Foundry is back",
    )
    assert [a["name"] for a in foundry.agents.list() if a["name"] == name] == []


def test_sigkill_during_a_rollout_never_duplicates_versions(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    emulator: EmulatorProcess,
    running_operator: OperatorProcess,
) -> None:
    emulator.admin().set_provisioning_delay(1.5)
    emulator.admin().inject_latency(50, jitter_ms=50)
    names = [unique(f"kill{i}") for i in range(20)]
    stop = threading.Event()

    def killer() -> None:
        rng = random.Random(7)
        for _ in range(3):
            if stop.wait(rng.uniform(0.5, 2.5)):
                return
            running_operator.kill()
            running_operator.start()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    for name in names:
        apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
    thread.join(timeout=30)
    stop.set()
    for name in names:
        wait_ready(kubectl, namespace, name, timeout=180)
    counts = {name: len(versions(foundry, name)) for name in names}
    assert set(counts.values()) == {1}, counts


def test_steady_state_makes_no_writes_and_metrics_tell_the_story(
    kubectl: Any,
    namespace: str,
    emulator: EmulatorProcess,
    running_operator: OperatorProcess,
) -> None:
    name = unique("quiet")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    admin = emulator.admin()
    admin.reset(state=False, stats=True)
    before = get(kubectl, namespace, name)
    # Every object resyncs once per period, starting with one get_agent: wait for two rounds.
    objects = len(json.loads(kubectl("get", "hagent", "-A", "-o", "json").stdout)["items"])
    wait_for(
        lambda: admin.stats().count("get_agent") >= 2 * objects,
        timeout=6 * TEST_RESYNC_SECONDS,
        what="two resync rounds",
    )
    stats = admin.stats()
    writes = sum(
        stats.count(op)
        for op in ("create_version", "update_details", "delete_version", "delete_agent")
    )
    assert writes == 0, stats.operations
    after = get(kubectl, namespace, name)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    assert running_operator.metrics_url
    text = urllib.request.urlopen(running_operator.metrics_url, timeout=5).read().decode()
    for metric in (
        'foundry_operator_reconciles_total{result="ready"}',
        'foundry_operator_foundry_requests_total{operation="create_version",status="ok"}',
        "foundry_operator_foundry_request_seconds_bucket",
        "foundry_operator_version_provisioning_seconds",
        'foundry_operator_hostedagents{phase="Ready"}',
    ):
        assert metric in text, metric
    ready = next(
        line
        for line in text.splitlines()
        if line.startswith('foundry_operator_hostedagents{phase="Ready"}')
    )
    assert float(ready.split()[-1]) >= 1


def test_refused_spec_is_not_retried_blindly_until_a_retry_is_asked_for(
    kubectl: Any, namespace: str, emulator: EmulatorProcess
) -> None:
    name = unique("refused")
    # The emulator answers HTTP 400 InvalidContainerImage to a create with this image.
    image = "myregistry.azurecr.io/agents/invalid-container-image:1"
    apply(kubectl, namespace, manifest(name, image))
    kubectl(
        "wait",
        "--for=condition=Degraded",
        "--timeout=60s",
        f"hagent/{name}",
        "-n",
        namespace,
        timeout=70,
    )
    assert condition(kubectl, namespace, name, "Ready")["reason"] == "InvalidContainerImage"
    admin = emulator.admin()
    admin.reset(state=False, stats=True)
    objects = len(json.loads(kubectl("get", "hagent", "-A", "-o", "json").stdout)["items"])
    wait_for(
        lambda: admin.stats().count("get_agent") >= 2 * objects,
        timeout=6 * TEST_RESYNC_SECONDS,
        what="two resync rounds",
    )
    assert admin.stats().count("create_version") == 0

    # A person fixed something outside the spec (a registry permission, say) and asks again.
    apply(
        kubectl,
        namespace,
        manifest(name, image, annotations={"retry.foundry.agents.dev/token": "1"}),
    )
    wait_for(lambda: admin.stats().count("create_version") >= 1, what="a new create on retry")


def test_a_create_foundry_applied_but_answered_with_a_5xx_yields_one_version(
    kubectl: Any, namespace: str, emulator: EmulatorProcess, foundry: AIProjectClient
) -> None:
    # The SDK would re-send the POST on a 500 and make a second version; the operator sends
    # it once, and its next look finds the version the first POST made.
    name = unique("applied")
    admin = emulator.admin()
    fault = admin.add_fault("apply_then_status", operations=["create_version"], status=500, count=1)
    try:
        apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
        wait_ready(kubectl, namespace, name, timeout=90)
    finally:
        if any(f["id"] == fault for f in admin.faults()):
            admin.remove_fault(fault)
    assert len(versions(foundry, name)) == 1


def test_a_serving_version_that_fails_later_falls_back_to_the_previous_active_one(
    kubectl: Any, namespace: str, emulator: EmulatorProcess, foundry: AIProjectClient
) -> None:
    name = unique("fallback")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:2"))
    wait_for(
        lambda: (
            routing(foundry, name) == {"2": 100}
            and get(kubectl, namespace, name)["status"].get("phase") == "Ready"
        ),
        what="version 2 serving",
    )
    emulator.admin().set_version_status(
        name, "2", "failed", error={"code": "container_crashed", "message": "exited 1"}
    )
    wait_for(
        lambda: routing(foundry, name) == {"1": 100},
        timeout=3 * TEST_RESYNC_SECONDS,
        what="traffic back on version 1 at the next look",
    )
    status = get(kubectl, namespace, name)["status"]
    assert status["servingVersion"] == "1" and status["phase"] == "Failed"
    assert condition(kubectl, namespace, name, "Degraded")["status"] == "True"
    assert any(e.get("reason") == "TrafficFallback" for e in events(kubectl, namespace, name))


def test_a_disabled_agent_is_never_reported_ready(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("disabled")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    foundry.agents.disable(name)  # someone switched it off in Foundry
    try:
        wait_for(
            lambda: condition(kubectl, namespace, name, "Ready").get("reason") == "AgentDisabled",
            timeout=3 * TEST_RESYNC_SECONDS,
            what="Ready=False AgentDisabled at the next look",
        )
        assert condition(kubectl, namespace, name, "Ready")["status"] == "False"
        assert condition(kubectl, namespace, name, "Degraded")["status"] == "True"
    finally:
        foundry.agents.enable(name)
    wait_ready(kubectl, namespace, name, timeout=3 * TEST_RESYNC_SECONDS)
