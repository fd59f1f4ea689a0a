"""examples/argocd/argocd-cm.yaml merges into an existing argocd-cm as its header says: a
merge patch adds its keys and keeps everyone else's, and the server-side apply it warns
against would not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
ARGOCD_CM = REPO / "examples" / "argocd" / "argocd-cm.yaml"


def test_argocd_cm_merges_into_an_existing_one_without_dropping_keys(
    kubectl: Any, namespace: str, tmp_path: Path
) -> None:
    # An argocd-cm as an Argo CD install leaves it (a namespace of its own stands in for argocd).
    existing = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "argocd-cm",
            "labels": {
                "app.kubernetes.io/name": "argocd-cm",
                "app.kubernetes.io/part-of": "argocd",
            },
        },
        "data": {
            "url": "https://argocd.example.com",
            "resource.customizations.health.cert-manager.io_Certificate": "hs = {}\nreturn hs\n",
        },
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(existing))
    ours = yaml.safe_load(ARGOCD_CM.read_text())
    ours["metadata"]["namespace"] = namespace
    patch = tmp_path / "argocd-cm.yaml"
    patch.write_text(yaml.safe_dump(ours))

    def merge() -> dict[str, Any]:
        out = kubectl(
            "patch", "configmap", "argocd-cm", "-n", namespace,
            "--type", "merge", "--patch-file", str(patch), "-o", "json",
        )  # fmt: skip
        return dict(json.loads(out.stdout))

    merged = merge()
    assert merged["data"] == {**existing["data"], **ours["data"]}
    assert merged["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"

    again = merge()
    assert again["metadata"]["resourceVersion"] == merged["metadata"]["resourceVersion"]


def test_server_side_apply_would_drop_the_keys_of_a_client_side_applied_argocd_cm(
    kubectl: Any, namespace: str
) -> None:
    """Why the header says merge patch: kubectl migrates client-side-apply ownership to the
    server-side field manager, which then prunes what its manifest leaves out."""
    existing = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm"},
        "data": {"url": "https://argocd.example.com"},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(existing))
    ours = yaml.safe_load(ARGOCD_CM.read_text())
    ours["metadata"]["namespace"] = namespace
    out = kubectl(
        "apply", "--server-side", "--field-manager=foundry-agent-operator",
        "-f", "-", "-o", "json", input=json.dumps(ours),
    )  # fmt: skip
    assert "url" not in json.loads(out.stdout)["data"]
