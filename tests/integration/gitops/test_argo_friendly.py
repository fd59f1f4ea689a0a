"""What a GitOps tool needs from the operator, proven against a real apiserver and operator.

- The operator never writes spec or user-owned metadata: its field managers own only status,
  metadata.finalizers and annotations under its own prefixes, through a whole lifecycle.
- No churn at steady state: a Ready and a Degraded object keep their resourceVersion across
  two resync rounds, so Argo CD sees no updates.
- Server-side apply of an unchanged manifest is a no-op, and `kubectl diff --server-side`
  shows nothing for an object the operator has worked on: its bookkeeping is not a diff.

Manifests are applied the way Argo CD applies them with ServerSideApply=true: server-side,
with the field manager ``argocd-controller``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitopskit import (
    OPERATOR_ANNOTATION_PREFIXES,
    foreign_writes,
    get_full,
    operator_owned_fields,
    user_owned,
    wait_for_resync_rounds,
)

from foundry_devtools.emulator.process import EmulatorProcess
from support import wait_for
from support.hagent import IMAGE, condition, get, unique, wait_ready

pytestmark = pytest.mark.usefixtures("running_operator")

REPO = Path(__file__).resolve().parents[3]
ARGO = "argocd-controller"
BAD_IMAGE = "myregistry.azurecr.io/agents/does-not-exist:1"


def agent_manifest(name: str, image: str, **spec: Any) -> dict[str, Any]:
    """A HostedAgent as a Git repository would hold it: labels, annotations of several
    owners, an env var from a Secret."""
    return {
        "apiVersion": "foundry.agents.dev/v1alpha1",
        "kind": "HostedAgent",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/part-of": "support", "team": "care"},
            "annotations": {
                "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true",
                "example.com/owner": "team-care",
            },
        },
        "spec": {"image": image, "description": "GitOps test agent", **spec},
    }


def ssa(kubectl: Any, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply as Argo CD does; returns the object as the apply left it."""
    out = kubectl(
        "apply", "--server-side", f"--field-manager={ARGO}", "-n", namespace,
        "-f", "-", "-o", "json", "--show-managed-fields", input=json.dumps(doc),
    )  # fmt: skip
    return dict(json.loads(out.stdout))


def secret(kubectl: Any, namespace: str, name: str, value: str) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"api-key": value},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc))


def settled(kubectl: Any, namespace: str, name: str, generation: int, phase: str) -> bool:
    status = get(kubectl, namespace, name).get("status") or {}
    return status.get("observedGeneration") == generation and status.get("phase") == phase


def test_operator_never_writes_spec_or_user_metadata_across_a_full_lifecycle(
    kubectl: Any, namespace: str
) -> None:
    name = unique("owned")
    secret(kubectl, namespace, "creds", "first")
    env = [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "api-key"}}}]

    # 1. created and Ready
    applied = ssa(kubectl, namespace, agent_manifest(name, f"{IMAGE}:1", env=env))
    wait_ready(kubectl, namespace, name)
    assert user_owned(get_full(kubectl, namespace, name)) == user_owned(applied)

    # 2. a rotated Secret: the operator rolls out without writing anything to the object
    first = get(kubectl, namespace, name)["status"]["latestVersion"]
    secret(kubectl, namespace, "creds", "second")
    wait_for(
        lambda: (
            get(kubectl, namespace, name)["status"].get("latestVersion") not in (None, first)
            and settled(kubectl, namespace, name, 1, "Ready")
        ),
        timeout=60,
        what="a new version for the rotated Secret, Ready",
    )
    obj = get_full(kubectl, namespace, name)
    assert not [k for k in obj["metadata"].get("annotations", {}) if k.startswith("refs.")]
    assert user_owned(obj) == user_owned(applied)

    # 3. a broken image from Git: Degraded, and still nothing of the user's touched
    applied = ssa(kubectl, namespace, agent_manifest(name, BAD_IMAGE, env=env))
    wait_for(lambda: settled(kubectl, namespace, name, 2, "Failed"), timeout=60, what="Failed")
    assert user_owned(get_full(kubectl, namespace, name)) == user_owned(applied)

    # 4. fixed in Git: Ready again
    applied = ssa(kubectl, namespace, agent_manifest(name, f"{IMAGE}:2", env=env))
    wait_for(lambda: settled(kubectl, namespace, name, 3, "Ready"), timeout=60, what="Ready")
    obj = get_full(kubectl, namespace, name)
    assert user_owned(obj) == user_owned(applied)

    # Who owns what: the operator only status and the finalizer; the
    # GitOps tool still owns every field it applied.
    assert operator_owned_fields(obj)
    assert foreign_writes(obj) == {}
    argo = [m for m in obj["metadata"]["managedFields"] if m["manager"] == ARGO]
    assert len(argo) == 1 and argo[0]["operation"] == "Apply"
    argo_fields = json.dumps(argo[0]["fieldsV1"])
    for field in ('"f:image"', '"f:env"', '"f:description"', '"f:team"', '"f:example.com/owner"'):
        assert field in argo_fields, field

    # 5. deleted: the finalizer is the operator's to remove, and it does
    kubectl("delete", "hagent", name, "-n", namespace, "--wait=true", "--timeout=60s", timeout=70)


def test_ready_and_degraded_objects_do_not_churn_across_two_resyncs(
    kubectl: Any, namespace: str, emulator: EmulatorProcess
) -> None:
    good, bad = unique("quiet"), unique("stuck")
    ssa(kubectl, namespace, agent_manifest(good, f"{IMAGE}:1"))
    ssa(kubectl, namespace, agent_manifest(bad, BAD_IMAGE))
    wait_ready(kubectl, namespace, good)
    kubectl(
        "wait", "--for=condition=Degraded", "--timeout=60s", f"hagent/{bad}", "-n", namespace,
        timeout=70,
    )  # fmt: skip
    before = {n: get_full(kubectl, namespace, n) for n in (good, bad)}

    wait_for_resync_rounds(kubectl, emulator, rounds=2)

    after = {n: get_full(kubectl, namespace, n) for n in (good, bad)}
    for n in (good, bad):
        assert (
            after[n]["metadata"]["resourceVersion"] == before[n]["metadata"]["resourceVersion"]
        ), (
            n,
            before[n],
            after[n],
        )


def test_server_side_apply_of_the_same_manifest_twice_is_a_no_op(
    kubectl: Any, namespace: str
) -> None:
    name = unique("same")
    doc = agent_manifest(name, f"{IMAGE}:1")
    ssa(kubectl, namespace, doc)
    wait_ready(kubectl, namespace, name)
    before = get_full(kubectl, namespace, name)

    again = ssa(kubectl, namespace, doc)

    assert again["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert again["metadata"]["generation"] == before["metadata"]["generation"] == 1
    assert condition(kubectl, namespace, name, "Ready")["status"] == "True"


def test_client_side_apply_of_the_same_manifest_twice_is_unchanged(
    kubectl: Any, namespace: str
) -> None:
    name = unique("csa")
    text = json.dumps(agent_manifest(name, f"{IMAGE}:1"))
    kubectl("apply", "-n", namespace, "-f", "-", input=text)
    wait_ready(kubectl, namespace, name)
    before = get(kubectl, namespace, name)["metadata"]["resourceVersion"]

    out = kubectl("apply", "-n", namespace, "-f", "-", input=text).stdout

    assert "unchanged" in out, out
    assert get(kubectl, namespace, name)["metadata"]["resourceVersion"] == before


def test_kubectl_diff_shows_no_diff_for_a_ready_object(
    kubectl: Any, namespace: str, tmp_path: Path
) -> None:
    """The operator's finalizer and status are not differences from Git, and it adds no
    annotation at all."""
    name = unique("nodiff")
    doc = agent_manifest(name, f"{IMAGE}:1")
    manifest = tmp_path / "agent.yaml"
    manifest.write_text(yaml.safe_dump(doc))
    ssa(kubectl, namespace, doc)
    wait_ready(kubectl, namespace, name)
    annotations = get(kubectl, namespace, name)["metadata"].get("annotations", {})
    assert not any(k.startswith(OPERATOR_ANNOTATION_PREFIXES) for k in annotations)

    for extra in ([f"--field-manager={ARGO}"], ["--field-manager=someone-else"]):
        diff = kubectl(
            "diff", "--server-side", *extra, "-n", namespace, "-f", str(manifest), check=False
        )
        assert diff.returncode == 0, diff.stdout + diff.stderr
        assert diff.stdout == ""
