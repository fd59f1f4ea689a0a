"""FoundryClient.list_agent_names: one page per call, the request the SDK's pager sends,
read for names only."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from foundry_operator import metrics
from foundry_operator.foundry import client as client_module
from foundry_operator.foundry.client import LIST_PAGE_SIZE, FoundryClient, FoundryError


class _Credential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError("no request leaves in these tests")

    async def close(self) -> None:
        return None


class _Response:
    """What AIProjectClient.send_request hands back, as far as the listing reads it."""

    def __init__(self, status: int, body: dict[str, Any] | None = None) -> None:
        self.status_code = status
        self.reason = "OK" if status < 400 else "Service Unavailable"
        self.headers = {"retry-after-ms": "0"}  # retried at once
        self.text = lambda: ""
        self._body = body or {}

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise HttpResponseError(response=self)  # type: ignore[arg-type]

    def json(self) -> dict[str, Any]:
        return self._body


def _client(pages: dict[str | None, dict[str, Any]], seen: list[Any]) -> FoundryClient:
    """A FoundryClient whose requests are answered from ``pages`` (by their ``after``)."""
    foundry = FoundryClient("https://example.test/api/projects/p", _Credential())  # type: ignore[arg-type]

    async def send_request(request: HttpRequest, **_: Any) -> _Response:
        query = parse_qs(urlsplit(request.url).query)
        seen.append((request.method, urlsplit(request.url).path, query))
        body = pages[query["after"][0] if "after" in query else None]
        return _Response(body.get("status", 200), body)

    foundry._client = SimpleNamespace(send_request=send_request)  # type: ignore[assignment]
    return foundry


def _requests(operation: str, status: str) -> float:
    return metrics.FOUNDRY_REQUESTS.labels(operation, status)._value.get()  # type: ignore[no-any-return]


def test_each_page_is_one_call_from_its_cursor_of_every_kind_of_agent() -> None:
    pages: dict[str | None, dict[str, Any]] = {
        None: {"data": [{"name": "a"}, {"id": "b"}, {"other": 1}], "last_id": "b"},
        # The last page may carry its last_id too: has_more false ends the listing.
        "b": {"data": [{"name": "c"}], "last_id": "c", "has_more": False},
    }
    seen: list[Any] = []
    foundry = _client(pages, seen)
    before = _requests("list_agents", "ok")
    sent: list[int] = []

    async def scenario() -> None:
        first = await foundry.list_agent_names(sending=lambda: sent.append(1))
        assert (first.names, first.unnamed, first.after) == (("a", "b"), 1, "b")
        last = await foundry.list_agent_names(first.after)
        assert (last.names, last.unnamed, last.after) == (("c",), 0, None)

    asyncio.run(scenario())
    # No kind: a name is taken by an agent of any kind.
    page = {"limit": [str(LIST_PAGE_SIZE)], "api-version": ["v1"]}
    assert seen == [("GET", "/agents", page), ("GET", "/agents", {**page, "after": ["b"]})]
    assert sent == [1]
    assert _requests("list_agents", "ok") - before == 2


def test_a_failed_page_raises_the_clients_foundry_error_after_its_quick_retries() -> None:
    seen: list[Any] = []
    foundry = _client({None: {"status": 503}}, seen)
    before = _requests("list_agents", "503")

    async def scenario() -> None:
        with pytest.raises(FoundryError) as caught:
            await foundry.list_agent_names()
        assert (caught.value.operation, caught.value.status) == ("list_agents", 503)

    asyncio.run(scenario())
    assert _requests("list_agents", "503") - before == 1 + client_module.QUICK_RETRIES
