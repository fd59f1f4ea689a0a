"""When the agent directory lists and when it GETs, and which answers a listing may give."""

from __future__ import annotations

from datetime import UTC, datetime

from foundry_operator.api.status import (
    Condition,
    ConditionStatus,
    HostedAgentStatus,
    Phase,
    VersionRecord,
)
from foundry_operator.foundry.directory_policy import (
    MIN_BATCH,
    Listing,
    ListingSize,
    Verdict,
    Way,
    choose,
    expected_pages,
    is_brand_new,
    may_answer,
    page_budget,
    size_after,
    verdict,
)
from foundry_operator.settings import Settings


def _listing(*names: str, finished: bool = True, unnamed: bool = False) -> Listing:
    return Listing(frozenset(n.casefold() for n in names), finished=finished, unnamed=unnamed)


def test_a_few_waiting_questions_get_their_gets() -> None:
    assert choose(1, expected=1) is Way.GET
    assert choose(MIN_BATCH - 1, expected=1) is Way.GET
    assert choose(MIN_BATCH, expected=1) is Way.LIST


def test_a_listing_is_chosen_only_when_it_costs_no_more_calls_than_the_gets() -> None:
    assert choose(9, expected=10) is Way.GET
    assert choose(10, expected=10) is Way.LIST
    assert choose(32, expected=10) is Way.LIST


def test_the_minimum_batch_is_a_setting_and_one_lists_for_a_single_question() -> None:
    assert Settings(project_endpoint="x").directory_min_batch == MIN_BATCH
    assert choose(1, expected=1, min_batch=1) is Way.LIST
    assert choose(1, expected=2, min_batch=1) is Way.GET


def test_the_expected_page_count_comes_from_the_last_listing() -> None:
    assert expected_pages(None) == 1
    assert expected_pages(ListingSize(agents=0, pages=1)) == 1
    assert expected_pages(ListingSize(agents=100, pages=1)) == 1
    assert expected_pages(ListingSize(agents=101, pages=2)) == 2
    assert expected_pages(ListingSize(agents=950, pages=10)) == 10
    # A server that sends a cursor on its last page costs one empty page more.
    assert expected_pages(ListingSize(agents=100, pages=2)) == 2


def test_a_listing_stopped_at_its_budget_raises_the_next_estimate() -> None:
    assert page_budget(5) == 5
    assert page_budget(0) == 1
    stopped = size_after(seen=500, pages=5, finished=False)
    assert expected_pages(stopped) == 6
    assert choose(5, expected_pages(stopped)) is Way.GET
    assert size_after(seen=500, pages=5, finished=True) == ListingSize(500, 5)


def test_only_a_listing_started_after_the_question_may_answer_it() -> None:
    # One logical clock ticks at every question and every listing start.
    asked, started = 7, 8
    assert may_answer(asked, started)
    assert not may_answer(asked=9, started=started)  # asked while that listing ran
    assert not may_answer(asked=8, started=8)


def test_a_complete_listing_without_the_name_says_absent() -> None:
    assert verdict(_listing("a", "b"), "c") is Verdict.ABSENT


def test_a_listed_name_takes_the_usual_path() -> None:
    assert verdict(_listing("a", "b"), "b") is Verdict.PRESENT
    assert verdict(_listing("a", finished=False), "a") is Verdict.PRESENT


def test_names_compare_without_case_so_a_lookalike_is_never_absent() -> None:
    assert verdict(_listing("Billing"), "billing") is Verdict.PRESENT


def test_a_listing_that_cannot_vouch_for_a_name_sends_it_to_a_get() -> None:
    assert verdict(_listing("a", finished=False), "c") is Verdict.UNKNOWN
    assert verdict(_listing("a", unnamed=True), "c") is Verdict.UNKNOWN


def _at() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def test_a_hosted_agent_without_a_recorded_version_is_brand_new() -> None:
    assert is_brand_new(HostedAgentStatus())
    # A first look that failed (a missing Secret, Foundry away) still created nothing.
    assert is_brand_new(HostedAgentStatus(agent_name="a", phase=Phase.PENDING))


def test_a_hosted_agent_with_a_version_is_not_brand_new() -> None:
    assert not is_brand_new(HostedAgentStatus(latest_version="1"))
    assert not is_brand_new(HostedAgentStatus(serving_version="1"))
    record = VersionRecord(version="1", spec_hash="h", status="active", created_at=_at())
    assert not is_brand_new(HostedAgentStatus(versions=[record]))


def test_a_name_conflict_is_looked_at_directly_again() -> None:
    conflict = Condition(
        type="Ready",
        status=ConditionStatus.FALSE,
        last_transition_time=_at(),
        reason="AgentNameConflict",
        message="taken",
    )
    assert not is_brand_new(HostedAgentStatus(phase=Phase.FAILED, conditions=[conflict]))
