"""The chart ships the same Argo CD health check as examples/argocd."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_chart_health_check_is_the_example_script() -> None:
    chart_copy = REPO / "charts/foundry-agent-operator/files/argocd/health.lua"
    assert chart_copy.read_text() == (REPO / "examples/argocd/health.lua").read_text(), (
        "copy examples/argocd/health.lua to charts/foundry-agent-operator/files/argocd/"
    )
