"""Find or build the devcluster's binaries (etcd, kube-apiserver, kubectl, helm, and for a
node kube-controller-manager, kube-scheduler and kubelet).

Order of preference for each binary:

1. ``KUBEBUILDER_ASSETS`` (an explicit choice by the caller), when the version matches;
2. the project cache (``~/.cache/foundry-operator/bin``), filled by an earlier build;
3. ``PATH``, when the version matches;
4. a build from pinned Go module versions into the cache.

Building goes through wrapper modules because neither ``k8s.io/kubernetes`` nor etcd's
server can be ``go install``-ed directly: both carry ``replace`` directives that only work
inside their own repositories. The wrapper re-points every Kubernetes staging module at
its published ``v0.X.Y`` tag, which matches Kubernetes ``v1.X.Y``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import versions
from .versions import Component


class BinaryError(RuntimeError):
    """A binary is missing and cannot be built; the message says what to install."""


def cache_root() -> Path:
    # Named after the project, not this package: caches built before devtools was split out
    # of the operator's distribution stay valid.
    explicit = os.environ.get("FOUNDRY_OPERATOR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foundry-operator"


def _say(message: str) -> None:
    print(f"[devcluster] {message}", file=sys.stderr, flush=True)


def _fmt_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


# --- version probing --------------------------------------------------------------------

_VERSION_ARGS: dict[str, list[str]] = {
    "kube-apiserver": ["--version"],
    "kube-controller-manager": ["--version"],
    "kube-scheduler": ["--version"],
    "kubelet": ["--version"],
    "kubectl": ["version", "--client", "-o", "json"],
    "etcd": ["--version"],
    "helm": ["version", "--template", "{{.Version}}"],
    "argocd": ["version", "--client", "--short"],
}
_KUBERNETES_BANNER = re.compile(r"Kubernetes v(\d+\.\d+\.\d+\S*)")
_VERSION_RE: dict[str, re.Pattern[str]] = {
    "kube-apiserver": _KUBERNETES_BANNER,
    "kube-controller-manager": _KUBERNETES_BANNER,
    "kube-scheduler": _KUBERNETES_BANNER,
    "kubelet": _KUBERNETES_BANNER,
    "kubectl": re.compile(r'"gitVersion":\s*"v(\d+\.\d+\.\d+[^"]*)"'),
    "etcd": re.compile(r"etcd Version:\s*(\d+\.\d+\.\d+\S*)"),
    "helm": re.compile(r"v(\d+\.\d+\.\d+\S*)"),
    "argocd": re.compile(r"argocd: v(\d+\.\d+\.\d+\S*)"),
}


def probe_version(component: Component, path: Path) -> str | None:
    """The version a binary reports about itself, or None when it does not run."""
    try:
        out = subprocess.run(
            [str(path), *_VERSION_ARGS[component.binary]],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE[component.binary].search(out.stdout + out.stderr)
    return match.group(1) if match else None


def _acceptable(component: Component, path: Path) -> bool:
    if not (path.is_file() and os.access(path, os.X_OK)):
        return False
    found = probe_version(component, path)
    return found is not None and found.startswith(component.accept_prefix)


def cached_path(component: Component) -> Path:
    suffix = f"-r{component.recipe}" if component.recipe > 1 else ""
    return (
        cache_root() / "bin" / f"{component.binary}-v{component.version}{suffix}" / component.binary
    )


def find(component: Component) -> Path | None:
    """An existing binary of an acceptable version, without building anything."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and _acceptable(component, Path(assets) / component.binary):
        return Path(assets) / component.binary
    cached = cached_path(component)
    # Our own cache is trusted by its path: probing it would cost a process start each time.
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    on_path = shutil.which(component.binary)
    if on_path and _acceptable(component, Path(on_path)):
        return Path(on_path)
    return None


# --- building ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipe:
    """How to build a group of binaries from one wrapper module."""

    name: str
    module: str  # the module whose version is pinned
    version: str
    packages: dict[str, str]  # binary -> Go package path
    ldflags: str
    tags: str = ""
    # The module's own go.mod pins dependencies with `replace` directives (which only apply
    # inside its repository); the wrapper copies them so the build sees the same versions.
    copy_replaces: bool = False


def _kubernetes_ldflags(version: str) -> str:
    major, minor = version.split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion=v{version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def _helm_ldflags() -> str:
    # Without these, helm renders charts as if the cluster were Kubernetes 1.20 (its
    # compiled-in default), and `kubeVersion` constraints fail in `helm template`.
    major, minor = versions.KUBERNETES_VERSION.split(".")[:2]
    flags = ["-s", "-w", f"-X helm.sh/helm/v3/internal/version.version=v{versions.HELM_VERSION}"]
    for pkg in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        flags += [f"-X {pkg}.k8sVersionMajor={major}", f"-X {pkg}.k8sVersionMinor={minor}"]
    return " ".join(flags)


def _argocd_ldflags() -> str:
    pkg = "github.com/argoproj/argo-cd/v3/common"
    return f"-s -w -X {pkg}.version={versions.ARGOCD_VERSION}"


def _recipes() -> dict[str, _Recipe]:
    k8s = _Recipe(
        name=f"kubernetes-v{versions.KUBERNETES_VERSION}",
        module="k8s.io/kubernetes",
        version=versions.KUBERNETES_VERSION,
        packages={
            "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
            "kubectl": "k8s.io/kubernetes/cmd/kubectl",
            "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
            "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
            "kubelet": "k8s.io/kubernetes/cmd/kubelet",
        },
        ldflags=_kubernetes_ldflags(versions.KUBERNETES_VERSION),
        # Upstream builds its binaries with these tags (hack/lib/golang.sh).
        tags="selinux,notest",
    )
    etcd = _Recipe(
        name=f"etcd-v{versions.ETCD_VERSION}",
        module="go.etcd.io/etcd/server/v3",
        version=versions.ETCD_VERSION,
        packages={"etcd": "go.etcd.io/etcd/server/v3"},
        ldflags="-s -w",
    )
    helm = _Recipe(
        name=f"helm-v{versions.HELM_VERSION}",
        module="helm.sh/helm/v3",
        version=versions.HELM_VERSION,
        packages={"helm": "helm.sh/helm/v3/cmd/helm"},
        ldflags=_helm_ldflags(),
    )
    argocd = _Recipe(
        name=f"argocd-v{versions.ARGOCD_VERSION}",
        module="github.com/argoproj/argo-cd/v3",
        version=versions.ARGOCD_VERSION,
        # The server embeds ui/dist/app; the module ships it with a placeholder file only,
        # so the API server runs without the web UI, which no test needs.
        packages={"argocd": "github.com/argoproj/argo-cd/v3/cmd"},
        ldflags=_argocd_ldflags(),
        copy_replaces=True,
    )
    return {
        "argocd": argocd,
        **dict.fromkeys(("kube-apiserver", "kubectl", *(c.binary for c in versions.NODE)), k8s),
        "etcd": etcd,
        "helm": helm,
    }


def _go_env() -> dict[str, str]:
    root = cache_root() / "go"
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(root / "mod"),
        GOCACHE=str(root / "build"),
        GOFLAGS="-mod=mod",
        CGO_ENABLED="0",
        # An older Go (>= 1.21) fetches the toolchain the modules ask for through the proxy.
        GOTOOLCHAIN=os.environ.get("GOTOOLCHAIN", "auto"),
    )
    return env


def _go_binary(missing: list[Component]) -> str:
    go = shutil.which("go")
    if go is None:
        names = ", ".join(f"{c.binary} {c.version}" for c in missing)
        raise BinaryError(
            f"missing devcluster binaries ({names}) and no Go toolchain to build them.\n"
            "Install Go 1.21 or newer (it fetches the exact toolchain it needs), or set "
            "KUBEBUILDER_ASSETS to a directory holding kube-apiserver, etcd and kubectl "
            f"{versions.KUBERNETES_VERSION.rsplit('.', 1)[0]}.x, and put helm 3 on PATH."
        )
    return go


class _Step:
    """Runs one go command, logging to a file and reporting elapsed time while it runs."""

    def __init__(self, log: Path, what: str) -> None:
        self.log = log
        self.what = what

    def run(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        started = time.monotonic()
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(30):
                _say(f"  still {self.what}: {_fmt_elapsed(time.monotonic() - started)} elapsed")

        ticker = threading.Thread(target=heartbeat, daemon=True)
        ticker.start()
        try:
            with self.log.open("a") as log:
                log.write(f"$ {' '.join(args)}\n")
                log.flush()
                proc = subprocess.run(
                    args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
                )
        finally:
            done.set()
        if proc.returncode != 0:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])
            raise BinaryError(
                f"{self.what} failed (exit {proc.returncode}); see {self.log}:\n{tail}"
            )


def _module_gomod(go: str, env: dict[str, str], workdir: Path, module: str, version: str) -> str:
    """The go.mod text of ``module@v{version}``, fetched through the module proxy."""
    out = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@v{version}"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r'"GoMod":\s*"([^"]+)"', out.stdout)
    if out.returncode != 0 or not match:
        raise BinaryError(f"could not fetch {module}@v{version} go.mod:\n{out.stderr}")
    return Path(match.group(1)).read_text()


def _staging_modules(go: str, env: dict[str, str], workdir: Path, version: str) -> list[str]:
    """The k8s.io staging modules that k8s.io/kubernetes replaces with local paths."""
    gomod = _module_gomod(go, env, workdir, "k8s.io/kubernetes", version)
    return re.findall(r"^\s*(k8s\.io/[a-z0-9-]+) => \./staging/", gomod, flags=re.M)


_REPLACE_LINE = re.compile(r"^\s*(?:replace\s+)?(\S+)(?:\s+\S+)?\s+=>\s+(\S+)\s+(v\S+)\s*$")


def module_replaces(gomod: str) -> list[tuple[str, str, str]]:
    """``(old, new, version)`` for each replace of a go.mod that points at a published module.

    Replaces onto local paths (``=> ./x``) are left out: they name directories of the
    module's own repository, which a module download does not have.
    """
    found: list[tuple[str, str, str]] = []
    in_block = False
    for raw in gomod.splitlines():
        line = raw.split("//", 1)[0].rstrip()
        if re.match(r"^\s*replace\s*\($", line):
            in_block = True
            continue
        if in_block and line.strip() == ")":
            in_block = False
            continue
        if not (in_block or line.lstrip().startswith("replace ")):
            continue
        match = _REPLACE_LINE.match(line)
        if match:
            found.append((match.group(1), match.group(2), match.group(3)))
    return found


def _build(recipe: _Recipe, wanted: list[Component]) -> None:
    """Compile the ``wanted`` binaries of ``recipe`` (the others may be cached already)."""
    go = _go_binary(wanted)
    env = _go_env()
    workdir = cache_root() / "src" / recipe.name
    logdir = cache_root() / "logs"
    workdir.mkdir(parents=True, exist_ok=True)
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"build-{recipe.name}.log"
    log.write_text("")
    go_version = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, check=False
    ).stdout.strip()
    names = ", ".join(c.binary for c in wanted)
    _say(f"building {names} v{recipe.version} from Go modules with {go_version}")
    _say(f"  (a cold build takes 10-25 minutes on 2 cores; log: {log})")
    started = time.monotonic()

    gomod = workdir / "go.mod"
    if not gomod.exists():
        _Step(log, "initialising the wrapper module").run(
            [go, "mod", "init", f"local/build/{recipe.name}"], workdir, env
        )
    if recipe.module == "k8s.io/kubernetes":
        minor = "v0." + recipe.version.split(".", 1)[1]
        replaces = [
            f"-replace={m}={m}@{minor}" for m in _staging_modules(go, env, workdir, recipe.version)
        ]
        _Step(log, "pinning Kubernetes staging modules").run(
            [go, "mod", "edit", *replaces], workdir, env
        )
    if recipe.copy_replaces:
        gomod_text = _module_gomod(go, env, workdir, recipe.module, recipe.version)
        copied = [f"-replace={old}={new}@{ver}" for old, new, ver in module_replaces(gomod_text)]
        if copied:
            _Step(log, f"copying {recipe.module}'s replace directives").run(
                [go, "mod", "edit", *copied], workdir, env
            )
    targets = [f"{pkg}@v{recipe.version}" for pkg in dict.fromkeys(recipe.packages.values())]
    _Step(log, f"downloading modules for {recipe.name}").run([go, "get", *targets], workdir, env)

    for component in wanted:
        binary, pkg = component.binary, recipe.packages[component.binary]
        dest = cached_path(component)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".partial")
        step_started = time.monotonic()
        # nice: a build shares the machine's cores with whoever is using it meanwhile.
        args = ["nice", "-n", "19", go, "build", "-trimpath", "-ldflags", recipe.ldflags]
        args += ["-o", str(tmp)]
        if recipe.tags:
            args += ["-tags", recipe.tags]
        _Step(log, f"compiling {binary} v{recipe.version}").run([*args, pkg], workdir, env)
        os.replace(tmp, dest)  # a half-written binary is never mistaken for a cached one
        _say(
            f"  built {binary} v{recipe.version} in {_fmt_elapsed(time.monotonic() - step_started)}"
        )
    _say(f"done with {recipe.name} in {_fmt_elapsed(time.monotonic() - started)}")


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builds across processes: two test sessions must not compile twice at once."""
    cache_root().mkdir(parents=True, exist_ok=True)
    with (cache_root() / "build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure(components: tuple[Component, ...] = versions.ALL) -> dict[str, Path]:
    """Paths of all requested binaries, building the missing ones (cached for next time)."""
    found: dict[str, Path] = {}
    missing: list[Component] = []
    for component in components:
        path = find(component)
        if path is None:
            missing.append(component)
        else:
            found[component.binary] = path
    if missing:
        with _build_lock():
            recipes = _recipes()
            # Another process may have built some while we waited for the lock.
            still = [c for c in missing if find(c) is None]
            if still:
                _go_binary(still)  # before any build: the error names everything missing
            for name in dict.fromkeys(recipes[c.binary].name for c in still):
                wanted = [c for c in still if recipes[c.binary].name == name]
                _build(recipes[wanted[0].binary], wanted)
            for component in missing:
                path = find(component)
                if path is None:
                    raise BinaryError(f"{component.binary} is still missing after its build")
                found[component.binary] = path
    return found
