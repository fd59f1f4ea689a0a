"""Retries spread out, grow, stop growing, and respect the server's Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from foundry_operator.reconcile.backoff import (
    MAX_RETRY_AFTER_SECONDS,
    backoff_delay,
    parse_retry_after,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_ceiling_doubles_per_attempt_until_the_cap() -> None:
    delays = [backoff_delay(n, base=1.0, cap=60.0, rand=lambda: 1.0) for n in range(9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    assert backoff_delay(3, base=1.0, cap=60.0, rand=lambda: 0.0) == 0.0
    assert backoff_delay(3, base=1.0, cap=60.0, rand=lambda: 0.5) == 4.0


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert backoff_delay(10_000, cap=300.0, rand=lambda: 1.0) == 300.0


def test_retry_after_is_a_floor() -> None:
    assert backoff_delay(0, retry_after=30.0, rand=lambda: 0.5) == 30.0
    # A longer jittered delay is not shortened by a small Retry-After.
    assert backoff_delay(8, cap=300.0, retry_after=1.0, rand=lambda: 1.0) == 256.0


def test_absurd_retry_after_is_bounded() -> None:
    assert backoff_delay(0, retry_after=86_400.0, rand=lambda: 0.0) == MAX_RETRY_AFTER_SECONDS


def test_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:59:00 GMT", 0.0),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_header_parsing(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds
