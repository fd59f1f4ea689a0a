"""The kubectl workflows docs/gitops.md documents, and the CI script, as a user runs them.

Real kubectl (the devcluster's, first on PATH), real apiserver, the operator as a separate
process, the Foundry emulator behind it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from support import KubeEnv, wait_for
from support.hagent import IMAGE, condition, get, manifest, unique, wait_ready

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "hostedagents.foundry.agents.dev.yaml"
SCRIPT = REPO / "examples" / "ci" / "apply-and-wait.sh"
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yaml"
BAD_IMAGE = "myregistry.azurecr.io/agents/does-not-exist:1"
IMAGE_PULL_REMEDIATION = "grant the project's managed identity AcrPull on the registry"


@pytest.fixture(scope="module")
def ready_agent(
    kubectl: Any, operator_process: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """One HostedAgent applied from a file with `kubectl apply -f` and waited for with
    `kubectl wait`, as the docs show; (namespace, name)."""
    if not operator_process.running():
        operator_process.start()
        operator_process.wait_until_logged("Initial authentication has finished")
    namespace = f"kubectl-workflows-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    name = "hello-agent"
    path = tmp_path_factory.mktemp("manifests") / "hello-agent.yaml"
    path.write_text(yaml.safe_dump(json.loads(manifest(name, f"{IMAGE}:1"))))
    try:
        kubectl("apply", "-n", namespace, "-f", str(path))
        out = kubectl(
            "wait", "--for=condition=Ready", "--timeout=60s", f"hostedagent/{name}",
            "-n", namespace, timeout=70,
        )  # fmt: skip
        assert "condition met" in out.stdout
        yield namespace, name
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def foundry(emulator: EmulatorProcess) -> Iterator[AIProjectClient]:
    with AIProjectClient(endpoint=emulator.endpoint, credential=DefaultAzureCredential()) as c:
        yield c


# --- kubectl get / describe / explain ----------------------------------------------------


def test_get_shows_agent_serving_phase_ready_and_age(
    kubectl: Any, ready_agent: tuple[str, str]
) -> None:
    namespace, name = ready_agent
    header, row = kubectl("get", "hagent", name, "-n", namespace).stdout.splitlines()
    assert header.split() == ["NAME", "AGENT", "SERVING", "TRAFFIC", "PHASE", "READY", "AGE"]
    assert row.split()[:6] == [name, name, "1", "1:100%", "Ready", "True"]


def test_get_wide_adds_reason_and_latest(kubectl: Any, ready_agent: tuple[str, str]) -> None:
    namespace, name = ready_agent
    header, row = kubectl("get", "hagent", name, "-n", namespace, "-o", "wide").stdout.splitlines()
    assert header.split() == [
        "NAME", "AGENT", "SERVING", "TRAFFIC", "PHASE", "READY", "REASON", "LATEST",
        "ENDPOINT", "PROJECT", "AGE",
    ]  # fmt: skip
    assert row.split()[:8] == [name, name, "1", "1:100%", "Ready", "True", "VersionActive", "1"]
    assert row.split()[8].endswith(f"/agents/{name}/endpoint/protocols/openai")
    # No spec.projectRef (the operator's own project): kubectl leaves PROJECT blank, so the
    # row has one field fewer than the header.
    assert len(row.split()) == len(header.split()) - 1


def test_get_by_category_and_full_name(kubectl: Any, ready_agent: tuple[str, str]) -> None:
    namespace, name = ready_agent
    for resource in ("foundry", "hostedagents.foundry.agents.dev", "hostedagent"):
        out = kubectl("get", resource, "-n", namespace, "-o", "name").stdout
        assert f"hostedagent.foundry.agents.dev/{name}" in out.split(), resource


def test_describe_shows_conditions_and_events(kubectl: Any, ready_agent: tuple[str, str]) -> None:
    namespace, name = ready_agent
    text = wait_for(
        lambda: (
            (out := kubectl("describe", "hagent", name, "-n", namespace).stdout)
            and "Version 1 is active and serving" in out
            and out
        ),
        what="the Ready event in kubectl describe",
    )
    for expected in ("Conditions:", "Type:", "Ready", "Progressing", "Degraded", "VersionActive"):
        assert expected in text, expected
    events = text.split("Events:", 1)[1]
    assert "Normal" in events and "Ready" in events


def _spec_fields() -> dict[str, str]:
    crd = yaml.safe_load(CRD.read_text().split("---", 1)[1])
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    props = schema["properties"]["spec"]["properties"]
    return {name: prop["description"] for name, prop in props.items()}


def test_explain_describes_every_spec_field(kubectl: Any, crd_installed: None) -> None:
    out = kubectl("explain", "hostedagent.spec").stdout
    flat = " ".join(out.split())
    fields = _spec_fields()
    assert len(fields) >= 13
    for name, description in fields.items():
        assert f"{name}\t<" in out or f"{name} <" in flat, name
        assert " ".join(description.split()) in flat, name


# --- kubectl wait ------------------------------------------------------------------------


def test_kubectl_wait_ignores_a_ready_condition_left_from_the_previous_spec(
    kubectl: Any, namespace: str, running_operator: OperatorProcess
) -> None:
    """So `apply` then `wait` in CI waits for the new version, not the old one."""
    name = unique("regen")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    running_operator.stop()
    try:
        kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:2"))
        assert condition(kubectl, namespace, name, "Ready")["status"] == "True"  # stale
        stale = kubectl(
            "wait", "--for=condition=Ready", "--timeout=2s", f"hagent/{name}", "-n", namespace,
            check=False,
        )  # fmt: skip
        assert stale.returncode != 0, stale.stdout
    finally:
        running_operator.start()
    wait_ready(kubectl, namespace, name)
    assert get(kubectl, namespace, name)["status"]["observedGeneration"] == 2


def test_kubectl_wait_for_degraded_reports_a_bad_image(kubectl: Any, namespace: str) -> None:
    name = unique("bad")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, BAD_IMAGE))
    kubectl(
        "wait", "--for=condition=Degraded", "--timeout=60s", f"hagent/{name}", "-n", namespace,
        timeout=70,
    )  # fmt: skip
    reason = kubectl(
        "get", "hagent", name, "-n", namespace,
        "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
    ).stdout  # fmt: skip
    assert reason == "ImagePullBackOff"


# --- kubectl delete --wait -----------------------------------------------------------------


def test_delete_wait_returns_once_foundry_versions_are_gone(
    kubectl: Any, namespace: str, foundry: AIProjectClient, running_operator: OperatorProcess
) -> None:
    name = unique("bye")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, name)
    assert [a["name"] for a in foundry.agents.list() if a["name"] == name] == [name]

    out = kubectl("delete", "hagent", name, "-n", namespace, "--wait", "--timeout=60s", timeout=70)

    assert f'hostedagent.foundry.agents.dev "{name}" deleted' in out.stdout
    gone = kubectl("get", "hagent", name, "-n", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert [a["name"] for a in foundry.agents.list() if a["name"] == name] == []


# --- examples/ci/apply-and-wait.sh --------------------------------------------------------


def run_script(
    kube: KubeEnv, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**kube.env, **(env or {})},
        timeout=timeout,
        check=False,
    )


def test_ci_script_is_strict_bash_and_parses() -> None:
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_github_actions_example_runs_the_script() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["deploy"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert any("apply-and-wait.sh" in r and "--timeout" in r for r in runs), runs
    assert workflow["permissions"]["id-token"] == "write"


def test_ci_script_exits_zero_once_the_agent_is_ready(
    kube: KubeEnv, kubectl: Any, namespace: str, running_operator: OperatorProcess, tmp_path: Path
) -> None:
    name = unique("ci-good")
    path = tmp_path / "agent.yaml"
    path.write_text(manifest(name, f"{IMAGE}:1"))

    result = run_script(kube, "-n", namespace, "-t", "90", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"hostedagent/{name} is Ready (serving version 1)" in result.stdout
    assert condition(kubectl, namespace, name, "Ready")["status"] == "True"


def test_ci_script_fails_fast_with_reason_and_remediation_for_a_bad_image(
    kube: KubeEnv, namespace: str, running_operator: OperatorProcess, tmp_path: Path
) -> None:
    name = unique("ci-bad")
    path = tmp_path / "agent.yaml"
    path.write_text(manifest(name, BAD_IMAGE))
    timeout = 90

    started = time.monotonic()
    result = run_script(
        kube, "-n", namespace, "-t", str(timeout), str(path), env={"GITHUB_ACTIONS": "true"}
    )
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stdout + result.stderr
    assert elapsed < timeout, elapsed
    assert f"hostedagent/{name} is not Ready (phase Failed)" in result.stderr
    assert "reason:      ImagePullBackOff" in result.stderr
    assert IMAGE_PULL_REMEDIATION in result.stderr
    assert f"::error title=HostedAgent {name} is not Ready::ImagePullBackOff" in result.stdout
    assert "Timed out" not in result.stderr  # it did not wait the timeout out


def test_ci_script_waits_through_a_missing_secret_that_then_appears(
    kube: KubeEnv, kubectl: Any, namespace: str, running_operator: OperatorProcess, tmp_path: Path
) -> None:
    """SecretNotFound is Degraded but retried: the script keeps waiting instead of failing."""
    name = unique("ci-secret")
    body = json.loads(manifest(name, f"{IMAGE}:1"))
    body["spec"]["env"] = [
        {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "later", "key": "k"}}}
    ]
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps(body))
    script = subprocess.Popen(
        [str(SCRIPT), "-n", namespace, "-t", "120", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kube.env,
    )
    try:
        wait_for(
            lambda: (
                kubectl("get", "hagent", name, "-n", namespace, check=False).returncode == 0
                and condition(kubectl, namespace, name, "Degraded").get("reason")
                == "SecretNotFound"
            ),
            timeout=60,
            what="SecretNotFound (the script applies the agent first)",
        )
        assert script.poll() is None, script.communicate()
        kubectl("create", "secret", "generic", "later", "-n", namespace, "--from-literal=k=v")
        out, err = script.communicate(timeout=120)
    finally:
        if script.poll() is None:
            script.kill()
            script.communicate()
    assert script.returncode == 0, out + err
    assert f"hostedagent/{name} is Ready" in out


def test_ci_script_times_out_with_what_it_knows(
    kube: KubeEnv, namespace: str, running_operator: OperatorProcess, tmp_path: Path
) -> None:
    name = unique("ci-slow")
    body = json.loads(manifest(name, f"{IMAGE}:1"))
    body["spec"]["env"] = [
        {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "never", "key": "k"}}}
    ]
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps(body))

    result = run_script(kube, "-n", namespace, "-t", "6", str(path), timeout=60)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Timed out after 6s." in result.stderr
    assert "reason:      SecretNotFound" in result.stderr
    assert "Create the Secret or ConfigMap key referenced in spec.env" in result.stderr
