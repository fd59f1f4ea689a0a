"""The Argo CD health check judged on statuses the operator really wrote.

One module fixture drives real HostedAgents into every state a user can meet (Ready,
creating, failed image, missing Secret, name conflict, throttled, Foundry down, deleting,
suspended, a spec the operator has not seen yet, no status at all), captures each object as
``kubectl get -o json`` returns it, and every row below runs examples/argocd/health.lua on
one of them in a Lua 5.1 sandbox shaped like Argo CD's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gitopskit import (
    OPERATOR_ANNOTATION_PREFIXES,
    foreign_writes,
    get_full,
    operator_owned_fields,
)

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from support import wait_for
from support.hagent import IMAGE, manifest
from unit.argocd.healthcheck import evaluate

REPO = Path(__file__).resolve().parents[3]
BAD_IMAGE = "myregistry.azurecr.io/agents/does-not-exist:1"

Captured = dict[str, dict[str, Any]]


def _ready_condition(obj: dict[str, Any]) -> dict[str, Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def _capture(
    kubectl: Any, namespace: str, name: str, until: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    return wait_for(
        lambda: (obj := get_full(kubectl, namespace, name)) and until(obj) and obj,
        timeout=90,
        what=f"{namespace}/{name}: {what}",
    )


def _reason_is(reason: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: _ready_condition(obj).get("reason") == reason


def _apply(kubectl: Any, namespace: str, text: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=text)


def _with_missing_secret(name: str) -> str:
    body = json.loads(manifest(name, f"{IMAGE}:1"))
    body["spec"]["env"] = [
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "not-there", "key": "k"}}}
    ]
    return json.dumps(body)


@pytest.fixture(scope="module")
def captured(
    kubectl: Any, emulator: EmulatorProcess, operator_process: OperatorProcess
) -> Iterator[Captured]:
    if not operator_process.running():
        operator_process.start()
        operator_process.wait_until_logged("Initial authentication has finished")
    ns = f"gitops-health-{uuid.uuid4().hex[:6]}"
    other = f"{ns}-b"
    kubectl("create", "namespace", ns)
    kubectl("create", "namespace", other)
    admin = emulator.admin()
    agent = f"shared-{uuid.uuid4().hex[:6]}"
    got: Captured = {}
    try:
        for _name, text in (
            ("ready", manifest("ready", f"{IMAGE}:1")),
            ("failed", manifest("failed", BAD_IMAGE)),
            ("secret", _with_missing_secret("secret")),
            ("owner", manifest("owner", f"{IMAGE}:1", agentName=agent)),
            ("doomed", manifest("doomed", f"{IMAGE}:1")),
            ("paused", manifest("paused", f"{IMAGE}:1", suspend=True)),
        ):
            _apply(kubectl, ns, text)
        for name in ("ready", "owner", "doomed"):
            obj = _capture(kubectl, ns, name, _reason_is("VersionActive"), "Ready")
            got[name] = obj
        got["failed"] = _capture(
            kubectl, ns, "failed", _reason_is("ImagePullBackOff"), "ImagePullBackOff"
        )
        got["secret"] = _capture(
            kubectl, ns, "secret", _reason_is("SecretNotFound"), "SecretNotFound"
        )
        got["suspended"] = _capture(kubectl, ns, "paused", _reason_is("Suspended"), "Suspended")

        _apply(kubectl, other, manifest("intruder", f"{IMAGE}:2", agentName=agent))
        got["conflict"] = _capture(
            kubectl, other, "intruder", _reason_is("AgentNameConflict"), "AgentNameConflict"
        )

        fault = admin.inject_throttling(retry_after=1, operations=["create_version"])
        try:
            _apply(kubectl, ns, manifest("throttled", f"{IMAGE}:1"))
            got["throttled"] = _capture(
                kubectl, ns, "throttled", _reason_is("Throttled"), "Throttled"
            )
        finally:
            admin.remove_fault(fault)
        fault = admin.inject_status(503, operations=["create_version"])
        try:
            _apply(kubectl, ns, manifest("unavailable", f"{IMAGE}:1"))
            got["unavailable"] = _capture(
                kubectl, ns, "unavailable", _reason_is("FoundryUnavailable"), "FoundryUnavailable"
            )
        finally:
            admin.remove_fault(fault)

        admin.set_provisioning_delay(30)
        try:
            _apply(kubectl, ns, manifest("creating", f"{IMAGE}:1"))
            got["creating"] = _capture(
                kubectl,
                ns,
                "creating",
                lambda o: _reason_is("VersionCreating")(o) and o["status"].get("latestVersion"),
                "a version being created",
            )
        finally:
            admin.set_provisioning_delay(0.5)

        emulator.stop()
        try:
            kubectl("delete", "hagent", "doomed", "-n", ns, "--wait=false")
            got["deleting"] = _capture(
                kubectl,
                ns,
                "doomed",
                lambda o: o["status"].get("phase") == "Deleting" and o["status"].get("lastError"),
                "phase Deleting while Foundry is down",
            )
        finally:
            emulator.restart()

        operator_process.stop()
        try:
            change = json.dumps({"spec": {"image": f"{IMAGE}:2"}})
            kubectl("patch", "hagent", "ready", "-n", ns, "--type=merge", "-p", change)
            got["stale"] = get_full(kubectl, ns, "ready")
            _apply(kubectl, ns, manifest("unseen", f"{IMAGE}:1"))
            got["nostatus"] = get_full(kubectl, ns, "unseen")
        finally:
            operator_process.start()
        yield got
    finally:
        admin.clear_faults()
        for namespace in (ns, other):
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@dataclass(frozen=True)
class Row:
    state: str
    health: str
    says: tuple[str, ...]  # substrings the message must contain


ROWS = (
    Row("ready", "Healthy", ("is serving",)),
    Row("creating", "Progressing", ("VersionCreating",)),
    Row("failed", "Degraded", ("ImagePullBackOff", "AcrPull")),
    Row("secret", "Degraded", ("SecretNotFound", "not-there", "Create the Secret")),
    Row("conflict", "Degraded", ("AgentNameConflict", "choose another spec.agentName")),
    Row("throttled", "Progressing", ("Throttled",)),
    Row("unavailable", "Progressing", ("FoundryUnavailable",)),
    Row("deleting", "Progressing", ("Deleting", "FoundryUnavailable")),
    Row("suspended", "Suspended", ("Suspended", "spec.suspend")),
    Row("stale", "Progressing", ("generation 2", "generation 1")),
    Row("nostatus", "Progressing", ("report status",)),
)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.state}-{r.health}" for r in ROWS])
def test_health_lua_on_a_status_the_operator_wrote(captured: Captured, row: Row) -> None:
    obj = captured[row.state]
    health = evaluate(obj)
    assert health.status == row.health, (health, obj.get("status"))
    for text in row.says:
        assert text in health.message, (health, obj.get("status"))


def test_the_captured_states_are_what_the_rows_claim(captured: Captured) -> None:
    """Guards the table itself: each object really is in the state its row names."""
    status = {k: v.get("status") or {} for k, v in captured.items()}
    meta = {k: v["metadata"] for k, v in captured.items()}
    assert status["ready"]["phase"] == "Ready"
    assert status["creating"]["phase"] == "Provisioning"
    assert status["failed"]["phase"] == "Failed"
    assert status["suspended"]["phase"] == "Suspended"
    assert meta["deleting"].get("deletionTimestamp")
    assert meta["stale"]["generation"] == status["stale"]["observedGeneration"] + 1
    assert status["nostatus"] == {}
    for state in ("failed", "secret", "conflict"):
        degraded = next(c for c in status[state]["conditions"] if c["type"] == "Degraded")
        assert degraded["status"] == "True", state
    for state in ("throttled", "unavailable"):
        progressing = next(c for c in status[state]["conditions"] if c["type"] == "Progressing")
        assert progressing["status"] == "True", state


@pytest.mark.parametrize("state", [r.state for r in ROWS])
def test_in_every_state_the_operator_owns_only_status_finalizers_and_its_annotations(
    captured: Captured, state: str
) -> None:
    obj = captured[state]
    assert obj["metadata"].get("managedFields"), "kubectl hid managedFields"
    if state != "nostatus":  # the operator never saw that one
        assert operator_owned_fields(obj), obj["metadata"]["managedFields"]
    assert foreign_writes(obj) == {}


def test_the_operator_adds_no_annotation_in_any_state(captured: Captured) -> None:
    """Through every state captured (creating, failing, throttled, deleting...), the objects
    carry no annotation of the operator's or kopf's: nothing for Argo CD to ignore."""
    seen = {
        key
        for obj in captured.values()
        for key in (obj["metadata"].get("annotations") or {})
        if key.startswith(OPERATOR_ANNOTATION_PREFIXES)
    }
    assert seen == set()
