"""Plain JSON requests to the API server, authenticated by the official client.

The generated client methods validate every argument with pydantic and turn every answer
into model objects; for the operator's hottest writes (a status PATCH, an Event) that is
most of their CPU, and none of it is needed: the body is ours and we read one field back.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException


def request(
    api: ApiClient,
    method: str,
    path: str,
    body: Any,
    *,
    content_type: str = "application/json",
    query: list[tuple[str, str]] | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """The decoded JSON answer; ApiException (with the status) for any 4xx/5xx."""
    method_, url, headers, serialized, _ = api.param_serialize(
        method,
        path,
        query_params=query or [],
        header_params={"Content-Type": content_type, "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(
        method_, url, header_params=headers, body=serialized, _request_timeout=timeout
    )
    data = response.read()  # type: ignore[no-untyped-call]
    if response.status >= 400:
        raise ApiException(status=response.status, reason=response.reason)
    decoded = json.loads(data) if data else {}
    return decoded if isinstance(decoded, dict) else {}
