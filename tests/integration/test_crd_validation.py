"""The API server itself refuses bad HostedAgents, naming the field and the rule.

Runs against a real kube-apiserver (the devcluster, or ``--kubeconfig``) with crds/ applied.
Each invalid manifest carries exactly one mistake: the apiserver skips CEL rules when the
basic schema (types, enums, bounds) already failed, so mixing mistakes would hide messages.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from support import wait_for

# These tests are about the API server alone: the session's operator must not act on their
# objects (it would write status, and report name conflicts between them).
pytestmark = [pytest.mark.usefixtures("no_session_operator"), pytest.mark.integration]

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]

IMAGE = "myregistry.azurecr.io/agents/chat:1.4"
SECRET_REF = {"secretKeyRef": {"name": "chat-secrets", "key": "api-key"}}


def manifest(name: str = "chat", **spec: Any) -> str:
    body = {"image": IMAGE, **spec}
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "metadata": {"name": name},
            "spec": {k: v for k, v in body.items() if v is not None},
        }
    )


def toolbox(name: str = "tools", **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "FoundryToolbox",
            "metadata": {"name": name},
            "spec": {"tools": [{"type": "code_interpreter"}], **spec},
        }
    )


MCP = {"type": "mcp", "serverLabel": "docs", "serverUrl": "https://mcp.example.com/mcp"}


def apply(kubectl: Kubectl, namespace: str, text: str) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", "-n", namespace, "-f", "-", input=text, check=False)


# (id, manifest, field path in the error, words of the rule in the error)
INVALID: list[tuple[str, str, str, str]] = [
    (
        "agent-name-starts-with-hyphen",
        manifest(agentName="-chat"),
        "spec.agentName",
        "must be 1-63 letters, digits or '-'",
    ),
    (
        "agent-name-too-long",
        manifest(agentName="a" * 64),
        "spec.agentName",
        "may not be more than 63",
    ),
    (
        "metadata-name-is-no-agent-name",
        manifest(name="chat.v2"),
        "spec.agentName",
        "set spec.agentName",
    ),
    (
        "endpoint-configmap-name-uppercase",
        manifest(endpointConfigMap={"name": "Chat_Endpoint"}),
        "spec.endpointConfigMap.name",
        "must be a valid ConfigMap name",
    ),
    (
        "endpoint-configmap-without-name",
        manifest(endpointConfigMap={}),
        "spec.endpointConfigMap.name",
        "Required value",
    ),
    ("suspend-not-a-boolean", manifest(suspend="yes"), "spec.suspend", "boolean"),
    ("cpu-above-range", manifest(cpu="8"), "spec.cpu", "between 250m and 4"),
    ("cpu-below-range", manifest(cpu="100m"), "spec.cpu", "between 250m and 4"),
    ("memory-not-a-quantity", manifest(memory="lots"), "spec.memory", "number of Mi or Gi"),
    # Quantities Kubernetes accepts but Foundry refuses: the accepted forms are named.
    ("memory-decimal-giga", manifest(memory="2G"), "spec.memory", "number of Mi or Gi"),
    ("memory-decimal-mega", manifest(memory="1000M"), "spec.memory", "number of Mi or Gi"),
    ("memory-kilo", manifest(memory="1048576k"), "spec.memory", "number of Mi or Gi"),
    ("memory-plain-bytes", manifest(memory="2147483648"), "spec.memory", "number of Mi or Gi"),
    ("cpu-exponent", manifest(cpu="1e0"), "spec.cpu", "decimal cores or millicores"),
    ("memory-above-range", manifest(memory="16Gi"), "spec.memory", "between 512Mi and 8Gi"),
    ("image-without-registry", manifest(image="nginx:1.27"), "spec.image", "full image reference"),
    (
        "image-without-tag-or-digest",
        manifest(image="myregistry.azurecr.io/agents/chat"),
        "spec.image",
        "full image reference",
    ),
    ("image-missing", manifest(image=None), "spec.image", "Required value"),
    ("empty-protocols", manifest(protocols=[]), "spec.protocols", "at least 1 items"),
    (
        "duplicate-protocol",
        manifest(
            protocols=[
                {"protocol": "responses", "version": "1.0.0"},
                {"protocol": "responses", "version": "2.0.0"},
            ]
        ),
        "spec.protocols[1]",
        "Duplicate value",
    ),
    (
        "unknown-protocol",
        manifest(protocols=[{"protocol": "grpc", "version": "1.0.0"}]),
        "spec.protocols[0].protocol",
        "Unsupported value",
    ),
    (
        "protocol-version-not-semver",
        manifest(protocols=[{"protocol": "responses", "version": "v1"}]),
        "spec.protocols[0].version",
        "semantic version",
    ),
    (
        "env-with-value-and-valueFrom",
        manifest(env=[{"name": "API_KEY", "value": "x", "valueFrom": SECRET_REF}]),
        "spec.env[0]",
        "exactly one of value or valueFrom",
    ),
    (
        "env-with-two-sources",
        manifest(
            env=[
                {
                    "name": "API_KEY",
                    "valueFrom": {**SECRET_REF, "configMapKeyRef": {"name": "c", "key": "k"}},
                }
            ]
        ),
        "spec.env[0].valueFrom",
        "exactly one of secretKeyRef or configMapKeyRef",
    ),
    (
        "env-reserved-prefix-foundry",
        manifest(env=[{"name": "FOUNDRY_PROJECT_ENDPOINT", "value": "x"}]),
        "spec.env[0].name",
        "must not start with FOUNDRY_ or AGENT_",
    ),
    (
        "env-reserved-prefix-lower-case",
        manifest(env=[{"name": "foundry_x", "value": "x"}]),
        "spec.env[0].name",
        "must not start with FOUNDRY_ or AGENT_",
    ),
    (
        "env-reserved-prefix-agent",
        manifest(env=[{"name": "AGENT_NAME", "value": "x"}]),
        "spec.env[0].name",
        "must not start with FOUNDRY_ or AGENT_",
    ),
    (
        "duplicate-env-names",
        manifest(env=[{"name": "MODE", "value": "a"}, {"name": "MODE", "value": "b"}]),
        "spec.env[1]",
        "Duplicate value",
    ),
    (
        "reserved-metadata-key",
        manifest(metadata={"k8s-uid": "forged"}),
        "spec.metadata",
        "reserved for the operator",
    ),
    (
        "too-many-metadata-pairs",
        manifest(metadata={f"key{i}": "v" for i in range(13)}),
        "spec.metadata",
        "must have at most 12",
    ),
    (
        "metadata-key-too-long",
        manifest(metadata={"k" * 65: "v"}),
        "spec.metadata",
        "keys must be 1-64 characters",
    ),
    (
        "idle-timeout-below-range",
        manifest(idleTimeoutSeconds=60),
        "spec.idleTimeoutSeconds",
        "greater than or equal to 120",
    ),
    (
        "unknown-deletion-policy",
        manifest(deletionPolicy="Orphan"),
        "spec.deletionPolicy",
        "Unsupported value",
    ),
    (
        "management-policy-crossplane-spelling",
        manifest(managementPolicy="Observe"),
        "spec.managementPolicy",
        "Unsupported value",
    ),
    (
        "adoption-policy-ack-spelling",
        manifest(adoptionPolicy="adopt-or-create"),
        "spec.adoptionPolicy",
        "Unsupported value",
    ),
    (
        "mcp-tool-without-url",
        manifest(tools=[{"type": "mcp", "serverLabel": "docs"}]),
        "spec.tools[0].serverUrl",
        "required when type is mcp",
    ),
    (
        "tool-field-of-another-type",
        manifest(tools=[{"type": "code_interpreter", "vectorStoreIds": ["vs_1"]}]),
        "spec.tools[0].vectorStoreIds",
        "not allowed when type is code_interpreter",
    ),
    (
        "toolbox-and-inline-tools-together",
        manifest(toolbox={"name": "tools"}, tools=[{"type": "code_interpreter"}]),
        "spec.tools",
        "spec.toolbox and spec.tools are exclusive",
    ),
    (
        "env-sets-the-toolbox-variable",
        manifest(toolbox={"name": "tools"}, env=[{"name": "MCP_SERVER_URL", "value": "x"}]),
        "spec.env",
        "must not set the variable the toolbox's MCP URL goes into",
    ),
    (
        "toolbox-env-reserved-prefix",
        manifest(toolbox={"name": "tools", "env": "FOUNDRY_TOOLS"}),
        "spec.toolbox.env",
        "must not start with FOUNDRY_",
    ),
    (
        "toolbox-without-tools",
        toolbox(tools=[]),
        "spec.tools",
        "at least 1 items",
    ),
    (
        "toolbox-name-from-metadata-invalid",
        toolbox(name="tools.v2"),
        "spec.toolboxName",
        "set spec.toolboxName",
    ),
    (
        "toolbox-mcp-with-url-and-connector",
        toolbox(tools=[{**MCP, "connectorId": "connector_sharepoint"}]),
        "spec.tools[0]",
        "exactly one of serverUrl, connectorId or tunnelId",
    ),
    (
        "toolbox-mcp-header-value-and-secret",
        toolbox(
            tools=[
                {
                    **MCP,
                    "headers": [{"name": "X-Key", "value": "a", "valueFrom": SECRET_REF}],
                }
            ]
        ),
        "spec.tools[0].headers[0]",
        "exactly one of value or valueFrom",
    ),
    (
        "toolbox-duplicate-server-labels",
        toolbox(tools=[MCP, MCP]),
        "spec.tools",
        "distinct serverLabel",
    ),
    (
        "toolbox-file-search-too-many-results",
        toolbox(tools=[{"type": "file_search", "vectorStoreIds": ["vs"], "maxNumResults": 99}]),
        "spec.tools[0].maxNumResults",
        "less than or equal to 50",
    ),
]


@pytest.mark.usefixtures("crd_installed")
@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [pytest.param(text, field, rule, id=case) for case, text, field, rule in INVALID],
)
def test_invalid_manifest_is_refused_naming_field_and_rule(
    kubectl: Kubectl, namespace: str, text: str, field: str, rule: str
) -> None:
    result = apply(kubectl, namespace, text)
    assert result.returncode != 0, f"accepted:\n{text}"
    assert f"{field}:" in result.stderr, result.stderr
    assert rule in result.stderr, result.stderr


@pytest.mark.usefixtures("crd_installed")
def test_minimal_manifest_is_accepted_with_defaults_filled_in(
    kubectl: Kubectl, namespace: str
) -> None:
    result = apply(kubectl, namespace, manifest())
    assert result.returncode == 0, result.stderr
    stored = json.loads(kubectl("get", "hostedagent", "chat", "-n", namespace, "-o", "json").stdout)
    assert stored["spec"] == {
        "image": IMAGE,
        "cpu": "1",
        "memory": "2Gi",
        "protocols": [{"protocol": "responses", "version": "1.0.0"}],
        "deletionPolicy": "Delete",
        "managementPolicy": "Manage",
        "adoptionPolicy": "Never",
        "adoptedVersions": "Keep",
        "revisionHistoryLimit": 3,
    }


@pytest.mark.usefixtures("crd_installed")
def test_full_valid_manifest_is_accepted(kubectl: Kubectl, namespace: str) -> None:
    text = manifest(
        agentName="chat-prod",
        image="myregistry.azurecr.io/agents/chat@sha256:" + "a" * 64,
        registryConnection="acr-conn",
        cpu="500m",
        memory="1Gi",
        protocols=[
            {"protocol": "responses", "version": "1.0.0"},
            {"protocol": "invocations", "version": "2.0.0"},
        ],
        env=[
            {"name": "MODE", "value": "fast"},
            {"name": "API_KEY", "valueFrom": SECRET_REF},
            {
                "name": "OPT",
                "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k", "optional": True}},
            },
        ],
        tools=[
            {"type": "code_interpreter"},
            {"type": "file_search", "vectorStoreIds": ["vs_1"], "maxNumResults": 5},
            {"type": "mcp", "serverLabel": "docs", "serverUrl": "https://mcp.example.com/sse"},
        ],
        description="Chat agent",
        metadata={f"key{i}": "v" for i in range(12)},
        idleTimeoutSeconds=900,
        deletionPolicy="Retain",
        revisionHistoryLimit=0,
        suspend=True,
        endpointConfigMap={"name": "chat-prod.endpoint"},
    )
    result = apply(kubectl, namespace, text)
    assert result.returncode == 0, result.stderr


@pytest.mark.usefixtures("crd_installed")
def test_agent_name_change_is_refused(kubectl: Kubectl, namespace: str) -> None:
    assert apply(kubectl, namespace, manifest(agentName="one")).returncode == 0
    result = apply(kubectl, namespace, manifest(agentName="two"))
    assert result.returncode != 0
    assert "spec.agentName:" in result.stderr and "immutable" in result.stderr


@pytest.mark.usefixtures("crd_installed")
def test_agent_name_may_only_be_added_when_it_equals_the_default(
    kubectl: Kubectl, namespace: str
) -> None:
    assert apply(kubectl, namespace, manifest()).returncode == 0
    renamed = apply(kubectl, namespace, manifest(agentName="other"))
    assert renamed.returncode != 0
    assert "spec.agentName:" in renamed.stderr and "immutable" in renamed.stderr
    pinned = apply(kubectl, namespace, manifest(agentName="chat"))
    assert pinned.returncode == 0, pinned.stderr


@pytest.mark.usefixtures("crd_installed")
def test_unknown_status_fields_are_dropped_not_refused(kubectl: Kubectl, namespace: str) -> None:
    assert apply(kubectl, namespace, manifest()).returncode == 0
    patch = {"status": {"phase": "Ready", "agentName": "chat", "fromTheFuture": True}}
    kubectl(
        "patch",
        "hostedagent",
        "chat",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(patch),
    )
    stored = json.loads(kubectl("get", "hostedagent", "chat", "-n", namespace, "-o", "json").stdout)
    assert stored["status"] == {"phase": "Ready", "agentName": "chat"}


@pytest.mark.usefixtures("crd_installed")
def test_short_name_and_printer_columns(kubectl: Kubectl, namespace: str) -> None:
    assert apply(kubectl, namespace, manifest()).returncode == 0
    header = kubectl("get", "hagent", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "AGENT", "SERVING", "TRAFFIC", "PHASE", "READY", "AGE"]
    wide = kubectl("get", "hagent", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert wide == [
        "NAME",
        "AGENT",
        "SERVING",
        "TRAFFIC",
        "PHASE",
        "READY",
        "REASON",
        "LATEST",
        "ENDPOINT",
        "PROJECT",
        "AGE",
    ]


@pytest.mark.usefixtures("crd_installed")
def test_kubectl_explain_teaches_the_api(kubectl: Kubectl) -> None:
    # The apiserver publishes CRD schemas to OpenAPI asynchronously: poll briefly.
    def explained() -> str | None:
        result = kubectl("explain", "hostedagents.spec.cpu", check=False)
        return result.stdout if result.returncode == 0 else None

    text = wait_for(explained, timeout=30, what="kubectl explain hostedagents.spec.cpu")
    assert "CPU cores for the agent container" in text
    for path, words in (
        ("hostedagents.spec.suspend", "disables the agent in Foundry"),
        ("hostedagents.spec.endpointConfigMap.name", "OPENAI_BASE_URL"),
        ("hostedagents.status.endpoint.baseURL", "Base URL for OpenAI clients"),
        ("hostedagents.status.endpoint.tokenScope", "Entra ID bearer token"),
        ("hostedagents.status.identity.principalId", "principal"),
    ):
        assert words in kubectl("explain", path).stdout, path


@pytest.mark.usefixtures("crd_installed")
def test_latest_tag_is_accepted_with_a_warning_at_apply(kubectl: Kubectl, namespace: str) -> None:
    # The warning policy is compiled by the API server shortly after it is applied: ask with
    # server-side dry runs until it answers, then apply for real.
    latest = manifest("moving", image="myregistry.azurecr.io/agents/chat:latest")
    wait_for(
        lambda: (
            "moving tag :latest"
            in kubectl(
                "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=latest, check=False
            ).stderr
        ),
        what="the :latest warning from the ValidatingAdmissionPolicy",
    )
    result = apply(kubectl, namespace, latest)
    assert result.returncode == 0, result.stderr
    assert "Warning:" in result.stderr and "versioned tag or a digest" in result.stderr
    pinned = apply(kubectl, namespace, manifest("pinned"))
    assert pinned.returncode == 0 and "Warning" not in pinned.stderr


@pytest.mark.usefixtures("crd_installed")
def test_project_kinds_show_endpoint_credential_and_readiness(
    kubectl: Kubectl, namespace: str
) -> None:
    project = {
        "apiVersion": "foundry.agents.dev/v1alpha1",
        "kind": "FoundryProject",
        "metadata": {"name": "main"},
        "spec": {"endpoint": "https://acct.services.ai.azure.com/api/projects/p"},
    }
    assert apply(kubectl, namespace, json.dumps(project)).returncode == 0
    lines = kubectl("get", "fproject", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "ENDPOINT", "CREDENTIAL", "READY", "REASON", "AGE"]
    # The default credential is filled in by the apiserver, so the column is never empty.
    assert "Operator" in lines[1].split()
    wide = kubectl("get", "cfproject", "-o", "wide").stdout
    assert wide == "" or wide.splitlines()[0].split()[-2:] == ["NAMESPACES", "AGE"]
