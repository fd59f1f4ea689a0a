"""FoundryClient.list_agent_names: one page per call, over the SDK's own pager."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.async_paging import AsyncItemPaged, AsyncList
from azure.core.exceptions import HttpResponseError

from foundry_operator import metrics
from foundry_operator.foundry import client as client_module
from foundry_operator.foundry.client import LIST_PAGE_SIZE, FoundryClient, FoundryError


class _Credential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError("no request leaves in these tests")

    async def close(self) -> None:
        return None


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.reason = "Service Unavailable"
        self.headers = {"retry-after-ms": "0"}  # retried at once
        self.text = lambda: ""


def _pager(pages: dict[str | None, dict[str, Any]], seen: list[Any]) -> Callable[..., Any]:
    """agents.list as the SDK builds it: get_next(cursor), extract_data -> (last_id, items)."""

    def list_(**kwargs: Any) -> AsyncItemPaged[Any]:
        seen.append(kwargs)

        async def get_next(cursor: str | None = None) -> dict[str, Any]:
            seen.append(("request", cursor))
            body = pages[cursor]
            if "status" in body:
                raise HttpResponseError(response=_Response(body["status"]))  # type: ignore[arg-type]
            return body

        async def extract(body: dict[str, Any]) -> tuple[str | None, AsyncList[Any]]:
            return body.get("last_id") or None, AsyncList(body["data"])

        return AsyncItemPaged(get_next, extract)

    return list_


def _client(pages: dict[str | None, dict[str, Any]], seen: list[Any]) -> FoundryClient:
    foundry = FoundryClient("https://example.test/api/projects/p", _Credential())  # type: ignore[arg-type]
    foundry._client = SimpleNamespace(agents=SimpleNamespace(list=_pager(pages, seen)))  # type: ignore[assignment]
    return foundry


def _requests(operation: str, status: str) -> float:
    return metrics.FOUNDRY_REQUESTS.labels(operation, status)._value.get()  # type: ignore[no-any-return]


def test_each_page_is_one_call_from_its_cursor_of_every_kind_of_agent() -> None:
    pages: dict[str | None, dict[str, Any]] = {
        None: {"data": [{"name": "a"}, {"id": "b"}, {"other": 1}], "last_id": "b"},
        "b": {"data": [{"name": "c"}], "last_id": None},
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
    assert seen == [
        {"limit": LIST_PAGE_SIZE},  # no kind: a name is taken by an agent of any kind
        ("request", None),
        {"limit": LIST_PAGE_SIZE},
        ("request", "b"),
    ]
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
