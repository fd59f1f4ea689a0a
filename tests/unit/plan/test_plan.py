"""What the operator decides to do next, given what Foundry holds."""

from __future__ import annotations

from foundry_operator.api.reserved import reserved_metadata
from foundry_operator.reconcile.observed import AgentInfo, VersionInfo
from foundry_operator.reconcile.plan import Action, Plan, plan

UID = "uid-1"


def version(n: int, spec_hash: str, status: str = "active", uid: str = UID) -> VersionInfo:
    meta = reserved_metadata(uid=uid, namespace="ns", name="chat", spec_hash=spec_hash)
    return VersionInfo(agent="chat", version=str(n), status=status, metadata=meta)


def routed(to: str) -> AgentInfo:
    return AgentInfo(name="chat", routing={to: 100})


def decide(versions: list[VersionInfo], agent: AgentInfo | None, limit: int = 3) -> Plan:
    return plan(
        uid=UID, spec_hash="h2", versions=versions, agent=agent, revision_history_limit=limit
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
    result = decide([version(1, "hx", uid="someone-else")], routed("1"))
    assert result.action is Action.CONFLICT
    assert result.owner == "ns/chat"


def test_versions_created_outside_the_operator_are_not_ours_and_not_a_conflict() -> None:
    manual = VersionInfo(agent="chat", version="1", status="active", metadata={"team": "x"})
    result = decide([manual], routed("1"))
    assert result.action is Action.CREATE
    assert result.serving is None  # version 1 is not ours to count as serving


def test_retention_prunes_oldest_but_never_serving_or_current() -> None:
    versions = [version(n, f"old{n}") for n in range(1, 7)] + [version(7, "h2")]
    result = decide(versions, routed("7"), limit=2)
    assert result.action is Action.READY
    assert result.prune == ("1", "2", "3", "4")


def test_deleted_versions_are_ignored() -> None:
    assert decide([version(1, "h2", status="deleted")], None).action is Action.CREATE
