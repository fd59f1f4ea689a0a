"""A HostedAgent's life as a user sees it: apply, change, fail, recover, delete.

Real kube-apiserver, real kubectl, the operator as a separate process, and the real
azure-ai-projects SDK reading the emulator to check what Foundry holds.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from foundry_operator.api.reserved import METADATA_REF, METADATA_SPEC_HASH, METADATA_UID
from support import wait_for
from support.hagent import IMAGE, get, manifest, routing, unique, versions, wait_ready

pytestmark = pytest.mark.usefixtures("running_operator")


def test_apply_becomes_ready_with_one_routed_version(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("chat")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)

    obj = get(kubectl, namespace, name)
    held = versions(foundry, name)
    assert len(held) == 1
    meta = held[0]["metadata"]
    assert meta[METADATA_UID] == obj["metadata"]["uid"]
    assert meta[METADATA_REF] == f"{namespace}/{name}"
    assert meta[METADATA_SPEC_HASH] == obj["status"]["specHash"]
    assert held[0]["definition"]["container_configuration"]["image"] == f"{IMAGE}:1"
    assert routing(foundry, name) == {held[0]["version"]: 100}

    status = obj["status"]
    assert status["phase"] == "Ready"
    assert status["latestVersion"] == status["servingVersion"] == held[0]["version"]
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    table = kubectl("get", "hagent", name, "-n", namespace).stdout
    assert "Ready" in table and name in table


def test_image_change_rolls_to_a_new_version_but_a_label_does_not(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("roll")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)

    kubectl("label", "hagent", name, "-n", namespace, "team=search")
    kubectl("annotate", "hagent", name, "-n", namespace, "note=hello")
    # Give the operator the chance to (wrongly) act on the label, then check nothing changed.
    wait_for(
        lambda: "team" in get(kubectl, namespace, name)["metadata"].get("labels", {}),
        what="label visible",
    )
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:2"))
    wait_for(
        lambda: (
            get(kubectl, namespace, name)["status"].get("observedGeneration") == 2
            and get(kubectl, namespace, name)["status"].get("phase") == "Ready"
        ),
        timeout=60,
        what="generation 2 Ready",
    )
    held = versions(foundry, name)
    assert [v["definition"]["container_configuration"]["image"] for v in held] == [
        f"{IMAGE}:1",
        f"{IMAGE}:2",
    ]
    assert routing(foundry, name) == {held[1]["version"]: 100}
    status = get(kubectl, namespace, name)["status"]
    assert status["servingVersion"] == held[1]["version"]


def test_image_pull_failure_sets_degraded_with_remediation_then_recovers(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("broken")
    bad = "myregistry.azurecr.io/agents/does-not-exist:1"
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, bad))
    kubectl(
        "wait",
        "--for=condition=Degraded",
        "--timeout=60s",
        f"hagent/{name}",
        "-n",
        namespace,
        timeout=70,
    )
    status = get(kubectl, namespace, name)["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "ImagePullBackOff"
    assert status["phase"] == "Failed"
    assert "AcrPull" in status["lastError"]["remediation"]

    events = kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.name={name}",
        "-o",
        "json",
    ).stdout
    warnings = [e for e in json.loads(events)["items"] if e["type"] == "Warning"]
    assert any(e["reason"] == "ImagePullBackOff" and "AcrPull" in e["message"] for e in warnings)

    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:fixed"))
    wait_ready(kubectl, namespace, name)
    status = get(kubectl, namespace, name)["status"]
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "False"
    assert status.get("lastError") is None


def test_operator_killed_midway_still_one_version_per_spec(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    emulator: EmulatorProcess,
    running_operator: OperatorProcess,
) -> None:
    emulator.admin().set_provisioning_delay(4)
    name = unique("crash")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
    wait_for(
        lambda: get(kubectl, namespace, name).get("status", {}).get("latestVersion"),
        what="a version being created",
    )
    running_operator.kill()
    running_operator.start()
    wait_ready(kubectl, namespace, name)

    running_operator.stop()
    running_operator.start()
    running_operator.wait_until_logged("Initial authentication has finished")
    # A restart resumes every object: wait until it has handled this one.
    wait_for(
        lambda: any(
            name in line and "reconciled" in line
            for line in running_operator.log_since_start().splitlines()
        ),
        what="the restarted operator to resume the object",
    )
    wait_ready(kubectl, namespace, name)
    assert len(versions(foundry, name)) == 1


def test_delete_removes_versions_and_the_finalizer(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("gone")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    assert get(kubectl, namespace, name)["metadata"]["finalizers"] == [
        "foundry.agents.dev/finalizer"
    ]
    kubectl("delete", "hagent", name, "-n", namespace, "--wait=true", "--timeout=60s", timeout=70)
    gone = kubectl("get", "hagent", name, "-n", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert [a["name"] for a in foundry.agents.list() if a["name"] == name] == []


def test_retain_policy_keeps_the_versions(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("keep")
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest(name, f"{IMAGE}:1", deletionPolicy="Retain"),
    )
    wait_ready(kubectl, namespace, name)
    kubectl("delete", "hagent", name, "-n", namespace, "--wait=true", "--timeout=60s", timeout=70)
    assert len(versions(foundry, name)) == 1
