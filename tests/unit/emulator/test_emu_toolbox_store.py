"""The emulator's toolboxes without a server: versions, the default, and MCP answers."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_devtools.emulator.config import LimitSettings
from foundry_devtools.emulator.errors import ApiError
from foundry_devtools.emulator.toolboxes import (
    ToolboxStore,
    handle_mcp,
    validate_toolbox_body,
)

pytestmark = pytest.mark.unit

MCP = {"type": "mcp", "server_label": "docs", "server_url": "https://m.example.com"}


def store() -> tuple[ToolboxStore, list[str]]:
    touched: list[str] = []
    return ToolboxStore("p", lambda: 1000.0, touched.append), touched


def create(s: ToolboxStore, name: str, tools: list[dict[str, Any]]) -> str:
    _, version = s.create_version(name, validate_toolbox_body({"tools": tools}, LimitSettings()))
    return str(version.number)


def test_default_follows_latest_until_pinned_and_survives_a_dump() -> None:
    s, touched = store()
    assert [create(s, "tb", [MCP]) for _ in range(2)] == ["1", "2"]
    assert s.render_toolbox(s.get("tb"))["default_version"] == "2"
    s.update("tb", {"default_version": "1"})
    create(s, "tb", [MCP])
    assert s.render_toolbox(s.get("tb"))["default_version"] == "1"
    record = s.dump("tb")
    assert record is not None
    again, _ = store()
    again.load(record)
    assert again.render_toolbox(again.get("tb")) == s.render_toolbox(s.get("tb"))
    assert touched and set(touched) == {"tb"}


def test_unknown_default_versions_and_bad_tools_are_400s_naming_the_field() -> None:
    s, _ = store()
    create(s, "tb", [MCP])
    with pytest.raises(ApiError) as bad:
        s.update("tb", {"default_version": "7"})
    assert bad.value.status == 400 and bad.value.param == "default_version"
    for tools, param in (
        ([{"type": "nope"}], "tools[0].type"),
        ([{**MCP, "connector_id": "connector_gmail"}], "tools[0].server_url"),
        ([MCP, MCP], "tools[1].server_label"),
    ):
        with pytest.raises(ApiError) as refused:
            validate_toolbox_body({"tools": tools}, LimitSettings())
        assert refused.value.param == param


def test_mcp_initialize_list_and_notifications() -> None:
    s, _ = store()
    create(s, "tb", [{**MCP, "allowed_tools": ["a", "b"]}, {"type": "code_interpreter"}])
    version = s.get_version("tb", "1")[1]
    init = handle_mcp(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "x"}},
        toolbox="tb",
        version=version,
        session_id=None,
    )
    assert init.message is not None and init.session_id
    assert init.message["result"]["protocolVersion"] == "2025-11-25"
    listed = handle_mcp(
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        toolbox="tb",
        version=version,
        session_id=init.session_id,
    )
    assert listed.message is not None
    names = [t["name"] for t in listed.message["result"]["tools"]]
    assert names == ["docs.a", "docs.b", "code_interpreter"]
    note = handle_mcp(
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        toolbox="tb",
        version=version,
        session_id=None,
    )
    assert note.status == 202 and note.message is None
    unknown = handle_mcp(
        {"jsonrpc": "2.0", "id": 3, "method": "server/discover"},
        toolbox="tb",
        version=version,
        session_id=None,
    )
    assert unknown.message is not None and unknown.message["error"]["code"] == -32601
