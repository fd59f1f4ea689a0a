"""The interpreter the benchmark runs the operator with: a virtualenv like the image's.

The dev virtualenv holds much more than the operator ships with (the test and benchmark
tools, the kubernetes client for the fixtures, matplotlib...). Some of it changes what the
operator does at run time: kopf, for one, imports the kubernetes client at start-up when it
is installed. Measured from the dev virtualenv, the operator's memory and CPU would be those
of an operator nobody deploys.

So the benchmark builds a virtualenv with the operator's wheel and its declared runtime
dependencies only, the way the Dockerfile does: ``pip wheel --no-deps`` of the same four
things the image's build context holds (pyproject.toml, README.md, constraints.txt,
operator/), then ``pip install --only-binary=:all: --constraint constraints.txt`` of that
wheel into a venv without pip. It lives in the project cache as
``bench-venv-<hash>``, where the hash covers those files and the interpreter, and is reused
for as long as none of them changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# What the image is built from (the Dockerfile's COPY lines, which .dockerignore matches).
CONTEXT_FILES = ("pyproject.toml", "README.md", "constraints.txt")
CONTEXT_TREE = "operator"
# Never part of the build context (.dockerignore) and rewritten by every import or build.
IGNORED_PARTS = ("__pycache__",)
IGNORED_SUFFIXES = (".pyc", ".egg-info")
PREFIX = "bench-venv-"
MARKER = ".bench-venv.json"  # written last: a virtualenv without it is an interrupted build
STALE_SECONDS = 14 * 86400  # other bench virtualenvs unused this long are removed
ENV_VAR = "BENCH_OPERATOR_PYTHON"


class OperatorVenvError(RuntimeError):
    """The operator's virtualenv could not be built; the message says what pip said."""


@dataclass(frozen=True)
class OperatorPython:
    """The interpreter that runs the operator, and the bench virtualenv it belongs to
    (None for an interpreter chosen with ``--operator-python``)."""

    python: Path
    venv: Path | None


def cache_root() -> Path:
    """The project cache, where the devcluster keeps its binaries (same rules)."""
    explicit = os.environ.get("FOUNDRY_OPERATOR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foundry-operator"


def _ignored(relative: Path) -> bool:
    return any(part in IGNORED_PARTS or part.endswith(IGNORED_SUFFIXES) for part in relative.parts)


def context_files(repo: Path) -> list[Path]:
    """The files the image's wheel is built from, relative to ``repo``, sorted."""
    files = [Path(name) for name in CONTEXT_FILES]
    for path in (repo / CONTEXT_TREE).rglob("*"):
        relative = path.relative_to(repo)
        if path.is_file() and not _ignored(relative):
            files.append(relative)
    return sorted(files)


def source_hash(repo: Path, python: str = sys.executable) -> str:
    """12 hex digits over the build context and the interpreter the venv is made from."""
    digest = hashlib.sha256()
    # A venv is tied to its base interpreter: a new Python means a new venv.
    digest.update(f"{os.path.realpath(python)}\0{sys.version}\0".encode())
    for relative in context_files(repo):
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update((repo / relative).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def venv_python(venv: Path) -> Path:
    # Not resolved: bin/python is a symlink to the base interpreter, and only the path
    # inside the venv makes Python use the venv's site-packages.
    return venv / "bin" / "python"


@contextmanager
def _lock(cache: Path) -> Iterator[None]:
    """One build at a time (two benchmarks started together would both build)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "bench-venv.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(step: str, cmd: Sequence[str | Path], build_log: Path) -> None:
    """Run one build step, its output appended to ``build_log``; on failure an error with
    the command, the exit code and the end of the output."""
    with build_log.open("a") as out:
        out.write(f"$ {' '.join(map(str, cmd))}\n")
        out.flush()
        code = subprocess.run(
            [str(c) for c in cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            check=False,
        ).returncode
    if code != 0:
        tail = "\n".join(build_log.read_text(errors="replace").splitlines()[-30:])
        raise OperatorVenvError(
            f"could not build the operator's virtualenv: {step} failed (exit {code}).\n"
            f"  command: {' '.join(map(str, cmd))}\n"
            f"  full output: {build_log}\n"
            f"--- last lines ---\n{tail}\n---\n"
            "The dependencies come from the package index as the image gets them "
            "(--only-binary=:all:, constraints.txt). To benchmark with the dev virtualenv "
            f"instead, pass --operator-python .venv/bin/python (or set {ENV_VAR})."
        )


def _build(repo: Path, venv: Path, digest: str, say: Callable[[str], None]) -> None:
    if venv.exists():  # an interrupted build: no marker
        shutil.rmtree(venv)
    venv.mkdir(parents=True)
    build_log = venv / "build.log"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-venv-build-") as tmp:
        # The build context alone, as the image's: a build in the worktree would also
        # leave build/ and an egg-info behind there.
        context = Path(tmp) / "context"
        for relative in context_files(repo):
            (context / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / relative, context / relative)
        wheels = Path(tmp) / "wheels"
        pip = [sys.executable, "-m", "pip"]
        say("  1/3 building the operator's wheel (pip wheel --no-deps)")
        _run("pip wheel", [*pip, "wheel", "--no-deps", "--wheel-dir", wheels, context], build_log)
        (wheel,) = wheels.glob("foundry_agent_operator-*.whl")
        say("  2/3 creating the virtualenv (no pip in it, like the image's)")
        _run("venv", [sys.executable, "-m", "venv", "--without-pip", venv], build_log)
        say("  3/3 installing the wheel and its runtime dependencies at constraints.txt")
        _run(
            "pip install",
            [
                *pip,
                "--python",
                venv_python(venv),
                "install",
                "--only-binary=:all:",
                "--constraint",
                context / "constraints.txt",
                wheel,
            ],
            build_log,
        )
    installed = _distributions(venv_python(venv))
    (venv / MARKER).write_text(
        json.dumps({"hash": digest, "built_from": str(repo), "distributions": installed}, indent=2)
    )
    say(
        f"  built in {time.monotonic() - started:.0f}s: {len(installed)} distributions "
        f"({', '.join(installed)})"
    )


def _distributions(python: Path) -> list[str]:
    """``name==version`` of every distribution ``python`` sees, sorted."""
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m\n"
            "for d in m.distributions(): print(f\"{d.metadata['Name']}=={d.version}\")",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(out.stdout.split(), key=str.lower)


def _prune(cache: Path, keep: Path, say: Callable[[str], None]) -> None:
    """Remove other bench virtualenvs nobody used for STALE_SECONDS (other worktrees and
    branches have their own hashes, so recent ones are left alone)."""
    now = time.time()
    for other in cache.glob(f"{PREFIX}*"):
        if other == keep or not other.is_dir():
            continue
        marker = other / MARKER
        used = (marker if marker.exists() else other).stat().st_mtime
        if now - used > STALE_SECONDS:
            say(f"  removing {other.name}, unused for {(now - used) / 86400:.0f} days")
            shutil.rmtree(other, ignore_errors=True)


def ensure(repo: Path, say: Callable[[str], None], cache: Path | None = None) -> Path:
    """The bench virtualenv for ``repo``'s operator sources: reused when its hash matches,
    built (once, under a lock) when not. Returns the virtualenv's directory."""
    cache = cache or cache_root()
    digest = source_hash(repo)
    venv = cache / f"{PREFIX}{digest}"
    with _lock(cache):
        marker = venv / MARKER
        if marker.exists():
            marker.touch()  # in use: keeps _prune away
            say(f"operator virtualenv {venv} is up to date (hash {digest})")
            return venv
        say(
            f"building the operator's virtualenv {venv} (the operator sources, pyproject.toml "
            "or constraints.txt changed, or there is none yet)"
        )
        _build(repo, venv, digest, say)
        _prune(cache, venv, say)
    return venv


def resolve(repo: Path, explicit: Path | str | None, say: Callable[[str], None]) -> OperatorPython:
    """``explicit`` (the ``--operator-python`` flag), else $BENCH_OPERATOR_PYTHON, else the
    bench virtualenv's interpreter, built if needed."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if chosen:
        # absolute(), not resolve(): a venv's bin/python is a symlink out of the venv.
        python = Path(chosen).expanduser().absolute()
        if not python.exists():
            raise OperatorVenvError(f"--operator-python {chosen}: no such file")
        say(f"operator interpreter given: {python} (not the bench virtualenv)")
        return OperatorPython(python, None)
    venv = ensure(repo, say)
    return OperatorPython(venv_python(venv), venv)
