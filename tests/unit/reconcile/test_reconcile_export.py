"""`foundry-operator export`: the spec of an existing version, which asks for exactly it."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_operator.api.reserved import reserved_metadata
from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.reconcile.adopt import content_hash, export_manifest, spec_from_version
from foundry_operator.reconcile.desired import desired_version
from foundry_operator.reconcile.observed import VersionInfo

pytestmark = pytest.mark.unit

IMAGE = "acr.azurecr.io/agents/chat:1"

FULL: dict[str, Any] = {
    "image": IMAGE,
    "registryConnection": "acr-conn",
    "cpu": "0.5",
    "memory": "1Gi",
    "protocols": [
        {"protocol": "responses", "version": "1.0.0"},
        {"protocol": "a2a", "version": "0.3.0"},
    ],
    "env": [{"name": "MODE", "value": "fast"}, {"name": "API_KEY", "value": "s3cret"}],
    "idleTimeoutSeconds": 600,
    "telemetryConfig": {
        "endpoints": [
            {
                "endpoint": "https://otel.example.com:4318",
                "protocol": "Http",
                "data": ["ContainerStdoutStderr", "Metrics"],
                "auth": {"headerName": "x-api-key", "secretId": "otel-conn", "secretKey": "key"},
            }
        ]
    },
    "raiConfig": {
        "raiPolicyName": "Microsoft.DefaultV2",
        "invocationsModeration": {
            "responseMode": "both",
            "inputContentType": "json",
            "inputPaths": ["$.input"],
            "outputPaths": ["$.output.text"],
            "streamSelectors": [{"eventType": "message.delta", "textField": "text"}],
        },
    },
    "enableMemorySnapshot": True,
    "description": "The chat agent",
    "metadata": {"team": "search"},
}


def made_by_hand(fields: dict[str, Any], number: int = 1) -> VersionInfo:
    """What Foundry answers for a version the SDK created from the same definition the
    spec would send (plus the field Foundry echoes for every hosted version)."""
    spec = HostedAgentSpec.model_validate(fields)
    desired = desired_version(spec)
    return VersionInfo(
        agent="Chat-Bot",
        version=str(number),
        status="active",
        metadata=desired.metadata,
        definition={**desired.definition, "container_protocol_versions": []},
        description=desired.description,
    )


@pytest.mark.parametrize("fields", [{"image": IMAGE}, FULL], ids=["minimal", "every-field"])
def test_the_exported_spec_hashes_to_the_version_it_came_from(fields: dict[str, Any]) -> None:
    version = made_by_hand(fields)
    assert version.definition is not None
    exported = spec_from_version(
        "Chat-Bot", version.definition, version.description, version.metadata
    )
    assert exported.problems == []
    assert exported.spec["adoptionPolicy"] == "Adopt"
    assert exported.spec["agentName"] == "Chat-Bot"
    spec = HostedAgentSpec.model_validate(exported.spec)
    assert desired_version(spec).spec_hash == content_hash(version)


def test_a_secret_value_moved_to_a_secret_still_matches() -> None:
    version = made_by_hand(FULL)
    moved = {
        **FULL,
        "env": [
            {"name": "MODE", "value": "fast"},
            {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "api"}}},
        ],
    }
    spec = HostedAgentSpec.model_validate(moved)
    assert desired_version(spec, {"API_KEY": "s3cret"}).spec_hash == content_hash(version)


def test_what_a_spec_cannot_say_is_named() -> None:
    definition = {
        "kind": "hosted",
        "cpu": "1",
        "memory": "2Gi",
        "container_configuration": {"image": IMAGE},
        "protocol_versions": [{"protocol": "responses", "version": "1.0.0"}],
        "tools": [{"type": "code_interpreter"}],
    }
    exported = spec_from_version("chat", definition, None, {"k8s-note": "x"})
    assert any("tools" in p for p in exported.problems)
    assert any("k8s-note" in p for p in exported.problems)


def test_a_spelling_the_spec_would_change_is_named() -> None:
    definition = {
        "kind": "hosted",
        "cpu": "1",
        "memory": "2Gi",
        "container_configuration": {"image": IMAGE},
        # No protocols: the spec's default (responses) would add one.
        "protocol_versions": [],
    }
    exported = spec_from_version("chat", definition, None, {})
    assert any("protocol_versions" in p for p in exported.problems)


def test_export_describes_the_serving_version_and_names_the_object() -> None:
    old = made_by_hand({"image": IMAGE}, 1)
    new = made_by_hand({"image": "acr.azurecr.io/agents/chat:2"}, 2)
    manifest, chosen, problems = export_manifest(
        "Chat-Bot", [old, new], {"1": 100}, namespace="team-a"
    )
    assert chosen.version == "1" and problems == []
    assert manifest["kind"] == "HostedAgent"
    assert manifest["metadata"] == {"name": "chat-bot", "namespace": "team-a"}
    assert manifest["spec"]["image"] == IMAGE
    # Without a serving version, the newest; or the one asked for.
    assert export_manifest("Chat-Bot", [old, new], {})[1].version == "2"
    assert export_manifest("Chat-Bot", [old, new], {"1": 100}, version="2")[1].version == "2"
    with pytest.raises(LookupError):
        export_manifest("Chat-Bot", [old], {}, version="7")
    with pytest.raises(LookupError):
        export_manifest("Chat-Bot", [], {})


def test_export_warns_about_a_version_the_operator_made() -> None:
    version = made_by_hand({"image": IMAGE})
    stamped = VersionInfo(
        agent=version.agent,
        version="1",
        status="active",
        metadata=reserved_metadata(uid="u", namespace="ns", name="x", spec_hash="h"),
        definition=version.definition,
    )
    problems = export_manifest("Chat-Bot", [stamped], {"1": 100})[2]
    assert any("created by the operator" in p for p in problems)
