"""Calling the agent with nothing but what Kubernetes says: status.endpoint, the endpoint
ConfigMap, and spec.suspend switching the Foundry agent off and on again.

Real kube-apiserver and kubectl, the operator as a separate process, the emulator as
Foundry; the agent is called with a plain openai client configured only from the ConfigMap.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential

from foundry_devtools.emulator.process import EmulatorProcess
from support import wait_for
from support.hagent import IMAGE, condition, events, get, manifest, routing, unique, versions

pytestmark = pytest.mark.usefixtures("running_operator")

KEYS = {
    "OPENAI_BASE_URL",
    "OPENAI_API_VERSION",
    "FOUNDRY_AGENT_NAME",
    "FOUNDRY_TOKEN_SCOPE",
    "FOUNDRY_AGENT_PROTOCOLS",
    "FOUNDRY_FEATURES",
    "OPENAI_CUSTOM_HEADERS",
}


def apply(kubectl: Any, namespace: str, text: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=text)


def patch_spec(kubectl: Any, namespace: str, name: str, **spec: Any) -> None:
    body = json.dumps({"spec": spec})
    kubectl("patch", "hagent", name, "-n", namespace, "--type=merge", "-p", body)


def configmap(kubectl: Any, namespace: str, name: str) -> dict[str, Any] | None:
    proc = kubectl("get", "configmap", name, "-n", namespace, "-o", "json", check=False)
    if proc.returncode != 0:
        assert "NotFound" in proc.stderr, proc.stderr
        return None
    return dict(json.loads(proc.stdout))


def ready_reason(kubectl: Any, namespace: str, name: str) -> str | None:
    return condition(kubectl, namespace, name, "Ready").get("reason")


def settled(kubectl: Any, namespace: str, name: str, reason: str) -> dict[str, Any] | None:
    """The object once its current generation is reported with this Ready reason."""
    obj = get(kubectl, namespace, name)
    status = obj.get("status", {})
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    generation = obj["metadata"]["generation"]
    if status.get("observedGeneration") == generation and ready.get("reason") == reason:
        return obj
    return None


def foundry_state(emulator: EmulatorProcess, agent: str) -> str | None:
    """The agent's state as the emulator holds it (its admin API, not the project API)."""
    for held in emulator.admin().state()["agents"]:
        if held["name"] == agent:
            return str(held["state"])
    return None


def call(data: dict[str, str], text: str) -> str:
    """One Responses call configured from the ConfigMap's data alone, as environment
    variables (what envFrom gives a Pod): the openai client reads the base URL and the
    headers itself; the token and the api-version are passed as the README shows."""
    token = DefaultAzureCredential().get_token(data["FOUNDRY_TOKEN_SCOPE"]).token
    with pytest.MonkeyPatch.context() as env:
        for key, value in data.items():
            env.setenv(key, value)
        client = openai.OpenAI(
            api_key=token,
            default_query={"api-version": data["OPENAI_API_VERSION"]},
            max_retries=0,
        )
    assert str(client.base_url).rstrip("/") == data["OPENAI_BASE_URL"]
    assert client.default_headers["Foundry-Features"] == data["FOUNDRY_FEATURES"]
    with client:
        return client.responses.create(input=text).output_text


def test_status_and_configmap_say_how_to_call_the_agent(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    name = unique("ep")
    apply(
        kubectl,
        namespace,
        manifest(name, f"{IMAGE}:1", endpointConfigMap={"name": f"{name}-endpoint"}),
    )
    obj = wait_for(lambda: settled(kubectl, namespace, name, "VersionActive"), what="Ready")
    status = obj["status"]

    base_url = f"{emulator.endpoint.rstrip('/')}/agents/{name}/endpoint/protocols/openai"
    endpoint = status["endpoint"]
    assert endpoint["baseURL"] == base_url
    assert endpoint["apiVersion"] == "v1"
    assert endpoint["tokenScope"] == "https://ai.azure.com/.default"
    assert [h["name"] for h in endpoint["headers"]] == ["Foundry-Features"]
    assert "WorkflowAgents=V1Preview" in endpoint["headers"][0]["value"]
    assert endpoint["protocols"] == ["responses"]
    identity = foundry.agents.get(name)["instance_identity"]
    assert status["identity"] == {
        "principalId": identity["principal_id"],
        "clientId": identity["client_id"],
    }
    assert status["endpointConfigMapName"] == f"{name}-endpoint"
    assert base_url in kubectl("get", "hagent", name, "-n", namespace, "-o", "wide").stdout

    cm = configmap(kubectl, namespace, f"{name}-endpoint")
    assert cm is not None
    data = cm["data"]
    assert set(data) == KEYS
    assert data["OPENAI_BASE_URL"] == base_url
    assert data["OPENAI_API_VERSION"] == "v1"
    assert data["FOUNDRY_AGENT_NAME"] == name
    assert data["FOUNDRY_TOKEN_SCOPE"] == "https://ai.azure.com/.default"
    assert data["FOUNDRY_FEATURES"] == endpoint["headers"][0]["value"]
    assert data["FOUNDRY_AGENT_PROTOCOLS"] == "responses"
    assert data["OPENAI_CUSTOM_HEADERS"] == f"Foundry-Features: {data['FOUNDRY_FEATURES']}"
    assert cm["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "name": name,
            "uid": obj["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert any(e["reason"] == "ConfigMapCreated" for e in events(kubectl, namespace, name))

    # Everything needed to call the agent is in the ConfigMap.
    assert call(data, "hello") == f"[{name} v1] echo: hello"

    # A reconcile with nothing new for the ConfigMap leaves it untouched (no churn).
    version = cm["metadata"]["resourceVersion"]
    patch_spec(kubectl, namespace, name, revisionHistoryLimit=2)
    wait_for(lambda: settled(kubectl, namespace, name, "VersionActive"), what="generation 2")
    assert configmap(kubectl, namespace, f"{name}-endpoint")["metadata"]["resourceVersion"] == (  # type: ignore[index]
        version
    )

    # An edit outside the operator is put back at once (its watch sees the ConfigMap).
    kubectl(
        "patch",
        "configmap",
        f"{name}-endpoint",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"data": {"OPENAI_BASE_URL": "https://elsewhere.example", "EXTRA": "x"}}),
    )
    wait_for(
        lambda: (configmap(kubectl, namespace, f"{name}-endpoint") or {}).get("data") == data,
        what="the ConfigMap restored",
    )

    # Renamed: the new one is written, the old one deleted; removed: deleted too.
    patch_spec(kubectl, namespace, name, endpointConfigMap={"name": f"{name}-renamed"})
    wait_for(
        lambda: (
            configmap(kubectl, namespace, f"{name}-endpoint") is None
            and configmap(kubectl, namespace, f"{name}-renamed") is not None
            and get(kubectl, namespace, name)["status"].get("endpointConfigMapName")
            == f"{name}-renamed"
        ),
        what="the ConfigMap renamed",
    )
    kubectl(
        "patch",
        "hagent",
        name,
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/spec/endpointConfigMap"}]',
    )
    wait_for(
        lambda: (
            configmap(kubectl, namespace, f"{name}-renamed") is None
            and "endpointConfigMapName" not in get(kubectl, namespace, name)["status"]
        ),
        what="the ConfigMap deleted with the field",
    )
    assert any(e["reason"] == "ConfigMapDeleted" for e in events(kubectl, namespace, name))
    assert ready_reason(kubectl, namespace, name) == "VersionActive"
    # The endpoint stays in status: only the ConfigMap was opt-in.
    assert get(kubectl, namespace, name)["status"]["endpoint"]["baseURL"] == base_url


def test_a_configmap_someone_else_owns_is_never_taken_over(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = unique("taken")
    theirs = {"OPENAI_BASE_URL": "https://theirs.example"}
    apply(
        kubectl,
        namespace,
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "shared-endpoint"},
                "data": theirs,
            }
        ),
    )
    apply(
        kubectl,
        namespace,
        manifest(name, f"{IMAGE}:1", endpointConfigMap={"name": "shared-endpoint"}),
    )
    obj = wait_for(
        lambda: settled(kubectl, namespace, name, "ConfigMapConflict"), what="ConfigMapConflict"
    )
    status = obj["status"]
    assert status["phase"] == "Failed"
    assert condition(kubectl, namespace, name, "Ready")["status"] == "False"
    degraded = condition(kubectl, namespace, name, "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == "ConfigMapConflict"
    assert "'shared-endpoint'" in degraded["message"]
    # The agent itself serves; only the ConfigMap was refused.
    assert status["servingVersion"] == "1" and routing(foundry, name) == {"1": 100}
    assert "endpointConfigMapName" not in status
    cm = configmap(kubectl, namespace, "shared-endpoint")
    assert cm is not None and cm["data"] == theirs
    assert "ownerReferences" not in cm["metadata"]
    warnings = [e for e in events(kubectl, namespace, name) if e["type"] == "Warning"]
    assert any(e["reason"] == "ConfigMapConflict" for e in warnings)

    # Once the other ConfigMap goes, the operator writes its own (its watch notices).
    kubectl("delete", "configmap", "shared-endpoint", "-n", namespace)
    wait_for(lambda: settled(kubectl, namespace, name, "VersionActive"), what="Ready again")
    cm = configmap(kubectl, namespace, "shared-endpoint")
    assert cm is not None and cm["data"]["FOUNDRY_AGENT_NAME"] == name


def test_suspend_disables_the_agent_in_foundry_and_resume_enables_it(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    name = unique("sus")
    apply(
        kubectl,
        namespace,
        manifest(name, f"{IMAGE}:1", endpointConfigMap={"name": f"{name}-endpoint"}),
    )
    wait_for(lambda: settled(kubectl, namespace, name, "VersionActive"), what="Ready")
    data = (configmap(kubectl, namespace, f"{name}-endpoint") or {})["data"]
    assert foundry_state(emulator, name) == "enabled"
    held, routed = versions(foundry, name), routing(foundry, name)
    admin = emulator.admin()
    disables, enables = admin.stats().count("disable"), admin.stats().count("enable")

    patch_spec(kubectl, namespace, name, suspend=True)
    obj = wait_for(lambda: settled(kubectl, namespace, name, "Suspended"), what="Suspended")
    assert foundry_state(emulator, name) == "disabled"
    status = obj["status"]
    assert status["phase"] == "Suspended" and status["suspended"] is True
    assert condition(kubectl, namespace, name, "Ready")["status"] == "False"
    assert condition(kubectl, namespace, name, "Degraded")["status"] == "False"
    assert condition(kubectl, namespace, name, "Progressing")["status"] == "False"
    # Nothing else changed: no new version, the same split, the endpoint still described.
    assert versions(foundry, name) == held and routing(foundry, name) == routed
    assert status["servingVersion"] == "1" and status["endpoint"]["baseURL"]
    with pytest.raises(openai.PermissionDeniedError):
        call(data, "anyone there?")
    assert admin.stats().count("disable") == disables + 1

    # Idempotent: another reconcile while suspended makes no second call.
    patch_spec(kubectl, namespace, name, revisionHistoryLimit=2)
    wait_for(lambda: settled(kubectl, namespace, name, "Suspended"), what="generation 3")
    assert admin.stats().count("disable") == disables + 1

    patch_spec(kubectl, namespace, name, suspend=False)
    obj = wait_for(lambda: settled(kubectl, namespace, name, "VersionActive"), what="resumed")
    assert foundry_state(emulator, name) == "enabled"
    assert obj["status"]["phase"] == "Ready" and "suspended" not in obj["status"]
    assert admin.stats().count("enable") == enables + 1
    assert versions(foundry, name) == held and routing(foundry, name) == routed
    assert call(data, "back") == f"[{name} v1] echo: back"
    reasons = [e["reason"] for e in events(kubectl, namespace, name)]
    assert "Suspended" in reasons and "Resumed" in reasons


def test_an_agent_created_suspended_is_made_disabled_and_never_ready(
    kubectl: Any, namespace: str, foundry: AIProjectClient, emulator: EmulatorProcess
) -> None:
    name = unique("born-off")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1", suspend=True))
    obj = wait_for(lambda: settled(kubectl, namespace, name, "Suspended"), what="Suspended")
    assert foundry_state(emulator, name) == "disabled"
    assert len(versions(foundry, name)) == 1 and routing(foundry, name) == {"1": 100}
    assert obj["status"]["endpoint"]["baseURL"].endswith(
        f"/agents/{name}/endpoint/protocols/openai"
    )
    # Removing the field (rather than setting false) resumes it as well.
    kubectl(
        "patch",
        "hagent",
        name,
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/spec/suspend"}]',
    )
    wait_for(lambda: settled(kubectl, namespace, name, "VersionActive"), what="Ready")
    assert foundry_state(emulator, name) == "enabled"
