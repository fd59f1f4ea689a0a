"""Cursor paging in the shape SDK 2.10 consumes: ``{data, first_id, last_id, has_more}``.

The SDK's ItemPaged reads only ``data`` and ``last_id``, and asks for the next page with
``after=<last_id>`` while ``last_id`` is truthy, keeping any ``before`` it was given. So
``before`` bounds the range and ``after`` walks it; a page is always the first ``limit`` items
of that range, which lets the SDK see every item exactly once in either order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import invalid

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class PageQuery:
    limit: int = DEFAULT_LIMIT
    descending: bool = True
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool

    def to_json(self, render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [render(item) for item in self.items],
            "first_id": self.first_id,
            "last_id": self.last_id,
            "has_more": self.has_more,
        }


def parse_page_query(query: dict[str, str]) -> PageQuery:
    raw_limit = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise invalid(f"limit must be an integer; got '{raw_limit}'.", param="limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.", param="limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(f"order must be 'asc' or 'desc'; got '{order}'.", param="order")
    return PageQuery(
        limit=limit,
        descending=order == "desc",
        after=query.get("after") or None,
        before=query.get("before") or None,
    )


def paginate(
    items: Sequence[T],
    *,
    key: Callable[[T], int],
    ident: Callable[[T], str],
    cursor_key: Callable[[str], int | None],
    query: PageQuery,
    last_id_on_final_page: bool,
) -> Page[T]:
    """Page ``items`` (any order) by the integer sort ``key``.

    ``cursor_key`` maps a cursor (an id we handed out) to its sort key, or None when it is
    unknown, which is a 400 like any malformed parameter.
    """
    after = _resolve(query.after, cursor_key, "after")
    before = _resolve(query.before, cursor_key, "before")
    ordered = sorted(items, key=key, reverse=query.descending)

    def in_range(item: T) -> bool:
        k = key(item)
        if query.descending:
            return (after is None or k < after) and (before is None or k > before)
        return (after is None or k > after) and (before is None or k < before)

    selected = [item for item in ordered if in_range(item)]
    page = selected[: query.limit]
    has_more = len(selected) > query.limit
    first_id = ident(page[0]) if page else None
    last_id = ident(page[-1]) if page and (has_more or last_id_on_final_page) else None
    return Page(items=page, first_id=first_id, last_id=last_id, has_more=has_more)


def _resolve(cursor: str | None, cursor_key: Callable[[str], int | None], param: str) -> int | None:
    if cursor is None:
        return None
    resolved = cursor_key(cursor)
    if resolved is None:
        raise invalid(f"Unknown cursor '{cursor}'.", param=param)
    return resolved
