"""The generated CRD: committed copy up to date, structural, documented, bounded."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundry_operator.api import cli, crdgen, resource
from foundry_operator.api.reserved import USER_METADATA_MAX_PAIRS

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


def crd() -> dict[str, Any]:
    return crdgen.hostedagent_crd()


def root_schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def spec_schema() -> dict[str, Any]:
    schema: dict[str, Any] = root_schema()["properties"]["spec"]
    return schema


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its field path (spec.env[].name)."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def test_crds_on_disk_match_models() -> None:
    for name, text in crdgen.crd_files().items():
        on_disk = (REPO / "crds" / name).read_text(encoding="utf-8")
        assert on_disk == text, f"crds/{name} is stale: run `foundry-operator crds`"


def test_generation_is_deterministic() -> None:
    assert crdgen.crd_files() == crdgen.crd_files()


def test_check_flag_reports_drift_and_write_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check = argparse.Namespace(output=tmp_path, check=True)
    assert cli.run(check) == 1  # nothing written yet
    (tmp_path / crdgen.CRD_FILENAME).write_text("stale\n", encoding="utf-8")
    assert cli.run(check) == 1
    assert "-stale" in capsys.readouterr().out
    assert cli.run(argparse.Namespace(output=tmp_path, check=False)) == 0
    assert cli.run(check) == 0


def test_crd_names_scope_and_subresources() -> None:
    manifest = crd()
    assert manifest["metadata"]["name"] == "hostedagents.foundry.agents.dev"
    spec = manifest["spec"]
    assert spec["group"] == resource.GROUP and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "HostedAgent"
    assert spec["names"]["shortNames"] == ["hagent"]
    assert "foundry" in spec["names"]["categories"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}


def test_printer_columns_show_agent_serving_phase_ready_age() -> None:
    columns = {c["name"]: c for c in crd()["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["Agent"]["jsonPath"] == ".status.agentName"
    assert columns["Serving"]["jsonPath"] == ".status.servingVersion"
    assert columns["Phase"]["jsonPath"] == ".status.phase"
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Age"]["type"] == "date"


def test_wide_output_adds_the_endpoint() -> None:
    columns = {c["name"]: c for c in crd()["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["Endpoint"]["jsonPath"] == ".status.endpoint.baseURL"
    assert columns["Endpoint"]["priority"] == 1
    assert columns["Project"]["jsonPath"] == ".spec.projectRef.name"
    assert columns["Project"]["priority"] == 1


def test_status_endpoint_identity_and_the_new_spec_fields_are_in_the_schema() -> None:
    status = root_schema()["properties"]["status"]["properties"]
    endpoint = status["endpoint"]["properties"]
    assert set(endpoint) == {"baseURL", "apiVersion", "tokenScope", "headers", "protocols"}
    assert endpoint["headers"]["x-kubernetes-list-map-keys"] == ["name"]
    assert set(status["identity"]["properties"]) == {"principalId", "clientId"}
    assert "Suspended" in status["phase"]["enum"]
    spec = spec_schema()["properties"]
    assert spec["suspend"]["type"] == "boolean"
    assert spec["endpointConfigMap"]["required"] == ["name"]


def test_schema_is_structural() -> None:
    text = yaml.safe_dump(root_schema())
    for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "$defs", "const:", "title:", "null"):
        assert forbidden not in text, forbidden
    for path, node in walk(root_schema()):
        assert "type" in node, f"{path} has no type"


def test_every_field_is_documented_for_kubectl_explain() -> None:
    for path, node in walk(root_schema()):
        # Scalar list items and map values are described by their parent field.
        scalar_member = path.endswith(("[]", "{}")) and node["type"] != "object"
        if path.startswith("metadata") or scalar_member:
            continue
        assert node.get("description"), f"{path} has no description"


def test_every_string_and_list_in_spec_is_bounded_for_cel_cost() -> None:
    for path, node in walk(spec_schema(), "spec"):
        if node["type"] == "string" and "enum" not in node:
            assert "maxLength" in node, f"{path} has no maxLength"
        if node["type"] == "array":
            assert "maxItems" in node, f"{path} has no maxItems"
        if node["type"] == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, f"{path} has no maxProperties"


def test_defaults_are_in_the_schema() -> None:
    props = spec_schema()["properties"]
    assert props["cpu"]["default"] == "1"
    assert props["memory"]["default"] == "2Gi"
    assert props["protocols"]["default"] == [{"protocol": "responses", "version": "1.0.0"}]
    assert props["deletionPolicy"]["default"] == "Delete"
    assert props["revisionHistoryLimit"]["default"] == 3
    # agentName defaults to metadata.name, which a CRD default cannot express.
    assert "default" not in props["agentName"]
    # Optional lists and maps stay absent rather than materialising as [] / {}.
    for name in ("env", "tools", "metadata"):
        assert "default" not in props[name]


def test_list_types_make_protocols_and_env_unique_by_key() -> None:
    props = spec_schema()["properties"]
    assert props["protocols"]["x-kubernetes-list-type"] == "map"
    assert props["protocols"]["x-kubernetes-list-map-keys"] == ["protocol"]
    assert props["env"]["x-kubernetes-list-type"] == "map"
    assert props["env"]["x-kubernetes-list-map-keys"] == ["name"]
    status = root_schema()["properties"]["status"]["properties"]
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]


def test_protocol_enum_is_the_sdk_protocol_list() -> None:
    from azure.ai.projects.models import AgentEndpointProtocol

    enum = spec_schema()["properties"]["protocols"]["items"]["properties"]["protocol"]["enum"]
    assert enum == [p.value for p in AgentEndpointProtocol]


def test_agent_name_is_immutable_once_set() -> None:
    rules = [
        r["rule"] for r in spec_schema()["properties"]["agentName"]["x-kubernetes-validations"]
    ]
    assert "self == oldSelf" in rules
    root_rules = " ".join(r["rule"] for r in root_schema()["x-kubernetes-validations"])
    assert "oldSelf.spec.agentName" in root_rules and "self.metadata.name" in root_rules


def test_user_metadata_limit_leaves_room_for_reserved_keys() -> None:
    metadata = spec_schema()["properties"]["metadata"]
    assert metadata["maxProperties"] == USER_METADATA_MAX_PAIRS == 12
    assert metadata["additionalProperties"]["maxLength"] == 512


def test_validation_messages_name_the_field() -> None:
    for path, node in walk(root_schema()):
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["message"].startswith(("spec.", "metadata.")), (
                path,
                rule["message"],
            )


def test_tools_union_folds_into_one_object_with_per_type_rules() -> None:
    item = spec_schema()["properties"]["tools"]["items"]
    assert item["properties"]["type"]["enum"] == ["code_interpreter", "file_search", "mcp"]
    assert item["required"] == ["type"]
    messages = [r["message"] for r in item["x-kubernetes-validations"]]
    assert "spec.tools[].serverUrl is required when type is mcp" in messages
    assert "spec.tools[].vectorStoreIds is not allowed when type is mcp" in messages


def test_status_is_strict_but_every_field_optional() -> None:
    status = root_schema()["properties"]["status"]
    assert "x-kubernetes-preserve-unknown-fields" not in status
    assert "required" not in status
