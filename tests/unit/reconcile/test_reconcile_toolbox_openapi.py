"""OpenAPI toolbox tools: the wire is the SDK's, documents come inline or from ConfigMaps,
and a broken document is refused with the field named."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.ai.projects._utils.model_base import SdkJSONEncoder
from azure.ai.projects.models import (
    OpenApiAnonymousAuthDetails,
    OpenApiFunctionDefinition,
    OpenApiManagedAuthDetails,
    OpenApiManagedSecurityScheme,
    OpenApiProjectConnectionAuthDetails,
    OpenApiProjectConnectionSecurityScheme,
    OpenApiToolboxTool,
)

from foundry_operator.api.toolbox import FoundryToolboxSpec
from foundry_operator.reconcile.toolbox import (
    InvalidOpenApiDocument,
    config_map_keys,
    desired_toolbox,
    openapi_documents,
    tool_wire,
)

pytestmark = pytest.mark.unit

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Weather", "version": "1"},
    "servers": [{"url": "https://weather.example.com"}],
    "paths": {
        "/forecast": {
            "get": {
                "operationId": "getForecast",
                "parameters": [{"name": "city", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
}

YAML_DOCUMENT = """
openapi: 3.1.0
info: {title: Weather, version: '1'}
paths:
  /forecast:
    get:
      operationId: getForecast
      x-since: 2024-05-01
      responses:
        200: {description: ok}
"""


def spec(*tools: dict[str, Any]) -> FoundryToolboxSpec:
    return FoundryToolboxSpec.model_validate({"tools": list(tools)})


def openapi(**function: Any) -> dict[str, Any]:
    return {"type": "openapi", "openapi": {"name": "weather", **function}}


def from_map(name: str = "api", key: str = "openapi.yaml") -> dict[str, Any]:
    return {"configMapKeyRef": {"name": name, "key": key}}


def sdk_json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=SdkJSONEncoder, exclude_readonly=True))


def test_openapi_tools_are_serialised_exactly_as_the_sdk_models_are() -> None:
    tools = spec(
        {
            **openapi(spec=DOCUMENT, auth={"type": "anonymous"}, description="Forecasts"),
            "name": "wx",
        },
        {
            "type": "openapi",
            "openapi": {
                "name": "orders",
                "spec": DOCUMENT,
                "auth": {
                    "type": "project_connection",
                    "securityScheme": {"projectConnectionId": "conn-orders"},
                },
                "defaultParams": ["city"],
            },
        },
        {
            "type": "openapi",
            "openapi": {
                "name": "billing",
                "spec": DOCUMENT,
                "auth": {"type": "managed_identity", "securityScheme": {"audience": "api://b"}},
            },
        },
    ).tools
    ours = [tool_wire(t, {}) for t in tools]
    sdk = [
        OpenApiToolboxTool(
            name="wx",
            openapi=OpenApiFunctionDefinition(
                name="weather",
                description="Forecasts",
                spec=DOCUMENT,
                auth=OpenApiAnonymousAuthDetails(),
            ),
        ),
        OpenApiToolboxTool(
            openapi=OpenApiFunctionDefinition(
                name="orders",
                spec=DOCUMENT,
                auth=OpenApiProjectConnectionAuthDetails(
                    security_scheme=OpenApiProjectConnectionSecurityScheme(
                        project_connection_id="conn-orders"
                    )
                ),
                default_params=["city"],
            )
        ),
        OpenApiToolboxTool(
            openapi=OpenApiFunctionDefinition(
                name="billing",
                spec=DOCUMENT,
                auth=OpenApiManagedAuthDetails(
                    security_scheme=OpenApiManagedSecurityScheme(audience="api://b")
                ),
            )
        ),
    ]
    assert ours == sdk_json(sdk)
    # The document is sent whole: fields the schema does not name (info, servers) included.
    assert ours[0]["openapi"]["spec"] == DOCUMENT


def test_a_configmap_document_is_parsed_sent_and_its_edits_make_a_new_version() -> None:
    tools = spec(openapi(specFrom=from_map(), auth={"type": "anonymous"})).tools
    assert [(k.name, k.key) for k in config_map_keys(tools)] == [("api", "openapi.yaml")]
    documents = openapi_documents(tools, {("api", "openapi.yaml"): YAML_DOCUMENT})
    desired = desired_toolbox(tools, documents=documents)
    sent = desired.tools[0]["openapi"]["spec"]
    # YAML read as JSON would: dates stay text, integer response codes become string keys.
    assert sent["paths"]["/forecast"]["get"]["x-since"] == "2024-05-01"
    assert sent["paths"]["/forecast"]["get"]["responses"] == {"200": {"description": "ok"}}
    edited = YAML_DOCUMENT.replace("getForecast", "getForecastV2")
    again = desired_toolbox(
        tools, documents=openapi_documents(tools, {("api", "openapi.yaml"): edited})
    )
    assert again.spec_hash != desired.spec_hash
    # Inline and ConfigMap forms of one document are the same version.
    inline = spec(openapi(spec=sent, auth={"type": "anonymous"})).tools
    assert desired_toolbox(inline).spec_hash == desired.spec_hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("openapi: [unclosed", "not JSON or YAML at line"),
        ('{"swagger": "2.0", "paths": {}}', "OpenAPI 3 version"),
        ('{"openapi": "3.0.0", "paths": {}}', "at least one path"),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"get": {"responses": {}}}}}',
            "paths['/a'].get needs an operationId",
        ),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"get": {"operationId": "x"}, '
            '"post": {"operationId": "x"}}}}',
            "operationId 'x' is used by two operations",
        ),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"get": {"operationId": "has space"}}}}',
            "must be 1-64 letters",
        ),
    ],
)
def test_an_unusable_configmap_document_names_the_field_and_the_configmap(
    text: str, message: str
) -> None:
    tools = spec(
        {"type": "code_interpreter"}, openapi(specFrom=from_map(), auth={"type": "anonymous"})
    ).tools
    with pytest.raises(InvalidOpenApiDocument) as caught:
        openapi_documents(tools, {("api", "openapi.yaml"): text})
    assert str(caught.value).startswith(
        "spec.tools[1].openapi.specFrom: the document in ConfigMap 'api' key 'openapi.yaml'"
    )
    assert message in str(caught.value)


def test_schema_rules_hold_in_python_too() -> None:
    with pytest.raises(ValueError, match="exactly one of spec or specFrom"):
        spec(openapi(auth={"type": "anonymous"}))
    with pytest.raises(ValueError, match="exactly one of spec or specFrom"):
        spec(openapi(spec=DOCUMENT, specFrom=from_map(), auth={"type": "anonymous"}))
    with pytest.raises(ValueError, match="project_connection needs"):
        spec(openapi(spec=DOCUMENT, auth={"type": "project_connection"}))
    with pytest.raises(ValueError, match="anonymous takes no securityScheme"):
        spec(
            openapi(
                spec=DOCUMENT,
                auth={"type": "anonymous", "securityScheme": {"audience": "api://x"}},
            )
        )
    with pytest.raises(ValueError, match=r"distinct openapi\.name"):
        tool = openapi(spec=DOCUMENT, auth={"type": "anonymous"})
        spec(tool, tool)
    with pytest.raises(ValueError, match=r"openapi\.name must be"):
        spec(
            {
                "type": "openapi",
                "openapi": {"name": "a b", "spec": DOCUMENT, "auth": {"type": "anonymous"}},
            }
        )
    missing_id = {"openapi": "3.0.0", "paths": {"/a": {"get": {}}}}
    with pytest.raises(ValueError, match=r"spec.tools\[\].openapi.spec: paths\['/a'\].get needs"):
        spec(openapi(spec=missing_id, auth={"type": "anonymous"}))
