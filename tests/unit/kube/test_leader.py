"""Who acts: the pure part of Lease-based leader election."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from foundry_operator.kube.leader import LeaseView, Move, decide

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_first_replica_creates_the_lease() -> None:
    assert decide(None, "a", NOW) is Move.CREATE


def test_holder_renews() -> None:
    assert decide(LeaseView("a", NOW, 15), "a", NOW) is Move.RENEW


def test_live_holder_makes_others_wait() -> None:
    lease = LeaseView("a", NOW - timedelta(seconds=14), 15)
    assert decide(lease, "b", NOW) is Move.WAIT


def test_expired_or_released_lease_is_taken_over() -> None:
    assert decide(LeaseView("a", NOW - timedelta(seconds=15), 15), "b", NOW) is Move.TAKE_OVER
    assert decide(LeaseView(None, NOW, 15), "b", NOW) is Move.TAKE_OVER
