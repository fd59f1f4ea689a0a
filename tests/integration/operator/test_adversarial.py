"""Issue 12's numbered cases: ownership races, foreign agents, leaking and missing Secrets,
and a token outage, each against the real API server and the emulator.

Every test here failed on the pre-rewrite engine (ownership by UID, no per-agent lock, no
wake of a conflicting object, redaction by whole value only, a missing Secret hiding the
serving version, Secret changes waiting out the backoff, binary values reported as a
missing key, a credential error reported as Failed).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
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
from foundry_operator.api.reserved import METADATA_REF
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

# The default resync of a dedicated operator (ten minutes): any deadline far below it shows
# that a change, not the periodic look, brought the reconcile.
DEFAULT_RESYNC_SECONDS = 600
# The engine's backoff ceiling: a Secret awaited this long would otherwise wait up to it.
BACKOFF_MAX_SECONDS = 300


def apply(kubectl: Any, namespace: str, text: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=text)


def phase(kubectl: Any, namespace: str, name: str) -> str | None:
    status: dict[str, Any] = get(kubectl, namespace, name).get("status") or {}
    return status.get("phase")


def reason_is(kubectl: Any, namespace: str, name: str, reason: str) -> dict[str, Any] | None:
    ready = condition(kubectl, namespace, name, "Ready")
    return ready if ready.get("reason") == reason else None


def secret(name: str, **data: str) -> str:
    return json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
    )


def secret_env(var: str, secret_name: str, key: str) -> dict[str, Any]:
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def hosted_definition(image: str) -> HostedAgentDefinition:
    return HostedAgentDefinition(
        {
            "kind": "hosted",
            "cpu": "1",
            "memory": "2Gi",
            "container_configuration": {"image": image},
            "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
        }
    )


@pytest.fixture
def other_namespace(kubectl: Any, namespace: str) -> Iterator[str]:
    name = f"{namespace}-b"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


# --- 1. an agent made outside Kubernetes ---------------------------------------------------


@pytest.mark.usefixtures("running_operator")
def test_agent_made_outside_kubernetes_is_reported_never_touched_and_delete_lets_go(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    agent = unique("prod-chat")
    created = foundry.agents.create_version(
        agent, definition=hosted_definition(f"{IMAGE}:by-hand"), metadata={"owner": "a-person"}
    )
    number = str(created["version"])
    wait_for(
        lambda: foundry.agents.get_version(agent, number)["status"] == "active",
        what="the hand-made version active",
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
    before = (versions(foundry, agent), routing(foundry, agent))
    assert before[1] == {number: 100}

    apply(kubectl, namespace, manifest("chat", f"{IMAGE}:1", agentName=agent))
    ready = wait_for(
        lambda: reason_is(kubectl, namespace, "chat", "AgentNameConflict"),
        what="AgentNameConflict for the agent made outside Kubernetes",
    )
    assert "outside Kubernetes" in ready["message"]
    assert (versions(foundry, agent), routing(foundry, agent)) == before

    # Nothing of it is ours, so the finalizer has nothing to delete and lets go at once.
    started = time.monotonic()
    kubectl("delete", "hagent", "chat", "-n", namespace, "--timeout=20s", timeout=30)
    assert time.monotonic() - started < 20
    assert (versions(foundry, agent), routing(foundry, agent)) == before


# --- 2. pairs racing for one agent name in one apply ---------------------------------------


@pytest.mark.usefixtures("running_operator")
def test_pairs_applied_together_each_get_exactly_one_owner_and_one_version(
    kubectl: Any, namespace: str, other_namespace: str, foundry: AIProjectClient
) -> None:
    agents = [unique(f"pair{i}") for i in range(15)]
    items: list[dict[str, Any]] = []
    for agent in agents:
        for ns in (namespace, other_namespace):
            body = json.loads(manifest(agent, f"{IMAGE}:1"))
            body["metadata"]["namespace"] = ns
            items.append(body)
    # One apply, both namespaces interleaved, so each pair lands at (nearly) the same moment.
    kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    )

    def settled() -> dict[str, tuple[str | None, str | None]] | None:
        out: dict[str, tuple[str | None, str | None]] = {}
        for ns in (namespace, other_namespace):
            listed = json.loads(kubectl("get", "hagent", "-n", ns, "-o", "json").stdout)
            for item in listed["items"]:
                ready = next(
                    (
                        c
                        for c in item.get("status", {}).get("conditions", [])
                        if c["type"] == "Ready"
                    ),
                    {},
                )
                out[f"{ns}/{item['metadata']['name']}"] = (ready.get("status"), ready.get("reason"))
        done = all(
            status == "True" or reason == "AgentNameConflict" for status, reason in out.values()
        )
        return out if done and len(out) == 2 * len(agents) else None

    outcome = wait_for(settled, timeout=120, interval=1, what="every HostedAgent settled")
    for agent in agents:
        a, b = outcome[f"{namespace}/{agent}"], outcome[f"{other_namespace}/{agent}"]
        ready = [ns for ns, s in ((namespace, a), (other_namespace, b)) if s[0] == "True"]
        assert len(ready) == 1, (agent, a, b)
        loser = b if ready == [namespace] else a
        assert loser[1] == "AgentNameConflict", (agent, a, b)
        made = versions(foundry, agent)
        assert len(made) == 1, (agent, made)
        assert made[0]["metadata"][METADATA_REF] == f"{ready[0]}/{agent}"


# --- 3. the loser takes over when the owner goes -------------------------------------------


def test_conflicting_resource_takes_over_at_once_when_the_owner_is_deleted(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    dedicated_operator: OperatorProcess,
) -> None:
    agent = unique("handover")
    apply(kubectl, namespace, manifest("owner", f"{IMAGE}:1", agentName=agent))
    wait_ready(kubectl, namespace, "owner")
    apply(kubectl, namespace, manifest("waiting", f"{IMAGE}:2", agentName=agent))
    wait_for(
        lambda: reason_is(kubectl, namespace, "waiting", "AgentNameConflict"),
        what="the second resource refused",
    )

    kubectl("delete", "hagent", "owner", "-n", namespace, "--timeout=30s", timeout=40)
    # The dedicated operator resyncs every ten minutes: only the owner's going can wake it.
    deadline = 30
    assert deadline < DEFAULT_RESYNC_SECONDS / 10
    wait_ready(kubectl, namespace, "waiting", timeout=deadline)
    (made,) = versions(foundry, agent)
    assert made["metadata"][METADATA_REF] == f"{namespace}/waiting"
    assert made["definition"]["container_configuration"]["image"] == f"{IMAGE}:2"
    assert routing(foundry, agent) == {made["version"]: 100}


# --- 4. Retain, then apply the same manifest again ----------------------------------------


@pytest.mark.usefixtures("running_operator")
def test_retained_agent_is_taken_back_by_the_same_name_but_not_by_another(
    kubectl: Any, namespace: str, other_namespace: str, foundry: AIProjectClient
) -> None:
    agent = unique("retain")
    text = manifest("keeper", f"{IMAGE}:1", agentName=agent, deletionPolicy="Retain")
    apply(kubectl, namespace, text)
    wait_ready(kubectl, namespace, "keeper")
    first_uid = get(kubectl, namespace, "keeper")["metadata"]["uid"]
    before = (versions(foundry, agent), routing(foundry, agent))

    kubectl("delete", "hagent", "keeper", "-n", namespace, "--timeout=30s", timeout=40)
    assert (versions(foundry, agent), routing(foundry, agent)) == before

    apply(kubectl, namespace, text)
    assert get(kubectl, namespace, "keeper")["metadata"]["uid"] != first_uid
    wait_ready(kubectl, namespace, "keeper")
    assert (versions(foundry, agent), routing(foundry, agent)) == before
    assert not any(e["reason"] == "AgentNameConflict" for e in events(kubectl, namespace, "keeper"))

    apply(kubectl, other_namespace, manifest("keeper", f"{IMAGE}:1", agentName=agent))
    ready = wait_for(
        lambda: reason_is(kubectl, other_namespace, "keeper", "AgentNameConflict"),
        what="AgentNameConflict for the same name in another namespace",
    )
    assert f"{namespace}/keeper" in ready["message"]
    assert (versions(foundry, agent), routing(foundry, agent)) == before


# --- 9. a failed version whose error echoes a Secret value ---------------------------------


@pytest.mark.usefixtures("running_operator")
def test_secret_values_echoed_in_a_failed_versions_error_never_leave_the_operator(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    emulator: EmulatorProcess,
    running_operator: OperatorProcess,
) -> None:
    name = unique("echo")
    key = f"key-{uuid.uuid4().hex}"
    pem_line = f"MIIB{uuid.uuid4().hex}{uuid.uuid4().hex}"
    pem = f"-----BEGIN PRIVATE KEY-----\n{pem_line}\n-----END PRIVATE KEY-----\n"
    admin = emulator.admin()
    # The service quotes the whole key and one line of the PEM, as error texts do.
    rule = admin.add_failure_rule(
        "image_pull_failed",
        match=f"*{name}*",
        message="Failed to start '{image}': API_KEY={env:API_KEY} rejected; line {env:PEM:2}",
    )
    try:
        apply(kubectl, namespace, secret("creds", **{"api-key": key, "pem": pem}))
        apply(
            kubectl,
            namespace,
            manifest(
                name,
                f"{IMAGE}-{name}:1",
                env=[secret_env("API_KEY", "creds", "api-key"), secret_env("PEM", "creds", "pem")],
            ),
        )
        wait_for(
            lambda: phase(kubectl, namespace, name) == "Failed",
            timeout=60,
            what="the failed version reported",
        )
        (made,) = versions(foundry, name)
        echoed = made["error"]["message"]
        assert key in echoed and pem_line in echoed, "the emulator must echo both values"
        ready = condition(kubectl, namespace, name, "Ready")
        assert "[REDACTED]" in ready["message"]
        wait_for(
            lambda: any(e["type"] == "Warning" for e in events(kubectl, namespace, name)),
            what="the Warning Event for the failure",
        )
        everything = "\n".join(
            [
                running_operator.log_text(),
                kubectl("get", "hagent", name, "-n", namespace, "-o", "yaml").stdout,
                kubectl("get", "events", "-n", namespace, "-o", "yaml").stdout,
                kubectl("describe", "hagent", name, "-n", namespace).stdout,
            ]
        )
        for value in (key, pem_line):
            assert value not in everything
    finally:
        admin.remove_failure_rule(rule)


# --- 10. the Secret of a serving agent is deleted ------------------------------------------


def _agent_with_secret(name: str, secret_name: str) -> str:
    return manifest(name, f"{IMAGE}:1", env=[secret_env("API_KEY", secret_name, "api-key")])


@pytest.mark.usefixtures("running_operator")
def test_deleting_the_secret_of_a_serving_agent_keeps_reporting_the_serving_version(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("keeps")
    value = f"v-{uuid.uuid4().hex}"
    apply(kubectl, namespace, secret("creds", **{"api-key": value}))
    apply(kubectl, namespace, _agent_with_secret(name, "creds"))
    wait_ready(kubectl, namespace, name)
    (v1,) = versions(foundry, name)
    served = {v1["version"]: 100}
    assert routing(foundry, name) == served

    kubectl("delete", "secret", "creds", "-n", namespace)
    wait_for(
        lambda: reason_is(kubectl, namespace, name, "SecretNotFound"),
        what="SecretNotFound once the Secret is gone",
    )
    status = get(kubectl, namespace, name)["status"]
    assert status["servingVersion"] == v1["version"]
    # Provisioning (a stuck rollout), not Pending or Failed (nothing serving).
    assert status["phase"] == "Provisioning"
    ready = condition(kubectl, namespace, name, "Ready")
    assert f"version {v1['version']} keeps serving" in ready["message"]
    assert condition(kubectl, namespace, name, "Progressing")["reason"] == "SecretNotFound"
    assert routing(foundry, name) == served

    apply(kubectl, namespace, secret("creds", **{"api-key": value}))
    wait_ready(kubectl, namespace, name, timeout=30)
    assert [v["version"] for v in versions(foundry, name)] == [v1["version"]]
    assert routing(foundry, name) == served


# --- 11. a Secret created after a long wait is used at once --------------------------------


@pytest.mark.usefixtures("running_operator")
def test_secret_created_after_backoff_has_grown_is_used_within_seconds(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    # Three users of one Secret, each with its own jittered backoff: a look that merely
    # happened to fall due in time is luck for one of them, not for all three.
    names = [unique(f"late{i}") for i in range(3)]
    for name in names:
        apply(kubectl, namespace, _agent_with_secret(name, "later"))
    wait_for(
        lambda: all(reason_is(kubectl, namespace, n, "SecretNotFound") for n in names),
        what="SecretNotFound",
    )
    # Thirty seconds of failed looks (five or six each): the next ones are then up to a
    # minute away, and the agents wait without ever being called Failed.
    waited_until = time.monotonic() + 30
    while time.monotonic() < waited_until:
        assert all(reason_is(kubectl, namespace, n, "SecretNotFound") for n in names)
        time.sleep(1)
    apply(kubectl, namespace, secret("later", **{"api-key": "k-1"}))
    deadline = 15
    assert deadline < BACKOFF_MAX_SECONDS / 10
    wait_for(
        lambda: all(
            condition(kubectl, namespace, n, "Ready").get("status") == "True" for n in names
        ),
        timeout=deadline,
        interval=0.5,
        what="every user of the new Secret Ready",
    )
    assert [len(versions(foundry, n)) for n in names] == [1, 1, 1]


# --- 12. a binary Secret value ------------------------------------------------------------


@pytest.mark.usefixtures("running_operator")
def test_binary_secret_value_is_reported_as_not_text_rather_than_missing(
    kubectl: Any, namespace: str
) -> None:
    name = unique("binary")
    blob = base64.b64encode(b"\xff\xfe\x00\x81binary").decode()
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "blob"}}
    apply(kubectl, namespace, json.dumps({**body, "data": {"api-key": blob}}))
    apply(kubectl, namespace, _agent_with_secret(name, "blob"))
    ready = wait_for(
        lambda: reason_is(kubectl, namespace, name, "SecretNotFound"),
        what="the binary value refused",
    )
    assert "is not UTF-8 text" in ready["message"]
    assert "has no key" not in ready["message"]


# --- 7. the identity endpoint goes away for a while ----------------------------------------


def test_token_outage_keeps_ready_agents_ready_and_new_ones_converge_after_it(
    kubectl: Any,
    namespace: str,
    emulator: EmulatorProcess,
    dedicated_operator: OperatorProcess,
) -> None:
    serving = unique("steady")
    apply(kubectl, namespace, manifest(serving, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, serving)

    # A fresh process holds no token: every Foundry call it makes needs the identity endpoint.
    dedicated_operator.stop()
    admin = emulator.admin()
    admin.reset(state=False, stats=True)
    fault = admin.inject_status(503, operations=["token"])
    try:
        dedicated_operator.start()
        dedicated_operator.wait_until_logged("Initial authentication has finished")
        newcomer = unique("during")
        apply(kubectl, namespace, manifest(newcomer, f"{IMAGE}:1"))
        # At least 15 s, and until the newcomer has said why it waits: each failed token
        # request takes azure-identity several retries, so on a busy machine that can be late.
        started = time.monotonic()
        phases: set[str | None] = set()
        reasons: set[str | None] = set()
        while time.monotonic() - started < 15 or (
            "CredentialUnavailable" not in reasons and time.monotonic() - started < 60
        ):
            assert condition(kubectl, namespace, serving, "Ready").get("status") == "True"
            phases.add(phase(kubectl, namespace, newcomer))
            reasons.add(condition(kubectl, namespace, newcomer, "Ready").get("reason"))
            time.sleep(0.5)
        assert admin.stats().count("token", 503) >= 1, "the outage was never felt"
        assert "CredentialUnavailable" in reasons, reasons
        assert phase(kubectl, namespace, serving) == "Ready"
        assert "Failed" not in phases, phases
    finally:
        admin.remove_fault(fault)
    wait_ready(kubectl, namespace, newcomer, timeout=90)
    assert condition(kubectl, namespace, serving, "Ready").get("status") == "True"


@pytest.mark.usefixtures("running_operator")
def test_a_spec_near_the_object_size_limit_still_becomes_ready_and_deletes(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    # Five 60 KB values: kopf's last-handled-configuration copy of such a spec once outgrew
    # the 256 KiB annotation limit and wedged the object. The operator stores no copy now.
    name = unique("large")
    env = [{"name": f"BLOB_{i}", "value": chr(ord("a") + i) * 60_000} for i in range(5)]
    kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-",
        input=manifest(name, f"{IMAGE}:1", env=env),
    )  # fmt: skip
    wait_ready(kubectl, namespace, name, timeout=90)
    assert len(versions(foundry, name)) == 1
    annotations = get(kubectl, namespace, name)["metadata"].get("annotations", {})
    assert sum(len(v) for v in annotations.values()) < 1024
    kubectl("delete", "hagent", name, "-n", namespace, "--wait=true", "--timeout=60s", timeout=70)
    assert [a["name"] for a in foundry.agents.list() if a["name"] == name] == []
