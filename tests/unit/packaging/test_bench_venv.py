"""The benchmark's operator virtualenv: keyed on what the image is built from, reused while
that is unchanged, and a clear error when pip fails. The build itself (pip and the package
index) runs in `make bench`; here it is replaced by a stub."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from bench import operator_venv
from bench.operator_venv import OperatorVenvError, ensure, resolve, source_hash

pytestmark = pytest.mark.unit


def _repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        (root / name).write_text(f"{name}\n")
    (root / "operator" / "pkg").mkdir(parents=True)
    (root / "operator" / "pkg" / "__init__.py").write_text("x = 1\n")
    return root


def test_hash_covers_the_build_context_and_nothing_else(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    first = source_hash(repo)
    # What .dockerignore keeps out of the image's build context, and files outside it.
    (repo / "operator" / "pkg" / "__pycache__").mkdir()
    (repo / "operator" / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (repo / "operator" / "pkg.egg-info").mkdir()
    (repo / "operator" / "pkg.egg-info" / "PKG-INFO").write_text("Name: pkg\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("\n")
    assert source_hash(repo) == first
    (repo / "operator" / "pkg" / "__init__.py").write_text("x = 2\n")
    second = source_hash(repo)
    assert second != first
    (repo / "constraints.txt").write_text("kopf==1.45.2\n")
    assert source_hash(repo) not in (first, second)


def _stub_build(calls: list[Path]) -> Callable[[Path, Path, str, Callable[[str], None]], None]:
    def build(repo: Path, venv: Path, digest: str, say: Callable[[str], None]) -> None:
        calls.append(venv)
        venv.mkdir(parents=True, exist_ok=True)
        (venv / operator_venv.MARKER).write_text("{}")

    return build


def test_a_built_venv_is_reused_and_an_interrupted_one_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, cache = _repo(tmp_path / "repo"), tmp_path / "cache"
    calls: list[Path] = []
    monkeypatch.setattr(operator_venv, "_build", _stub_build(calls))
    venv = ensure(repo, say=lambda _: None, cache=cache)
    assert venv == cache / f"bench-venv-{source_hash(repo)}"
    assert ensure(repo, say=lambda _: None, cache=cache) == venv
    assert calls == [venv]
    (venv / operator_venv.MARKER).unlink()  # as a build killed half-way leaves it
    ensure(repo, say=lambda _: None, cache=cache)
    assert calls == [venv, venv]


def test_an_explicit_interpreter_is_used_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(operator_venv.ENV_VAR, raising=False)
    chosen = resolve(tmp_path, sys.executable, say=lambda _: None)
    assert chosen.python == Path(sys.executable).absolute() and chosen.venv is None
    monkeypatch.setenv(operator_venv.ENV_VAR, sys.executable)
    assert resolve(tmp_path, None, say=lambda _: None).venv is None
    with pytest.raises(OperatorVenvError, match="no such file"):
        resolve(tmp_path, tmp_path / "nope" / "python", say=lambda _: None)


def test_a_failed_step_says_what_failed_and_shows_its_output(tmp_path: Path) -> None:
    failing = [sys.executable, "-c", "import sys; print('no matching distribution'); sys.exit(3)"]
    with pytest.raises(OperatorVenvError) as caught:
        operator_venv._run("pip install", failing, tmp_path / "build.log")
    message = str(caught.value)
    assert "pip install failed (exit 3)" in message
    assert "no matching distribution" in message and "--operator-python" in message
