"""Paging walks every item exactly once the way the SDK's ItemPaged follows ``last_id``."""

from __future__ import annotations

import pytest

from foundry_devtools.emulator.errors import ApiError
from foundry_devtools.emulator.paging import PageQuery, paginate, parse_page_query

pytestmark = pytest.mark.unit

ITEMS = list(range(1, 24))  # 23 items: not a multiple of any page size used below


def walk(query: PageQuery, *, last_id_on_final_page: bool) -> tuple[list[int], int]:
    """Mimic ItemPaged: ask again with after=last_id while last_id is truthy."""
    seen: list[int] = []
    requests = 0
    after = query.after
    while True:
        requests += 1
        page = paginate(
            ITEMS,
            key=lambda i: i,
            ident=lambda i: f"agent:{i}",
            cursor_key=lambda c: int(c.split(":")[1]),
            query=PageQuery(query.limit, query.descending, after, query.before),
            last_id_on_final_page=last_id_on_final_page,
        )
        seen += page.items
        if not page.last_id:
            return seen, requests
        after = page.last_id


@pytest.mark.parametrize("last_id_on_final_page", [False, True])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 5, 20, 23, 100])
def test_itempaged_sees_every_item_exactly_once(
    limit: int, descending: bool, last_id_on_final_page: bool
) -> None:
    seen, _ = walk(PageQuery(limit, descending), last_id_on_final_page=last_id_on_final_page)
    assert seen == sorted(ITEMS, reverse=descending)


def test_a_null_last_id_on_the_final_page_saves_the_extra_request() -> None:
    _, quiet = walk(PageQuery(5, True), last_id_on_final_page=False)
    _, chatty = walk(PageQuery(5, True), last_id_on_final_page=True)
    assert (quiet, chatty) == (5, 6)


def test_before_bounds_the_range_that_after_walks() -> None:
    seen, _ = walk(PageQuery(4, False, before="agent:11"), last_id_on_final_page=False)
    assert seen == list(range(1, 11))
    seen, _ = walk(PageQuery(4, True, before="agent:11"), last_id_on_final_page=False)
    assert seen == list(range(23, 11, -1))


def test_pages_report_first_id_and_has_more() -> None:
    page = paginate(
        ITEMS,
        key=lambda i: i,
        ident=str,
        cursor_key=int,
        query=PageQuery(limit=5),
        last_id_on_final_page=False,
    )
    assert (page.items, page.first_id, page.last_id, page.has_more) == (
        [23, 22, 21, 20, 19],
        "23",
        "19",
        True,
    )
    assert page.to_json(lambda i: {"n": i})["data"][0] == {"n": 23}


def test_an_empty_collection_is_one_empty_page() -> None:
    page = paginate(
        [],
        key=lambda i: i,
        ident=str,
        cursor_key=int,
        query=PageQuery(),
        last_id_on_final_page=True,
    )
    assert (page.items, page.first_id, page.last_id, page.has_more) == ([], None, None, False)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"order": "up"}, "order"),
    ],
)
def test_bad_paging_parameters_are_a_400(query: dict[str, str], param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_page_query(query)
    assert (caught.value.status, caught.value.param) == (400, param)


def test_paging_defaults_are_20_items_newest_first() -> None:
    assert parse_page_query({}) == PageQuery(limit=20, descending=True)


def test_an_unknown_cursor_is_a_400() -> None:
    with pytest.raises(ApiError) as caught:
        paginate(
            ITEMS,
            key=lambda i: i,
            ident=str,
            cursor_key=lambda c: None,
            query=PageQuery(after="nope"),
            last_id_on_final_page=False,
        )
    assert caught.value.param == "after"
