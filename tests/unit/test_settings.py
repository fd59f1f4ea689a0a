"""One settings model: every knob has a flag and a variable, and the docs and chart agree."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from foundry_operator import settings

REPO = Path(__file__).resolve().parents[2]


def parse(argv: list[str]) -> settings.Settings:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return settings.from_args(parser.parse_args(argv))


def test_every_setting_has_a_flag_and_a_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for knob in settings.catalogue():
        assert knob.flag.startswith("--") and knob.env.isupper(), knob
    monkeypatch.setenv("FOUNDRY_OPERATOR_POLL_INITIAL_SECONDS", "7")
    monkeypatch.setenv("FOUNDRY_OPERATOR_NAMESPACES", "a, b")
    monkeypatch.setenv("AZURE_AI_PROJECT_ENDPOINT", "https://example/api/projects/p")
    loaded = parse([])
    assert loaded.poll_initial_seconds == 7
    assert loaded.namespaces == ["a", "b"]
    assert loaded.project_endpoint == "https://example/api/projects/p"


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_OPERATOR_MAX_CONCURRENCY", "4")
    monkeypatch.setenv("POD_NAMESPACE", "ops")
    loaded = parse(["--max-concurrency", "9", "-n", "x", "--leader-election"])
    assert loaded.max_concurrency == 9 and loaded.namespaces == ["x"]
    assert loaded.leader_election and loaded.lease_namespace == "ops"


def test_a_bad_value_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        parse(["--max-concurrency", "0"])


def test_the_bind_address_reaches_the_health_endpoint() -> None:
    assert parse(["--bind-address", "127.0.0.1"]).liveness_url == "http://127.0.0.1:8081/healthz"


def test_the_readme_table_is_the_models() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme.split("<!-- settings-table:start -->\n")[1].split("\n<!-- settings-table:end")[0]
    assert table == settings.markdown_table()


def test_the_chart_sets_only_variables_the_operator_reads() -> None:
    deployment = (REPO / "charts/foundry-agent-operator/templates/deployment.yaml").read_text()
    names = set(re.findall(r"- name: ((?:FOUNDRY_OPERATOR|AZURE_AI)_[A-Z_]+)", deployment))
    known = {knob.env for knob in settings.catalogue()}
    assert names and names <= known, names - known
