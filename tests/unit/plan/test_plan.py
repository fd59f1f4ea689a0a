"""What the operator decides to do next, given what Foundry holds."""

from __future__ import annotations

from foundry_operator.api.reserved import reserved_metadata
from foundry_operator.reconcile.observed import AgentInfo, VersionInfo
from foundry_operator.reconcile.plan import Action, Plan, decisive_latest, plan

OWNER = "ns/chat"


def version(n: int, spec_hash: str, status: str = "active", name: str = "chat") -> VersionInfo:
    meta = reserved_metadata(uid=f"uid-{name}", namespace="ns", name=name, spec_hash=spec_hash)
    return VersionInfo(agent="chat", version=str(n), status=status, metadata=meta)


def routed(to: str) -> AgentInfo:
    return AgentInfo(name="chat", routing={to: 100})


def decide(versions: list[VersionInfo], agent: AgentInfo | None, limit: int = 3) -> Plan:
    return plan(
        owner=OWNER, spec_hash="h2", versions=versions, agent=agent, revision_history_limit=limit
    )


def test_new_spec_creates_a_version() -> None:
    assert decide([], None).action is Action.CREATE


def test_existing_version_with_same_hash_is_reused_after_a_crash() -> None:
    result = decide([version(1, "h2", status="creating")], None)
    assert result.action is Action.WAIT
    assert result.target is not None and result.target.version == "1"


def test_active_version_not_yet_serving_gets_the_traffic() -> None:
    result = decide([version(1, "h1"), version(2, "h2")], routed("1"))
    assert result.action is Action.ROUTE and result.target is not None
    assert result.target.version == "2"
    assert result.serving == "1"


def test_active_and_serving_is_ready() -> None:
    assert decide([version(1, "h2")], routed("1")).action is Action.READY


def test_failed_version_for_current_spec_is_not_recreated() -> None:
    assert decide([version(1, "h2", status="failed")], None).action is Action.FAILED


def test_versions_of_another_resource_mean_conflict() -> None:
    result = decide([version(1, "hx", name="someone-else")], routed("1"))
    assert result.action is Action.CONFLICT
    assert result.owner == "ns/someone-else"


def test_an_agent_made_outside_kubernetes_is_a_conflict_and_never_touched() -> None:
    manual = VersionInfo(agent="chat", version="1", status="active", metadata={"team": "x"})
    result = decide([manual], routed("1"))
    assert result.action is Action.CONFLICT
    assert result.owner is None and result.foreign_version == "1"
    assert result.prune == () and result.target is None


def test_a_foreign_version_next_to_ours_blocks_everything() -> None:
    manual = VersionInfo(agent="chat", version="2", status="active", metadata={})
    assert decide([version(1, "h2"), manual], routed("1")).action is Action.CONFLICT


def test_the_latest_version_decides_alone_only_when_it_is_ours_and_current() -> None:
    ours = version(3, "h2", status="creating")
    assert decisive_latest(OWNER, "h2", AgentInfo("chat", latest=ours)) == ours
    assert decisive_latest(OWNER, "h9", AgentInfo("chat", latest=ours)) is None
    theirs = version(3, "h2", name="other")
    assert decisive_latest(OWNER, "h2", AgentInfo("chat", latest=theirs)) is None
    gone = version(3, "h2", status="deleting")
    assert decisive_latest(OWNER, "h2", AgentInfo("chat", latest=gone)) is None
    assert decisive_latest(OWNER, "h2", None) is None


def test_retention_prunes_oldest_but_never_serving_or_current() -> None:
    versions = [version(n, f"old{n}") for n in range(1, 7)] + [version(7, "h2")]
    result = decide(versions, routed("7"), limit=2)
    assert result.action is Action.READY
    assert result.prune == ("1", "2", "3", "4")


def test_deleted_versions_are_ignored() -> None:
    assert decide([version(1, "h2", status="deleted")], None).action is Action.CREATE


def test_a_serving_version_that_fails_later_hands_traffic_to_the_newest_active_one() -> None:
    versions = [version(1, "h0"), version(2, "h1"), version(3, "h2", status="failed")]
    result = decide(versions, routed("3"))
    assert result.action is Action.FAILED and result.fallback == "2"


def test_a_failed_new_version_moves_no_traffic_while_an_active_one_serves() -> None:
    versions = [version(1, "h1"), version(2, "h2", status="failed")]
    assert decide(versions, routed("1")).fallback is None


def test_no_fallback_when_nothing_of_ours_is_active() -> None:
    assert decide([version(1, "h2", status="failed")], routed("1")).fallback is None
