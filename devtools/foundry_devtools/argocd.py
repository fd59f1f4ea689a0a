"""A real Argo CD on loopback, and a git repository for it to sync from.

Argo CD is built from its Go module (``foundry-devcluster build --argocd``) and runs here as
the processes its Kubernetes install runs as pods: the application-controller and the
repo-server, with Redis as their cache. No API server: nothing here needs the web UI or
the gRPC API, and ``argocd admin`` works on the cluster directly. The controller's
in-cluster destination (``https://kubernetes.default.svc``, what the examples name) is the
cluster of the kubeconfig it is given (``ARGOCD_FAKE_IN_CLUSTER``, Argo CD's own switch
for running outside a pod); other clusters are registered as cluster Secrets, the way
``argocd cluster add`` does.

Installation follows a user's steps: Argo CD's CRDs and configuration objects from the
same module's ``manifests/``, then the project's ``examples/argocd/argocd-cm.yaml`` merged
into ``argocd-cm`` with ``kubectl patch --type merge``.

The repository is a bare git repository served by ``git daemon`` on 127.0.0.1, with a
working clone the caller commits to.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from .devcluster import binaries, hostdeps, versions
from .kubewait import wait_established

NAMESPACE = "argocd"
# The in-cluster destination every example Application names.
IN_CLUSTER = "https://kubernetes.default.svc"
# Argo CD's configuration objects, as its install.yaml creates them.
_CONFIG_OBJECTS = (
    "argocd-cm",
    "argocd-cmd-params-cm",
    "argocd-gpg-keys-cm",
    "argocd-rbac-cm",
    "argocd-ssh-known-hosts-cm",
    "argocd-tls-certs-cm",
    "argocd-secret",
)
_CRDS = ("application-crd.yaml", "appproject-crd.yaml")


class ArgoCDError(RuntimeError):
    """Argo CD could not be set up or did not come up; the message says where to look."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def module_dir() -> Path:
    """The argo-cd module's source as the build downloaded it (its manifests/ live there)."""
    path = (
        binaries.cache_root()
        / "go"
        / "mod"
        / "github.com"
        / "argoproj"
        / "argo-cd"
        / f"v3@v{versions.ARGOCD_VERSION}"
    )
    if not (path / "manifests" / "crds").is_dir():
        raise ArgoCDError(f"{path} has no manifests/crds: build Argo CD first")
    return path


def _wait_http(url: str, deadline: float, what: str, log: Path) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
    raise ArgoCDError(f"{what} did not answer {url} in time; {log}:\n{tail}")


@dataclass
class _Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]

    def stop(self, grace: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class GitServer:
    """A bare repository served read-only by ``git daemon``, and a clone to commit from."""

    root: Path
    name: str = "gitops"
    port: int = 0
    _daemon: _Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"git://127.0.0.1:{self.port}/{self.name}.git"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        env = dict(
            os.environ,
            GIT_AUTHOR_NAME="gitops test",
            GIT_AUTHOR_EMAIL="gitops@example.invalid",
            GIT_COMMITTER_NAME="gitops test",
            GIT_COMMITTER_EMAIL="gitops@example.invalid",
        )
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd or self.work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ArgoCDError(f"git {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
        return proc.stdout.strip()

    def start(self) -> None:
        bare = self.root / "repos" / f"{self.name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        if not bare.exists():
            self._git("init", "--bare", "--initial-branch=main", str(bare), cwd=self.root)
        if not self.work.exists():
            self._git("clone", str(bare), str(self.work), cwd=self.root)
            self._git("checkout", "-B", "main")
            (self.work / "README").write_text("GitOps test repository\n")
            self._git("add", "-A")
            self._git("commit", "-m", "start")
            self._git("push", "origin", "main")
        self.port = _free_port()
        log_path = self.root / "git-daemon.log"
        log = log_path.open("ab")
        proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={bare.parent}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(bare.parent),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._daemon = _Process("git-daemon", proc, log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["git", "ls-remote", self.url], capture_output=True, text=True, check=False
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise ArgoCDError(f"git daemon did not serve {self.url}; see {log_path}")

    def commit(self, files: Mapping[str, str | None], message: str) -> str:
        """Write (text) or delete (None) files of the working clone, commit and push; the
        new commit's SHA."""
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                if path.exists():
                    self._git("rm", "-q", "-r", rel)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            self._git("add", rel)
        self._git("commit", "-q", "--allow-empty", "-m", message)
        self._git("push", "-q", "origin", "main")
        return self._git("rev-parse", "HEAD")

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop(grace=5)
            self._daemon = None


class LocalArgoCD:
    """Argo CD's application-controller and repo-server (and Redis) on loopback."""

    def __init__(
        self,
        root: Path,
        *,
        kubeconfig: Path,
        kubectl: Path,
        helm: Path,
        argocd_cm_patch: Path,
        reconciliation_seconds: int = 10,
    ) -> None:
        self.root = root
        self.kubeconfig = kubeconfig
        self.kubectl_bin = kubectl
        # The repo-server renders Helm charts by running helm from PATH.
        self.helm_bin = helm
        self.argocd_cm_patch = argocd_cm_patch
        self.reconciliation_seconds = reconciliation_seconds
        self.binary: Path | None = None
        self.redis_port = 0
        self.repo_port = 0
        self._procs: list[_Process] = []

    # --- kubectl ------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        path = [str(self.kubectl_bin.parent), str(self.helm_bin.parent)]
        if self.binary is not None:
            path.insert(0, str(self.binary.parent))
        env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
        return env

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.kubectl_bin), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ArgoCDError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
        return proc

    def argocd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The ``argocd`` CLI, pointed at this cluster's Argo CD namespace."""
        if self.binary is None:
            raise ArgoCDError("Argo CD is not started")
        proc = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ArgoCDError(f"argocd {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
        return proc

    # --- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        hostdeps.ensure(hostdeps.ARGOCD, "the local Argo CD")
        self.binary = binaries.ensure((versions.ARGOCD,))["argocd"]
        self.root.mkdir(parents=True, exist_ok=True)
        self.install()
        deadline = time.monotonic() + timeout
        self._start_redis(deadline)
        self._start_repo_server(deadline)
        self._start_controller(deadline)

    def install(self) -> None:
        """CRDs, the argocd namespace, Argo CD's configuration objects, the default project,
        and the project's argocd-cm keys merged in the way examples/argocd/README.md says."""
        crds = module_dir() / "manifests" / "crds"
        for name in _CRDS:
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crds / name))
        wait_established(
            ["applications.argoproj.io", "appprojects.argoproj.io"],
            self.env,
            kubectl=str(self.kubectl_bin),
        )
        if self.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0:
            self.kubectl("create", "namespace", NAMESPACE)
        install = (module_dir() / "manifests" / "install.yaml").read_text()
        config = [
            doc
            for doc in yaml.safe_load_all(install)
            if doc
            and doc.get("kind") in ("ConfigMap", "Secret")
            and doc["metadata"]["name"] in _CONFIG_OBJECTS
        ]
        self.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump_all(config))
        # A short reconciliation period: the tests also ask for a refresh after each commit,
        # this bounds what a missed one costs.
        self.kubectl(
            "patch",
            "configmap",
            "argocd-cm",
            "-n",
            NAMESPACE,
            "--type",
            "merge",
            "-p",
            json.dumps({"data": {"timeout.reconciliation": f"{self.reconciliation_seconds}s"}}),
        )
        self.kubectl(
            "patch",
            "configmap",
            "argocd-cm",
            "-n",
            NAMESPACE,
            "--type",
            "merge",
            "--patch-file",
            str(self.argocd_cm_patch),
        )
        # Argo CD's API server creates the default project on its first start; without an
        # API server it is created here, as permissive as that one.
        project = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": NAMESPACE},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(project))

    def unregister_cluster(self, name: str) -> None:
        self.kubectl("delete", "secret", f"cluster-{name}", "-n", NAMESPACE, check=False)

    def register_cluster(self, name: str, kubeconfig: Path) -> str:
        """Register another cluster as a destination (a cluster Secret, as ``argocd cluster
        add`` writes it); its server URL, for Applications to name."""
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]

        def data(inline: str, file_key: str, section: Mapping[str, Any]) -> str:
            if section.get(inline):
                return str(section[inline])
            return base64.b64encode(Path(section[file_key]).read_bytes()).decode()

        tls = {
            "caData": data("certificate-authority-data", "certificate-authority", cluster),
            "certData": data("client-certificate-data", "client-certificate", user),
            "keyData": data("client-key-data", "client-key", user),
        }
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": f"cluster-{name}",
                "namespace": NAMESPACE,
                "labels": {"argocd.argoproj.io/secret-type": "cluster"},
            },
            "stringData": {
                "name": name,
                "server": cluster["server"],
                "config": json.dumps({"tlsClientConfig": tls}),
            },
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(secret))
        return str(cluster["server"])

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> Path:
        log_path = self.root / f"{name}.log"
        log = log_path.open("ab")
        proc = subprocess.Popen(
            args,
            cwd=self.root,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._procs.append(_Process(name, proc, log))
        return log_path

    def _argocd_env(self, component: str) -> dict[str, str]:
        env = self.env
        # One binary serves every component: it picks one by the name it runs as, or by this.
        env["ARGOCD_BINARY_NAME"] = component
        env["ARGOCD_FAKE_IN_CLUSTER"] = "true"
        env["ARGOCD_GPG_ENABLED"] = "false"
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        env["HOME"] = str(home)
        tmp = self.root / "tmp"
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
        return env

    def _start_redis(self, deadline: float) -> None:
        self.redis_port = _free_port()
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        log = self._spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data),
            ],
            os.environ,
        )
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise ArgoCDError(f"redis did not start; see {log}")

    def _start_repo_server(self, deadline: float) -> None:
        assert self.binary is not None
        self.repo_port = _free_port()
        metrics = _free_port()
        log = self._spawn(
            "repo-server",
            [
                str(self.binary),
                "--address",
                "127.0.0.1",
                "--port",
                str(self.repo_port),
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(metrics),
                "--disable-tls",
                "--redis",
                f"127.0.0.1:{self.redis_port}",
                "--logformat",
                "text",
            ],
            self._argocd_env("argocd-repo-server"),
        )
        _wait_http(f"http://127.0.0.1:{metrics}/healthz", deadline, "the repo-server", log)

    def _start_controller(self, deadline: float) -> None:
        assert self.binary is not None
        metrics = _free_port()
        log = self._spawn(
            "application-controller",
            [
                str(self.binary),
                "--kubeconfig",
                str(self.kubeconfig),
                "--namespace",
                NAMESPACE,
                "--repo-server",
                f"127.0.0.1:{self.repo_port}",
                "--repo-server-plaintext",
                "--redis",
                f"127.0.0.1:{self.redis_port}",
                "--metrics-port",
                str(metrics),
                "--status-processors",
                "4",
                "--operation-processors",
                "4",
                # Keep each resource's health and message in the Application's status, where
                # kubectl (and the tests) read it; without it only the API server has them.
                "--persist-resource-health",
                "--self-heal-timeout-seconds",
                "1",
                "--logformat",
                "text",
            ],
            self._argocd_env("argocd-application-controller"),
        )
        _wait_http(f"http://127.0.0.1:{metrics}/healthz", deadline, "the controller", log)

    def logs(self, component: str, lines: int = 40) -> str:
        path = self.root / f"{component}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
