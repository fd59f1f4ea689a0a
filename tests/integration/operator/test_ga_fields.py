"""A HostedAgent with telemetry, a RAI policy, memory snapshots and endpoint settings: exactly
those wire fields reach Foundry (read from the emulator's record of the requests, with its
strict rule refusing any field the SDK's models lack), and endpoint settings change in place,
without a version and without moving a rollout's traffic.

Real kube-apiserver and kubectl, the operator as a separate process, the emulator as Foundry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient

from foundry_devtools.emulator.admin import AdminClient
from foundry_devtools.emulator.process import EmulatorProcess
from support import wait_for
from support.hagent import IMAGE, get, manifest, routing, unique, versions, wait_ready

pytestmark = pytest.mark.usefixtures("running_operator")

PROTOCOLS = [
    {"protocol": "responses", "version": "1.0.0"},
    {"protocol": "activity", "version": "1.0.0"},
    {"protocol": "voice_conversation_engine", "version": "1.0.0"},
]
GA_SPEC: dict[str, Any] = {
    "protocols": PROTOCOLS,
    "telemetryConfig": {
        "endpoints": [
            {
                "endpoint": "https://otel.example.com:4318",
                "protocol": "Http",
                "data": ["ContainerStdoutStderr", "ContainerOtel"],
                "auth": {"headerName": "x-api-key", "secretId": "otel-conn", "secretKey": "key"},
            },
            {"endpoint": "http://metrics.monitoring:4317", "protocol": "Grpc", "data": ["Metrics"]},
        ]
    },
    "raiConfig": {
        "raiPolicyName": "Microsoft.DefaultV2",
        "invocationsModeration": {
            "responseMode": "non_streaming",
            "inputPaths": ["$.input"],
            "outputPaths": ["$.output.text"],
        },
    },
    "enableMemorySnapshot": True,
    "endpoint": {
        "authorizationSchemes": [{"type": "Entra"}, {"type": "BotService"}],
        "activity": {"enableM365PublicEndpoint": True},
    },
}


@pytest.fixture
def strict(emulator: EmulatorProcess) -> Iterator[AdminClient]:
    """The emulator refuses any field the SDK's models do not have, for this test."""
    admin = emulator.admin()
    admin.reject_unknown_fields()
    try:
        yield admin
    finally:
        admin.reject_unknown_fields(False)


def apply(kubectl: Any, namespace: str, text: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=text)


def patch_spec(kubectl: Any, namespace: str, name: str, **spec: Any) -> None:
    body = json.dumps({"spec": spec})
    kubectl("patch", "hagent", name, "-n", namespace, "--type=merge", "-p", body)


def sent(admin: AdminClient, agent: str, operation: str) -> list[dict[str, Any]]:
    """The bodies the operator sent for ``agent``, that the emulator accepted."""
    return [
        r["body"] for r in admin.requests(operation=operation, agent=agent) if r["status"] == 200
    ]


def agent_endpoint(foundry: AIProjectClient, agent: str) -> dict[str, Any]:
    return dict(foundry.agents.get(agent).get("agent_endpoint") or {})


def test_ga_fields_reach_foundry_as_exactly_those_wire_fields(
    kubectl: Any, namespace: str, foundry: AIProjectClient, strict: AdminClient
) -> None:
    name = unique("ga")
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1", **GA_SPEC))
    wait_ready(kubectl, namespace, name)

    creates = sent(strict, name, "create_version")
    assert len(creates) == 1
    assert creates[0]["definition"] == {
        "kind": "hosted",
        "cpu": "1",
        "memory": "2Gi",
        "container_configuration": {"image": f"{IMAGE}:1"},
        "protocol_versions": [
            {"protocol": "activity", "version": "1.0.0"},
            {"protocol": "responses", "version": "1.0.0"},
            {"protocol": "voice_conversation_engine", "version": "1.0.0"},
        ],
        "telemetry_config": {
            "endpoints": [
                {
                    "kind": "OTLP",
                    "endpoint": "https://otel.example.com:4318",
                    "protocol": "Http",
                    "data": ["ContainerStdoutStderr", "ContainerOtel"],
                    "auth": {
                        "type": "header",
                        "header_name": "x-api-key",
                        "secret_id": "otel-conn",
                        "secret_key": "key",
                    },
                },
                {
                    "kind": "OTLP",
                    "endpoint": "http://metrics.monitoring:4317",
                    "protocol": "Grpc",
                    "data": ["Metrics"],
                },
            ]
        },
        "rai_config": {
            "rai_policy_name": "Microsoft.DefaultV2",
            "invocations_moderation": {
                "response_mode": "non_streaming",
                "input_paths": ["$.input"],
                "output_paths": ["$.output.text"],
            },
        },
        "enable_memory_snapshot": True,
    }
    # The endpoint settings went with the routing, in one PATCH; voice_conversation_engine is
    # served but is no key of ProtocolConfiguration, so it is not sent as one.
    patches = sent(strict, name, "update_details")
    assert len(patches) == 1
    assert patches[0]["agent_endpoint"] == {
        "version_selector": {
            "version_selection_rules": [
                {"type": "FixedRatio", "agent_version": "1", "traffic_percentage": 100}
            ]
        },
        "protocol_configuration": {
            "activity": {"enable_m365_public_endpoint": True},
            "responses": {},
        },
        "authorization_schemes": [{"type": "Entra"}, {"type": "BotService"}],
    }
    status = get(kubectl, namespace, name)["status"]
    assert status["endpoint"]["protocols"] == ["activity", "responses"]
    assert "otel-conn" not in json.dumps(status)  # references stay in the spec


def test_endpoint_settings_change_in_place_and_leave_a_rollout_split_alone(
    kubectl: Any, namespace: str, foundry: AIProjectClient, strict: AdminClient
) -> None:
    name = unique("gaep")
    spec = {"rollout": {"steps": [{"weight": 20, "pause": "1h"}]}}
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:1", **spec))
    wait_ready(kubectl, namespace, name)
    apply(kubectl, namespace, manifest(name, f"{IMAGE}:2", **spec))
    wait_for(lambda: routing(foundry, name) == {"1": 80, "2": 20}, timeout=30, what="2 at 20 %")
    before = len(strict.requests(operation="update_details", agent=name))

    schemes = [{"type": "Entra"}, {"type": "BotServiceTenant"}]
    patch_spec(kubectl, namespace, name, endpoint={"authorizationSchemes": schemes})
    wait_for(
        lambda: agent_endpoint(foundry, name).get("authorization_schemes") == schemes,
        timeout=30,
        what="the new authorization schemes in Foundry",
    )
    # One PATCH, without version_selector: the split the rollout holds is untouched, and no
    # version was made.
    patches = sent(strict, name, "update_details")[before:]
    assert len(patches) == 1
    assert "version_selector" not in patches[0]["agent_endpoint"]
    assert routing(foundry, name) == {"1": 80, "2": 20}
    assert [v["version"] for v in versions(foundry, name)] == ["1", "2"]
    status = get(kubectl, namespace, name)["status"]
    assert status["rollout"]["version"] == "2" and status["rollout"]["step"] == 0

    # Once Foundry holds them nothing more is written: a look made for another reason (a
    # spec change that is neither version nor endpoint) PATCHes nothing.
    count = len(strict.requests(operation="update_details", agent=name))
    patch_spec(kubectl, namespace, name, revisionHistoryLimit=5)
    generation = get(kubectl, namespace, name)["metadata"]["generation"]
    wait_for(
        lambda: get(kubectl, namespace, name)["status"].get("observedGeneration") == generation,
        timeout=30,
        what="the new generation observed",
    )
    assert len(strict.requests(operation="update_details", agent=name)) == count
