"""The emulator's openapi toolbox tools: the shape is checked, operations become MCP tools."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_devtools.emulator.config import LimitSettings
from foundry_devtools.emulator.errors import ApiError
from foundry_devtools.emulator.toolboxes import mcp_tools, validate_toolbox_body

pytestmark = pytest.mark.unit

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "summary": "List pets",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
            },
            "post": {
                "operationId": "createPet",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            },
        }
    },
}


def tool(**function: Any) -> dict[str, Any]:
    return {
        "type": "openapi",
        "openapi": {"name": "pets", "spec": DOCUMENT, "auth": {"type": "anonymous"}, **function},
    }


def test_each_operation_is_one_mcp_tool_named_api_dot_operation_id() -> None:
    body = validate_toolbox_body({"tools": [tool()]}, LimitSettings())
    listed = mcp_tools(body.tools)
    assert [t["name"] for t in listed] == ["pets.listPets", "pets.createPet"]
    assert listed[0]["description"] == "List pets"
    assert listed[0]["inputSchema"] == {
        "type": "object",
        "properties": {"limit": {"type": "integer"}},
        "required": ["limit"],
    }
    assert listed[1]["inputSchema"]["required"] == ["body"]


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ([{"type": "openapi"}], "tools[0].openapi"),
        ([tool(name="a b")], "tools[0].openapi.name"),
        ([tool(auth={"type": "basic"})], "tools[0].openapi.auth.type"),
        ([tool(auth={"type": "project_connection"})], "tools[0].openapi.auth.security_scheme"),
        (
            [tool(auth={"type": "managed_identity", "security_scheme": {}})],
            "tools[0].openapi.auth.security_scheme.audience",
        ),
        ([tool(spec={"swagger": "2.0", "paths": {}})], "tools[0].openapi.spec.openapi"),
        (
            [tool(spec={"openapi": "3.1.0", "paths": {"/a": {"get": {}}}})],
            "tools[0].openapi.spec.paths['/a'].get.operationId",
        ),
        ([tool(), tool()], "tools[1].openapi.name"),
    ],
)
def test_malformed_openapi_tools_are_400s_naming_the_field(
    tools: list[dict[str, Any]], param: str
) -> None:
    with pytest.raises(ApiError) as refused:
        validate_toolbox_body({"tools": tools}, LimitSettings())
    assert refused.value.status == 400 and refused.value.param == param
