"""Toolbox decisions: the wire form is the SDK's, the hash hides secrets, the plan is right."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.ai.projects._utils.model_base import SdkJSONEncoder
from azure.ai.projects.models import (
    AISearchIndexResource,
    AutoCodeInterpreterToolParam,
    AzureAISearchToolboxTool,
    AzureAISearchToolResource,
    CodeInterpreterToolboxTool,
    FileSearchToolboxTool,
    MCPToolboxTool,
    WebSearchToolboxTool,
)

from foundry_operator.api.reserved import toolbox_reserved_metadata
from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.api.toolbox import FoundryToolboxSpec
from foundry_operator.kube.toolboxes import users_in
from foundry_operator.links import ToolboxLinks
from foundry_operator.reconcile.toolbox import (
    KIND_AGENT,
    KIND_TOOLBOX,
    ToolboxAction,
    ToolboxInfo,
    ToolboxVersionInfo,
    decisive_latest_toolbox,
    desired_toolbox,
    from_preview_tools,
    inline_toolbox_name,
    mcp_url,
    plan_toolbox,
    secret_keys,
    tool_wire,
)

pytestmark = pytest.mark.unit

TOKEN = "oauth-secret-token-123"
OWNER = "ns/tools"


def spec(**fields: Any) -> FoundryToolboxSpec:
    return FoundryToolboxSpec.model_validate(fields)


def sdk_json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=SdkJSONEncoder, exclude_readonly=True))


def full() -> FoundryToolboxSpec:
    return spec(
        tools=[
            {
                "type": "mcp",
                "serverLabel": "docs",
                "serverUrl": "https://mcp.example.com/mcp",
                "requireApproval": "never",
                "allowedTools": ["search"],
                "headers": [
                    {"name": "X-Team", "value": "a"},
                    {"name": "X-Key", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ],
                "authorization": {"secretKeyRef": {"name": "s", "key": "token"}},
            },
            {"type": "code_interpreter", "memoryLimit": "4g", "fileIds": ["f1"]},
            {"type": "file_search", "vectorStoreIds": ["vs"], "maxNumResults": 5, "name": "fs"},
            {"type": "web_search", "searchContextSize": "low"},
            {
                "type": "azure_ai_search",
                "indexes": [{"projectConnectionId": "c", "indexName": "i", "topK": 3}],
            },
        ]
    )


VALUES = {("s", "k"): "key-value-999", ("s", "token"): TOKEN}


def test_tools_are_serialised_exactly_as_the_sdk_models_are() -> None:
    ours = [tool_wire(t, VALUES) for t in full().tools]
    sdk = [
        MCPToolboxTool(
            server_label="docs",
            server_url="https://mcp.example.com/mcp",
            require_approval="never",
            allowed_tools=["search"],
            headers={"X-Team": "a", "X-Key": "key-value-999"},
            authorization=TOKEN,
        ),
        CodeInterpreterToolboxTool(
            container=AutoCodeInterpreterToolParam(file_ids=["f1"], memory_limit="4g")
        ),
        FileSearchToolboxTool(name="fs", vector_store_ids=["vs"], max_num_results=5),
        WebSearchToolboxTool(search_context_size="low"),
        AzureAISearchToolboxTool(
            azure_ai_search=AzureAISearchToolResource(
                indexes=[AISearchIndexResource(project_connection_id="c", index_name="i", top_k=3)]
            )
        ),
    ]
    assert ours == sdk_json(sdk)


def test_secret_values_are_sent_but_hashed_only_as_digests() -> None:
    desired = desired_toolbox(full().tools, VALUES)
    assert desired.tools[0]["authorization"] == TOKEN
    rotated = desired_toolbox(full().tools, {**VALUES, ("s", "token"): "other-token-456"})
    assert rotated.spec_hash != desired.spec_hash
    assert desired_toolbox(full().tools, VALUES).spec_hash == desired.spec_hash
    assert [(k.name, k.key) for k in secret_keys(full().tools)] == [("s", "token"), ("s", "k")]


def test_description_metadata_and_retry_token_change_the_hash() -> None:
    base = desired_toolbox(full().tools, VALUES).spec_hash
    assert desired_toolbox(full().tools, VALUES, description="x").spec_hash != base
    assert desired_toolbox(full().tools, VALUES, metadata={"a": "b"}).spec_hash != base
    assert desired_toolbox(full().tools, VALUES, retry_token="1").spec_hash != base


def test_preview_tools_map_onto_toolbox_tools() -> None:
    agent = HostedAgentSpec.model_validate(
        {
            "image": "acr.azurecr.io/a:1",
            "tools": [
                {"type": "code_interpreter"},
                {"type": "file_search", "vectorStoreIds": ["vs"], "maxNumResults": 4},
                {
                    "type": "mcp",
                    "serverLabel": "docs",
                    "serverUrl": "https://m.example.com",
                    "requireApproval": "always",
                    "projectConnectionId": "conn",
                },
            ],
        }
    )
    wire = [tool_wire(t, {}) for t in from_preview_tools(agent.tools)]
    assert wire == [
        {"type": "code_interpreter"},
        {"type": "file_search", "vector_store_ids": ["vs"], "max_num_results": 4},
        {
            "type": "mcp",
            "server_label": "docs",
            "server_url": "https://m.example.com",
            "require_approval": "always",
            "project_connection_id": "conn",
        },
    ]


def test_mcp_url_is_pinned_to_the_version_and_inline_names_stay_short() -> None:
    assert (
        mcp_url("https://a/api/projects/p/", "tb", "3")
        == "https://a/api/projects/p/toolboxes/tb/versions/3/mcp?api-version=v1"
    )
    assert inline_toolbox_name("chat") == "chat-tools"
    assert len(inline_toolbox_name("a" * 63)) == 63


def version(number: int, hash_: str, owner: str = OWNER, kind: str = KIND_TOOLBOX) -> Any:
    meta = toolbox_reserved_metadata(
        uid="u", namespace=owner.split("/")[0], name=owner.split("/")[1], kind=kind, spec_hash=hash_
    )
    return ToolboxVersionInfo("tb", str(number), meta)


def plan(versions: list[Any], default: str | None, limit: int = 3) -> Any:
    info = ToolboxInfo("tb", default, versions[-1] if versions else None)
    return plan_toolbox(
        owner=OWNER,
        kind=KIND_TOOLBOX,
        spec_hash="h2",
        versions=versions,
        info=info if versions else None,
        revision_history_limit=limit,
    )


def test_plan_creates_sets_the_default_then_is_ready_and_prunes() -> None:
    assert plan([], None).action is ToolboxAction.CREATE
    assert plan([version(1, "h1")], "1").action is ToolboxAction.CREATE
    step = plan([version(1, "h1"), version(2, "h2")], "1")
    assert step.action is ToolboxAction.SET_DEFAULT and step.target is not None
    assert step.target.version == "2"
    ready = plan([version(n, f"h{n}") for n in (1, 2)], "2")
    assert ready.action is ToolboxAction.READY and ready.prune == ()
    many = [version(n, "old") for n in range(1, 5)] + [version(5, "h2")]
    assert plan(many, "5", limit=1).prune == ("1", "2", "3")


def test_a_toolbox_with_foreign_versions_is_a_conflict_even_of_the_same_name_other_kind() -> None:
    other_kind = plan([version(1, "h2", kind=KIND_AGENT)], "1")
    assert other_kind.action is ToolboxAction.CONFLICT
    assert other_kind.owner == f"HostedAgent {OWNER}"
    outside = plan([ToolboxVersionInfo("tb", "1", {})], "1")
    assert outside.action is ToolboxAction.CONFLICT and outside.owner is None


def test_one_read_settles_a_toolbox_whose_latest_is_ours_current_and_default() -> None:
    latest = version(2, "h2")
    assert decisive_latest_toolbox(OWNER, KIND_TOOLBOX, "h2", ToolboxInfo("tb", "2", latest))
    assert not decisive_latest_toolbox(OWNER, KIND_TOOLBOX, "h2", ToolboxInfo("tb", "1", latest))
    assert not decisive_latest_toolbox(OWNER, KIND_TOOLBOX, "h3", ToolboxInfo("tb", "2", latest))


def test_toolbox_users_are_the_live_hostedagents_naming_it() -> None:
    items = [
        {"metadata": {"name": "a"}, "spec": {"toolbox": {"name": "tb"}}},
        {"metadata": {"name": "b", "deletionTimestamp": "x"}, "spec": {"toolbox": {"name": "tb"}}},
        {"metadata": {"name": "c"}, "spec": {"toolbox": {"name": "other"}}},
        {"metadata": {"name": "d"}, "spec": {}},
    ]
    assert users_in(items, "tb") == ["a"]


def body(name: str, **fields: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name}, **fields}


def test_links_wake_agents_when_their_toolbox_moves_and_toolboxes_when_agents_leave() -> None:
    links = ToolboxLinks()
    assert links.agent_seen("ADDED", body("a", spec={"toolbox": {"name": "tb"}})) == []
    status_v1 = {"toolboxName": "tb", "currentVersion": "1"}
    assert links.toolbox_seen("ADDED", body("tb")) == []  # first sight
    assert links.toolbox_seen("MODIFIED", body("tb", status=status_v1)) == [("ns", "a")]
    assert links.toolbox_seen("MODIFIED", body("tb", status=status_v1)) == []  # no move
    leaving = body("a", spec={"toolbox": {"name": "tb"}})
    leaving["metadata"]["deletionTimestamp"] = "now"
    assert links.agent_seen("MODIFIED", leaving) == [("ns", "tb")]
    assert links.users("ns", "tb") == []


def test_spec_rules_hold_in_python_too() -> None:
    with pytest.raises(ValueError, match="exactly one of serverUrl"):
        spec(tools=[{"type": "mcp", "serverLabel": "d"}])
    with pytest.raises(ValueError, match="distinct serverLabel"):
        mcp = {"type": "mcp", "serverLabel": "d", "serverUrl": "https://x.example.com"}
        spec(tools=[mcp, mcp])
    with pytest.raises(ValueError, match="exclusive"):
        HostedAgentSpec.model_validate(
            {
                "image": "acr.azurecr.io/a:1",
                "toolbox": {"name": "tb"},
                "tools": [{"type": "code_interpreter"}],
            }
        )
    with pytest.raises(ValueError, match="must not set the variable"):
        HostedAgentSpec.model_validate(
            {
                "image": "acr.azurecr.io/a:1",
                "toolbox": {"name": "tb", "env": "TOOLS"},
                "env": [{"name": "TOOLS", "value": "x"}],
            }
        )
