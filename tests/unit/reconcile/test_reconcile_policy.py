"""managementPolicy and adoptionPolicy: the decisions, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from foundry_operator.api.reserved import reserved_metadata
from foundry_operator.api.spec import DeletionPolicy, HostedAgentSpec, ManagementPolicy
from foundry_operator.api.status import Condition, ConditionStatus, HostedAgentStatus, Phase
from foundry_operator.reconcile.adopt import content_hash
from foundry_operator.reconcile.desired import desired_version
from foundry_operator.reconcile.observed import AgentInfo, VersionInfo
from foundry_operator.reconcile.plan import Action, plan
from foundry_operator.reconcile.policy import (
    DRIFTED_CONDITION,
    PAUSED_CONDITION,
    DriftReason,
    adopted_record,
    deletion,
    drift,
    drifted_condition,
    may_call_foundry,
    may_write_foundry,
    ownership,
    paused_status,
    without_other_policy_conditions,
)

pytestmark = pytest.mark.unit

OWNER = "ns/chat"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
IMAGE = "myregistry.azurecr.io/agents/chat"


def spec(**fields: Any) -> HostedAgentSpec:
    return HostedAgentSpec.model_validate({"image": f"{IMAGE}:1", **fields})


def by_hand(n: int, image: str = f"{IMAGE}:1", status: str = "active", **meta: str) -> VersionInfo:
    """A version made with the SDK: the definition the spec of the same image would send."""
    definition = desired_version(spec(image=image)).definition
    return VersionInfo(
        agent="chat",
        version=str(n),
        status=status,
        metadata=dict(meta),
        definition={**definition, "container_protocol_versions": []},
    )


def ours(n: int, spec_hash: str, status: str = "active", name: str = "chat") -> VersionInfo:
    meta = reserved_metadata(uid="u", namespace="ns", name=name, spec_hash=spec_hash)
    return VersionInfo(agent="chat", version=str(n), status=status, metadata=meta)


def routed(to: str) -> AgentInfo:
    return AgentInfo(name="chat", routing={to: 100})


def condition(type_: str, status: str = "True") -> Condition:
    return Condition(
        type=type_,
        status=ConditionStatus(status),
        reason="Something",
        message="",
        last_transition_time=NOW,
    )


# --- management policy --------------------------------------------------------------------


def test_only_manage_writes_and_only_paused_makes_no_call() -> None:
    assert may_write_foundry(ManagementPolicy.MANAGE)
    assert not may_write_foundry(ManagementPolicy.OBSERVE_ONLY)
    assert not may_write_foundry(ManagementPolicy.PAUSED)
    assert may_call_foundry(ManagementPolicy.OBSERVE_ONLY)
    assert not may_call_foundry(ManagementPolicy.PAUSED)


def test_paused_status_keeps_ready_and_adds_paused() -> None:
    ready = condition("Ready")
    previous = HostedAgentStatus(
        observed_generation=3,
        phase=Phase.READY,
        serving_version="2",
        conditions=[ready.model_copy(update={"observed_generation": 3})],
    )
    status = paused_status(previous, generation=4, agent="chat", now=NOW)
    kinds = {c.type: c for c in status.conditions}
    assert kinds["Ready"].status is ConditionStatus.TRUE
    assert kinds["Ready"].observed_generation == 3  # it still describes generation 3
    assert kinds[PAUSED_CONDITION].status is ConditionStatus.TRUE
    assert status.phase is Phase.READY and status.serving_version == "2"
    assert status.observed_generation == 4
    # Paused twice is the same document: no status write at rest.
    assert paused_status(status, generation=4, agent="chat", now=NOW) == status


def test_conditions_of_other_policies_go_and_the_current_ones_stay() -> None:
    held = [condition("Ready"), condition(PAUSED_CONDITION), condition(DRIFTED_CONDITION)]
    manage = without_other_policy_conditions(held, ManagementPolicy.MANAGE)
    assert [c.type for c in manage] == ["Ready"]
    observe = without_other_policy_conditions(held, ManagementPolicy.OBSERVE_ONLY)
    assert [c.type for c in observe] == ["Ready", DRIFTED_CONDITION]
    paused = without_other_policy_conditions(held, ManagementPolicy.PAUSED)
    assert [c.type for c in paused] == ["Ready", PAUSED_CONDITION]


@pytest.mark.parametrize(
    ("policy", "deletion_policy", "deletes", "explained"),
    [
        (ManagementPolicy.MANAGE, DeletionPolicy.DELETE, True, False),
        (ManagementPolicy.MANAGE, DeletionPolicy.RETAIN, False, False),
        (ManagementPolicy.PAUSED, DeletionPolicy.DELETE, True, True),
        (ManagementPolicy.PAUSED, DeletionPolicy.RETAIN, False, True),
        (ManagementPolicy.OBSERVE_ONLY, DeletionPolicy.DELETE, False, True),
        (ManagementPolicy.OBSERVE_ONLY, DeletionPolicy.RETAIN, False, True),
    ],
)
def test_deletion_follows_deletion_policy_even_when_paused(
    policy: ManagementPolicy, deletion_policy: DeletionPolicy, deletes: bool, explained: bool
) -> None:
    decided = deletion(policy, deletion_policy, "Foundry agent 'chat'")
    assert decided.delete_in_foundry is deletes
    assert (decided.message is not None) is explained
    if decided.message is not None:
        assert str(policy) in decided.message


# --- ownership and adoption ---------------------------------------------------------------


def test_never_refuses_an_agent_made_by_hand() -> None:
    held = ownership(OWNER, [by_hand(1)], adopt=False)
    assert held.conflict and held.foreign_version == "1" and held.other_owner is None


def test_adopt_takes_an_agent_made_by_hand() -> None:
    held = ownership(OWNER, [by_hand(1), by_hand(2), ours(3, "h")], adopt=True)
    assert not held.conflict
    assert [v.version for v in held.adopted] == ["1", "2"]
    assert [v.version for v in held.created] == ["3"]
    assert [v.version for v in held.held] == ["1", "2", "3"]


def test_an_agent_of_another_hosted_agent_is_never_adopted() -> None:
    held = ownership(OWNER, [by_hand(1), ours(2, "h", name="other")], adopt=True)
    assert held.conflict and held.other_owner == "ns/other" and held.foreign_version == "2"


def test_versions_adopted_once_stay_ours_under_never_but_new_strays_do_not() -> None:
    assert not ownership(OWNER, [by_hand(1), ours(2, "h")], adopt=False, recorded=["1"]).conflict
    late = ownership(OWNER, [by_hand(1), ours(2, "h"), by_hand(3)], adopt=False, recorded=["1"])
    assert late.conflict and late.foreign_version == "3"


def test_deleted_versions_count_for_nobody() -> None:
    assert not ownership(OWNER, [by_hand(1, status="deleted")], adopt=False).conflict


def test_unchanged_spec_adopts_the_matching_version_and_creates_nothing() -> None:
    wanted = desired_version(spec()).spec_hash
    decision = plan(
        owner=OWNER,
        spec_hash=wanted,
        versions=[by_hand(1, image=f"{IMAGE}:0"), by_hand(2)],
        agent=routed("2"),
        revision_history_limit=0,
        adopt=True,
    )
    assert decision.action is Action.READY
    assert decision.target is not None and decision.target.version == "2"
    assert decision.adopted == ("1", "2")
    assert decision.prune == ()  # adopted versions are kept without the opt-in


def test_a_changed_spec_creates_and_keeps_the_adopted_routing_meanwhile() -> None:
    changed = desired_version(spec(image=f"{IMAGE}:2")).spec_hash
    decision = plan(
        owner=OWNER,
        spec_hash=changed,
        versions=[by_hand(1)],
        agent=routed("1"),
        revision_history_limit=3,
        adopt=True,
    )
    assert decision.action is Action.CREATE and decision.serving == "1"
    creating = plan(
        owner=OWNER,
        spec_hash=changed,
        versions=[by_hand(1), ours(2, changed, status="creating")],
        agent=routed("1"),
        revision_history_limit=3,
        adopt=True,
    )
    assert creating.action is Action.WAIT  # no route until it is active
    active = plan(
        owner=OWNER,
        spec_hash=changed,
        versions=[by_hand(1), ours(2, changed)],
        agent=routed("1"),
        revision_history_limit=3,
        adopt=True,
    )
    assert active.action is Action.ROUTE and active.serving == "1"


def test_retention_reaches_adopted_versions_only_with_the_opt_in() -> None:
    wanted = desired_version(spec(image=f"{IMAGE}:9")).spec_hash
    versions = [by_hand(1, image=f"{IMAGE}:a"), by_hand(2, image=f"{IMAGE}:b"), ours(3, wanted)]

    def pruned(include: bool) -> tuple[str, ...]:
        return plan(
            owner=OWNER,
            spec_hash=wanted,
            versions=versions,
            agent=routed("3"),
            revision_history_limit=0,
            adopt=True,
            prune_adopted=include,
        ).prune

    assert pruned(False) == ()
    assert pruned(True) == ("1", "2")


def test_adopted_record_adds_on_partial_looks_and_forgets_on_full_ones() -> None:
    assert adopted_record(["1"], ["2", "10"], complete=False) == ["1", "2", "10"]
    assert adopted_record(["1", "2"], ["2"], complete=True) == ["2"]


def test_content_hash_is_the_spec_hash_of_a_spec_that_asks_for_it() -> None:
    version = by_hand(1, team="search")
    assert content_hash(version) is not None
    wanted = desired_version(spec()).spec_hash
    assert content_hash(by_hand(1)) == wanted
    # Metadata in the operator's namespace cannot be written by a spec: nothing matches.
    assert content_hash(by_hand(1, **{"k8s-ref": "ns/x"})) is None
    assert content_hash(VersionInfo(agent="chat", version="1", status="active")) is None


# --- observing ----------------------------------------------------------------------------


def test_drift_reports_each_way_foundry_can_differ() -> None:
    wanted = desired_version(spec()).spec_hash

    def reason(versions: list[VersionInfo], agent: AgentInfo | None, step: bool = True) -> str:
        return drift(spec_hash=wanted, versions=versions, agent=agent, endpoint_in_step=step).reason

    assert reason([], None) == DriftReason.AGENT_NOT_FOUND
    assert reason([by_hand(1, image=f"{IMAGE}:0")], routed("1")) == DriftReason.NO_MATCHING_VERSION
    assert reason([by_hand(1, status="creating")], routed("1")) == DriftReason.VERSION_NOT_ACTIVE
    other = by_hand(2, image=f"{IMAGE}:other")
    assert reason([by_hand(1), other], routed("2")) == DriftReason.NOT_SERVING
    assert reason([by_hand(1)], routed("1"), step=False) == DriftReason.ENDPOINT_SETTINGS
    assert reason([by_hand(1)], routed("1")) == DriftReason.IN_SYNC
    assert reason([ours(1, wanted)], routed("1")) == DriftReason.IN_SYNC


def test_drifted_condition_is_true_on_drift_and_unknown_when_it_cannot_tell() -> None:
    found = drift(spec_hash=None, versions=[], agent=routed("1"), endpoint_in_step=True)
    assert drifted_condition(found).status is ConditionStatus.UNKNOWN
    found = drift(spec_hash="h", versions=[], agent=routed("1"), endpoint_in_step=True)
    assert drifted_condition(found).status is ConditionStatus.TRUE
