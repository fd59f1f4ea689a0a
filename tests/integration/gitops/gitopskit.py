"""Helpers for the GitOps tests: who owns which field, and waiting on the operator's resync."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

from foundry_devtools.emulator.process import EmulatorProcess
from support import TEST_RESYNC_SECONDS, wait_for

# Annotation prefixes the operator would own. It writes none today (kopf keeps no state on
# the object, and a changed Secret wakes its users without a write); the prefixes stay so
# that the tests notice if an annotation ever creeps back in.
OPERATOR_ANNOTATION_PREFIXES = ("foundry.agents.dev/", "refs.foundry.agents.dev/")


def is_user_manager(manager: str) -> bool:
    """Field managers of people and GitOps tools in these tests: every kubectl verb records
    itself as ``kubectl`` or ``kubectl-<verb>``; Argo CD would be ``argocd-controller``."""
    return manager.startswith("kubectl") or manager == "argocd-controller"


def _paths(fields: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Leaf paths of a managedFields ``fieldsV1`` tree, like ``metadata.annotations.x``."""
    for key, value in fields.items():
        if key == ".":
            continue
        name = key[2:] if key.startswith(("f:", "k:", "v:", "i:")) else key
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, Mapping) and any(k != "." for k in value):
            yield from _paths(value, path)
        else:
            yield path


def operator_owned_fields(obj: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every field a non-user manager owns, per manager (and subresource)."""
    owned: dict[str, list[str]] = {}
    for entry in obj["metadata"].get("managedFields") or []:
        if is_user_manager(entry["manager"]):
            continue
        key = f"{entry['manager']} ({entry.get('subresource') or 'main'}, {entry['operation']})"
        owned.setdefault(key, []).extend(_paths(entry.get("fieldsV1") or {}))
    return owned


def _operator_may_own(path: str) -> bool:
    if path == "status" or path.startswith("status."):
        return True
    if path == "metadata.finalizers" or path.startswith("metadata.finalizers."):
        return True
    if path.startswith("metadata.annotations."):
        key = path.removeprefix("metadata.annotations.")
        return key.startswith(OPERATOR_ANNOTATION_PREFIXES)
    return False


def foreign_writes(obj: Mapping[str, Any]) -> dict[str, list[str]]:
    """Fields the operator's managers own but must not: spec, labels, user annotations..."""
    bad = {
        manager: [p for p in paths if not _operator_may_own(p)]
        for manager, paths in operator_owned_fields(obj).items()
    }
    return {manager: paths for manager, paths in bad.items() if paths}


def user_owned(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What the user owns: spec, labels and the annotations outside the operator's prefixes."""
    meta = obj["metadata"]
    return {
        "spec": obj.get("spec"),
        "labels": meta.get("labels") or {},
        "annotations": {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if not k.startswith(OPERATOR_ANNOTATION_PREFIXES)
        },
    }


def get_full(kubectl: Any, namespace: str, name: str) -> dict[str, Any]:
    """The HostedAgent as JSON, managedFields included (kubectl hides them by default)."""
    out = kubectl("get", "hagent", name, "-n", namespace, "-o", "json", "--show-managed-fields")
    return dict(json.loads(out.stdout))


def settled_count(kubectl: Any) -> int:
    """HostedAgents in the whole cluster that the resync daemon looks at: Ready or Failed
    for their current generation (other tests leave theirs behind)."""
    items = json.loads(kubectl("get", "hagent", "-A", "-o", "json").stdout)["items"]
    return sum(
        1
        for item in items
        if (item.get("status") or {}).get("phase") in ("Ready", "Failed")
        and item["status"].get("observedGeneration") == item["metadata"].get("generation")
        and not item["metadata"].get("deletionTimestamp")
    )


def wait_for_resync_rounds(kubectl: Any, emulator: EmulatorProcess, rounds: int = 2) -> None:
    """Wait until every settled HostedAgent has been resynced ``rounds`` times.

    Each settled object makes one get_agent call per resync period, so the count grows
    by ``rounds x (settled HostedAgents in the cluster)``. Objects of other tests that are still
    moving add calls too, so the count alone could be reached early; the resync contract
    (one look every 0.9-1.1 periods) gives the second bound: after ``rounds x 1.1`` periods
    every running resync daemon has looked ``rounds`` times.
    """
    admin = emulator.admin()
    start = admin.stats().count("get_agent")
    started = time.monotonic()
    needed = rounds * settled_count(kubectl)
    least = rounds * 1.1 * TEST_RESYNC_SECONDS
    wait_for(
        lambda: (
            admin.stats().count("get_agent") - start >= needed
            and time.monotonic() - started >= least
        ),
        timeout=(rounds + 3) * TEST_RESYNC_SECONDS * 1.2,
        interval=0.5,
        what=f"{rounds} resync rounds ({needed} get_agent calls, {least:.1f}s)",
    )
