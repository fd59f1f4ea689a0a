"""Which HostedAgents a Secret or ConfigMap change must wake up."""

from __future__ import annotations

from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.kube.env import Ref, references
from foundry_operator.kube.refwatch import RefIndex

RAW = {
    "image": "r.io/a:1",
    "env": [
        {"name": "A", "value": "literal"},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "b"}}},
        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "conf", "key": "c"}}},
        {"name": "D", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "d"}}},
    ],
}
SPEC = HostedAgentSpec.model_validate(RAW)


def test_references_lists_each_object_once_and_ignores_literals() -> None:
    assert references(SPEC) == {Ref("Secret", "creds"), Ref("ConfigMap", "conf")}


def test_index_finds_users_in_the_same_namespace_only() -> None:
    index = RefIndex()
    index.set("team-a", "chat", references(SPEC))
    index.set("team-b", "chat", references(SPEC))
    assert index.users("team-a", Ref("Secret", "creds")) == ["chat"]
    assert index.users("team-a", Ref("ConfigMap", "creds")) == []


def test_index_forgets_dropped_references_and_deleted_agents() -> None:
    index = RefIndex()
    index.set("ns", "chat", references(SPEC))
    index.set("ns", "chat", {Ref("ConfigMap", "conf")})
    assert index.users("ns", Ref("Secret", "creds")) == []
    index.remove("ns", "chat")
    assert index.users("ns", Ref("ConfigMap", "conf")) == []
