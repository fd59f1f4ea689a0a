"""kubectl apply refuses bad telemetry, RAI and endpoint settings, naming the field; kubectl
explain documents them. A real kube-apiserver with crds/ applied; no operator acts."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_session_operator")]

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]

IMAGE = "myregistry.azurecr.io/agents/chat:1.4"
OTLP = {"endpoint": "https://otel.example.com:4318", "protocol": "Http", "data": ["Metrics"]}
AUTH = {"headerName": "x-api-key", "secretId": "otel-conn", "secretKey": "key"}
ACTIVITY = [
    {"protocol": "responses", "version": "1.0.0"},
    {"protocol": "activity", "version": "1.0.0"},
]


def manifest(name: str = "chat", **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "metadata": {"name": name},
            "spec": {"image": IMAGE, **spec},
        }
    )


def telemetry(**endpoint: Any) -> dict[str, Any]:
    return {"telemetryConfig": {"endpoints": [{**OTLP, **endpoint}]}}


def moderation(**fields: Any) -> dict[str, Any]:
    return {"raiConfig": {"raiPolicyName": "p", "invocationsModeration": fields}}


def apply(kubectl: Kubectl, namespace: str, text: str) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", "-n", namespace, "-f", "-", input=text, check=False)


# (id, spec, field path in the error, words of the rule in the error). One mistake each:
# the apiserver skips CEL rules when the basic schema already failed.
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "telemetry-endpoint-not-a-url",
        telemetry(endpoint="otel.example.com:4318"),
        "spec.telemetryConfig.endpoints[0].endpoint",
        "must be an http or https URL",
    ),
    (
        "telemetry-unknown-protocol",
        telemetry(protocol="Udp"),
        "spec.telemetryConfig.endpoints[0].protocol",
        "Unsupported value",
    ),
    (
        "telemetry-unknown-data",
        telemetry(data=["Traces"]),
        "spec.telemetryConfig.endpoints[0].data[0]",
        "Unsupported value",
    ),
    (
        "telemetry-data-twice",
        telemetry(data=["Metrics", "Metrics"]),
        "spec.telemetryConfig.endpoints[0].data[1]",
        "Duplicate value",
    ),
    (
        "telemetry-without-data",
        {"telemetryConfig": {"endpoints": [{k: v for k, v in OTLP.items() if k != "data"}]}},
        "spec.telemetryConfig.endpoints[0].data",
        "Required value",
    ),
    (
        "telemetry-no-endpoints",
        {"telemetryConfig": {"endpoints": []}},
        "spec.telemetryConfig.endpoints",
        "at least 1 items",
    ),
    (
        "telemetry-auth-without-secret-key",
        telemetry(auth={k: v for k, v in AUTH.items() if k != "secretKey"}),
        "spec.telemetryConfig.endpoints[0].auth.secretKey",
        "Required value",
    ),
    (
        "telemetry-auth-bad-header",
        telemetry(auth={**AUTH, "headerName": "x api key"}),
        "spec.telemetryConfig.endpoints[0].auth.headerName",
        "must consist of letters, digits",
    ),
    ("rai-without-policy", {"raiConfig": {}}, "spec.raiConfig.raiPolicyName", "Required value"),
    (
        "rai-unknown-response-mode",
        moderation(responseMode="chunked", inputPaths=["$.a"]),
        "spec.raiConfig.invocationsModeration.responseMode",
        "Unsupported value",
    ),
    (
        "rai-json-input-without-paths",
        moderation(responseMode="non_streaming", outputPaths=["$.b"]),
        "spec.raiConfig.invocationsModeration.inputPaths",
        "required when inputContentType is json",
    ),
    (
        "rai-streaming-without-selectors",
        moderation(responseMode="streaming", inputPaths=["$.a"]),
        "spec.raiConfig.invocationsModeration.streamSelectors",
        "required when responseMode is streaming or both",
    ),
    (
        "rai-both-without-output-paths",
        moderation(responseMode="both", inputPaths=["$.a"], streamSelectors=[{"eventType": "d"}]),
        "spec.raiConfig.invocationsModeration.outputPaths",
        "required when responseMode is non_streaming or both",
    ),
    (
        "memory-snapshot-not-a-boolean",
        {"enableMemorySnapshot": "yes"},
        "spec.enableMemorySnapshot",
        "boolean",
    ),
    (
        "unknown-authorization-scheme",
        {"endpoint": {"authorizationSchemes": [{"type": "ApiKey"}]}},
        "spec.endpoint.authorizationSchemes[0].type",
        "Unsupported value",
    ),
    (
        "authorization-scheme-twice",
        {"endpoint": {"authorizationSchemes": [{"type": "Entra"}, {"type": "Entra"}]}},
        "spec.endpoint.authorizationSchemes[1]",
        "Duplicate value",
    ),
    (
        "activity-options-without-activity",
        {"endpoint": {"activity": {"enableM365PublicEndpoint": True}}},
        "spec.endpoint.activity",
        "needs the activity protocol in spec.protocols",
    ),
]


@pytest.mark.usefixtures("crd_installed")
@pytest.mark.parametrize(
    ("spec", "field", "rule"),
    [pytest.param(spec, field, rule, id=case) for case, spec, field, rule in INVALID],
)
def test_invalid_ga_settings_are_refused_naming_the_field(
    kubectl: Kubectl, namespace: str, spec: dict[str, Any], field: str, rule: str
) -> None:
    result = apply(kubectl, namespace, manifest(**spec))
    assert result.returncode != 0, f"accepted: {spec}"
    assert f"{field}:" in result.stderr, result.stderr
    assert rule in result.stderr, result.stderr


@pytest.mark.usefixtures("crd_installed")
def test_a_full_ga_manifest_is_accepted_with_its_defaults(kubectl: Kubectl, namespace: str) -> None:
    spec = {
        "protocols": ACTIVITY,
        **telemetry(auth=AUTH),
        "raiConfig": {
            "raiPolicyName": "Microsoft.DefaultV2",
            "invocationsModeration": {
                "responseMode": "both",
                "inputPaths": ["$.input"],
                "outputPaths": ["$.output"],
                "streamSelectors": [{"eventType": "delta", "textField": "text"}],
            },
        },
        "enableMemorySnapshot": True,
        "endpoint": {
            "authorizationSchemes": [{"type": "Entra"}, {"type": "BotService"}],
            "activity": {"enableM365PublicEndpoint": True},
        },
    }
    result = apply(kubectl, namespace, manifest(**spec))
    assert result.returncode == 0, result.stderr
    got = kubectl("get", "hostedagent", "chat", "-n", namespace, "-o", "json").stdout
    stored = json.loads(got)["spec"]
    endpoint = stored["telemetryConfig"]["endpoints"][0]
    assert endpoint["kind"] == "OTLP" and endpoint["auth"]["type"] == "header"
    assert stored["endpoint"] == spec["endpoint"]


@pytest.mark.usefixtures("crd_installed")
def test_kubectl_explain_documents_the_ga_fields(kubectl: Kubectl) -> None:
    def explained() -> str | None:
        result = kubectl("explain", "hostedagents.spec.telemetryConfig", check=False)
        return result.stdout if result.returncode == 0 else None

    text = wait_for(explained, timeout=30, what="kubectl explain hostedagents.spec.telemetryConfig")
    assert "OTLP" in text
    for path, words in (
        ("hostedagents.spec.telemetryConfig.endpoints.auth.secretId", "the operator never reads"),
        ("hostedagents.spec.telemetryConfig.endpoints.data", "ContainerStdoutStderr"),
        ("hostedagents.spec.raiConfig.raiPolicyName", "RAI policy"),
        ("hostedagents.spec.raiConfig.invocationsModeration.responseMode", "non_streaming"),
        ("hostedagents.spec.enableMemorySnapshot", "snapshot"),
        ("hostedagents.spec.endpoint", "without a new version"),
        ("hostedagents.spec.endpoint.authorizationSchemes.type", "BotServiceTenant"),
        ("hostedagents.spec.endpoint.activity.enableM365PublicEndpoint", "Microsoft 365"),
    ):
        assert words in kubectl("explain", path).stdout, path
