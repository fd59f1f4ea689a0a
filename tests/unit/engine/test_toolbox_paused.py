"""FoundryToolbox's managementPolicy Paused through its reconciler: no Foundry call, and a
deletion that still follows deletionPolicy. Foundry and Kubernetes are faked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from foundry_operator.api.reserved import toolbox_reserved_metadata
from foundry_operator.controller import Resource
from foundry_operator.reconcile.report import status_patch
from foundry_operator.reconcile.toolbox import KIND_TOOLBOX, ToolboxVersionInfo
from foundry_operator.toolboxes import ToolboxLocks, ToolboxReconciler

pytestmark = pytest.mark.unit

SPEC = {"tools": [{"type": "code_interpreter"}], "managementPolicy": "Paused"}
READY = {
    "observedGeneration": 1,
    "toolboxName": "tools",
    "phase": "Ready",
    "currentVersion": "1",
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "VersionActive",
            "message": "",
            "observedGeneration": 1,
            "lastTransitionTime": "2026-12-01T00:00:00Z",
        }
    ],
}


class Foundry:
    """Answers only what a deletion asks; anything else is a test failure."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def list_toolbox_versions(self, name: str) -> list[ToolboxVersionInfo]:
        self.calls.append("list_toolbox_versions")
        meta = toolbox_reserved_metadata(
            uid="uid-1", namespace="ns", name="tools", kind=KIND_TOOLBOX, spec_hash="h"
        )
        return [ToolboxVersionInfo(name, "1", meta)]

    async def delete_toolbox(self, name: str) -> bool:
        self.calls.append("delete_toolbox")
        return True

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a paused toolbox called Foundry: {name}")


class Toolboxes:
    async def users(self, namespace: str, name: str) -> list[str]:
        return []


def reconciler(foundry: Foundry) -> ToolboxReconciler:
    return ToolboxReconciler(
        foundry,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        Toolboxes(),  # type: ignore[arg-type]
        ToolboxLocks(),
    )


def resource(spec: dict[str, Any], generation: int = 2) -> Resource:
    return Resource("uid-1", "ns", "tools", generation, spec, READY)


def test_a_paused_toolbox_makes_no_call_and_says_so() -> None:
    foundry = Foundry()
    outcome = asyncio.run(reconciler(foundry).reconcile(resource(SPEC)))
    assert foundry.calls == []
    assert outcome.status is not None
    status = status_patch(outcome.status)
    kinds = {c["type"]: c["status"] for c in status["conditions"]}
    assert kinds == {"Ready": "True", "Paused": "True"}
    assert status["currentVersion"] == "1" and status["observedGeneration"] == 2
    assert [e.reason for e in outcome.events] == ["Paused"]


@pytest.mark.parametrize(
    ("deletion_policy", "calls"),
    [("Delete", ["list_toolbox_versions", "delete_toolbox"]), ("Retain", [])],
)
def test_deleting_a_paused_toolbox_follows_deletion_policy(
    deletion_policy: str, calls: list[str]
) -> None:
    foundry = Foundry()
    spec = {**SPEC, "deletionPolicy": deletion_policy}
    outcome = asyncio.run(reconciler(foundry).delete(resource(spec)))
    assert outcome.look.name == "DONE"
    assert foundry.calls == calls
    assert outcome.events[0].reason == "DeletionDecision"
