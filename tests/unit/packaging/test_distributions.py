"""Two distributions: the operator's wheel holds only the operator, devtools holds the rest.

The operator's wheel is what the image installs, so it is built here the way the Dockerfile
builds it: from a copy of exactly the build context .dockerignore admits, offline, with the
environment's setuptools.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from foundry_operator import cli

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEV_ONLY = {"emulator", "devcluster", "demo", "local", "certs"}
DEV_COMMANDS = {"emulator", "devcluster", "demo"}


@pytest.fixture(scope="module")
def operator_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    context = tmp_path_factory.mktemp("context")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, context / name)
    shutil.copytree(
        REPO / "operator",
        context / "operator",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    out = tmp_path_factory.mktemp("wheel")
    # The PEP 517 hook itself: what `pip wheel --no-build-isolation` would call, minus pip.
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))",
            str(out),
        ],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (wheel,) = out.glob("foundry_agent_operator-*.whl")
    return zipfile.ZipFile(wheel)


def test_operator_wheel_holds_only_the_operator_package(operator_wheel: zipfile.ZipFile) -> None:
    names = [PurePosixPath(n) for n in operator_wheel.namelist()]
    modules = [n for n in names if not n.parts[0].endswith(".dist-info")]
    assert modules, "the wheel has modules"
    assert {n.parts[0] for n in modules} == {"foundry_operator"}
    dev = [str(n) for n in modules if DEV_ONLY & {*n.parts[1:-1], n.stem}]
    assert not dev, f"development tooling in the operator's wheel: {dev}"


def test_operator_wheel_has_one_console_script(operator_wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in operator_wheel.namelist() if n.endswith("entry_points.txt")]
    scripts = operator_wheel.read(entry_points).decode().split("[console_scripts]")[1]
    assert [line.split("=")[0].strip() for line in scripts.split("\n") if "=" in line] == [
        "foundry-operator"
    ]


def test_devtools_never_import_the_operator() -> None:
    # So the emulator and the devcluster install and run on their own; the local runner
    # starts the operator as a process instead.
    importers = []
    for source in sorted((REPO / "devtools" / "foundry_devtools").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] == "foundry_operator" for name in names):
                importers.append(f"{source.relative_to(REPO)}:{node.lineno}")
    assert not importers, importers


def test_operator_cli_has_no_development_subcommands() -> None:
    assert set(cli.SUBCOMMANDS) == {"run", "crds", "export"}
    assert not DEV_COMMANDS & set(cli.SUBCOMMANDS)


@pytest.mark.parametrize(
    "command",
    [
        ["foundry-emulator", "--help"],
        ["foundry-devcluster", "--help"],
        *(["foundry-devcluster", action, "--help"] for action in ("start", "stop", "env")),
        *(["foundry-devcluster", action, "--help"] for action in ("status", "build")),
        ["foundry-demo", "--help"],
    ],
)
def test_devtools_console_scripts_exist(command: list[str]) -> None:
    script = BIN / command[0]
    assert script.exists(), f"{script} missing: run `make install`"
    result = subprocess.run(
        [str(script), *command[1:]], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {command[0]}")


def test_devtools_keep_the_flags_the_operator_cli_had() -> None:
    emulator = subprocess.run(
        [str(BIN / "foundry-emulator"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for flag in ("--port", "--identity-port", "--host", "--state-dir", "--project", "--config"):
        assert flag in emulator
    demo = subprocess.run(
        [str(BIN / "foundry-demo"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for flag in ("--dir", "--stop", "--timeout"):
        assert flag in demo
