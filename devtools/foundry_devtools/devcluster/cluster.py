"""Start and stop etcd + kube-apiserver on loopback (and, with ``--node``, a node), as
background processes.

A cluster lives in one directory::

    DIR/kubeconfig        admin user (group system:masters), https://127.0.0.1:PORT
    DIR/cluster.json      ports and binary paths, so a restart keeps the same address
    DIR/bin/              kubectl, helm and (once built) argocd: links into the cache, for PATH
    DIR/pki/              certificates and keys (see pki.py)
    DIR/etcd-data/        etcd's data: a stop/start keeps every object
    DIR/logs/*.log        each process's output
    DIR/pids/*.pid        what ``stop`` stops, and nothing else
    DIR/node/             with ``--node``: containerd, kubelet, CNI (see node.py)

Without ``--node`` no controllers run: namespaces never finish deleting, Deployments never
get Pods and there is no garbage collector; tests and the demo plan for that. A directory
started once with ``--node`` is a node cluster from then on (its API server is configured
for one), so a later plain ``start`` brings its node back too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from . import binaries, hostdeps, pause, pki, versions
from .node import (
    CONTAINERD,
    CONTROLLER_MANAGER,
    KUBELET,
    NODE_NAME,
    SCHEDULER,
    Node,
    NodeState,
    free_slot,
)

ETCD = "etcd"
APISERVER = "kube-apiserver"
_COMPONENTS = (ETCD, APISERVER)


class ClusterError(RuntimeError):
    """The cluster did not start or stop; the message points at the log to read."""


@dataclass
class _State:
    etcd_client_port: int
    etcd_peer_port: int
    apiserver_port: int
    binaries: dict[str, str]
    node: dict[str, Any] | None = None

    @property
    def node_state(self) -> NodeState | None:
        return NodeState(**self.node) if self.node is not None else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As Go's listeners do: a port left in TIME_WAIT by our own stopped server is free
        # for the restarted one, which keeps clients' kubeconfigs valid across a restart.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    """True for a running process; a zombie (our own exited child) counts as dead."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and has exited
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class DevCluster:
    """One local control plane, identified by its directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.pki = pki.Pki(self.root / "pki")
        self.logs = self.root / "logs"
        self.pids = self.root / "pids"
        self.bin = self.root / "bin"
        self.kubeconfig = self.root / "kubeconfig"
        self._state_file = self.root / "cluster.json"
        # Processes this object spawned. Right after fork the child's command line is still
        # Python's, so liveness during start-up is judged by the Popen, not by /proc.
        self._spawned: dict[str, subprocess.Popen[bytes]] = {}
        self.node = Node(self.root, self.pki)

    # --- process bookkeeping ------------------------------------------------------------

    def _pid_file(self, component: str) -> Path:
        return self.pids / f"{component}.pid"

    def pid(self, component: str) -> int | None:
        """The pid of a component this directory started, if it is still running."""
        try:
            pid = int(self._pid_file(component).read_text().strip())
        except (OSError, ValueError):
            return None
        # The directory is on the command line of both processes: a recycled pid that
        # belongs to something else is never taken for ours.
        if _alive(pid) and str(self.root) in _cmdline(pid):
            return pid
        return None

    def components(self) -> tuple[str, ...]:
        """What this directory runs: the control plane, plus the node's processes."""
        state = self._load_state()
        node = (CONTAINERD, CONTROLLER_MANAGER, SCHEDULER, KUBELET)
        return _COMPONENTS + (node if state is not None and state.node is not None else ())

    def running(self) -> bool:
        return all(self.pid(c) is not None for c in self.components())

    @property
    def has_node(self) -> bool:
        state = self._load_state()
        return state is not None and state.node is not None

    node_name = NODE_NAME

    @property
    def pod_subnet(self) -> str:
        state = self._load_state()
        node = state.node_state if state else None
        if node is None:
            raise ClusterError(f"{self.root} has no node")
        return str(node.subnet)

    @property
    def gateway(self) -> str:
        """Where pods reach the host's forwarded loopback ports (see :meth:`forward`)."""
        state = self._load_state()
        node = state.node_state if state else None
        if node is None:
            raise ClusterError(f"{self.root} has no node")
        return node.gateway

    def _load_state(self) -> _State | None:
        try:
            return _State(**json.loads(self._state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    @property
    def apiserver_url(self) -> str:
        state = self._load_state()
        if state is None:
            raise ClusterError(f"no cluster in {self.root}: run `foundry-devcluster start` first")
        return f"https://127.0.0.1:{state.apiserver_port}"

    # --- start --------------------------------------------------------------------------

    def start(self, timeout: float = 90.0, *, node: bool = False) -> None:
        """Start whatever is not running yet and return once /readyz says ok (and, for a
        node, once the Node is Ready)."""
        previous = self._load_state()
        with_node = node or (previous is not None and previous.node is not None)
        if with_node:
            hostdeps.ensure(hostdeps.NODE, "a devcluster node")
        paths = binaries.ensure(versions.ALL + (versions.NODE if with_node else ()))
        if with_node:
            pause.ensure()
        for d in (self.root, self.logs, self.pids, self.bin):
            d.mkdir(parents=True, exist_ok=True)
        self.link_tools({"kubectl": paths["kubectl"], "helm": paths["helm"]})
        if not self.pki.complete():
            pki.generate(self.pki)

        state = self._load_state()
        etcd_running = self.pid(ETCD) is not None
        apiserver_running = self.pid(APISERVER) is not None
        if state is None:
            state = _State(_free_port(), _free_port(), _free_port(), {})
        else:
            # Keep the old address when we can, so clients holding the kubeconfig reconnect.
            if not etcd_running:
                if not _port_free(state.etcd_client_port):
                    state.etcd_client_port = _free_port()
                if not _port_free(state.etcd_peer_port):
                    state.etcd_peer_port = _free_port()
            if not apiserver_running and not _port_free(state.apiserver_port):
                state.apiserver_port = _free_port()
        if with_node and state.node is None:
            if apiserver_running:
                # Its flags were set for a cluster without a node: start it again with them.
                self.stop((APISERVER,))
                apiserver_running = False
            state.node = asdict(
                NodeState(free_slot(), _free_port(), _free_port(), _free_port(), _free_port())
            )
        state.binaries = {k: str(v) for k, v in paths.items()}
        self._state_file.write_text(json.dumps(asdict(state), indent=2))
        self._write_kubeconfig(state)

        deadline = time.monotonic() + timeout
        if not etcd_running:
            self._spawn(ETCD, self._etcd_args(state, paths[ETCD]))
            self._wait(ETCD, deadline, self._etcd_healthy, state)
        node_state = state.node_state
        if node_state is not None and not pki.node_complete(self.pki, node_state.gateway):
            pki.generate_node(self.pki, node_state.gateway)
        if not apiserver_running:
            self._spawn(APISERVER, self._apiserver_args(state, paths[APISERVER]))
        self._wait(APISERVER, deadline, self._apiserver_ready, state)
        if node_state is not None:
            # A node takes longer than a control plane: its own budget on top.
            self._start_node(state, node_state, paths, time.monotonic() + max(timeout, 120.0))

    def _start_node(
        self, state: _State, node: NodeState, paths: dict[str, Path], deadline: float
    ) -> None:
        server = f"https://127.0.0.1:{state.apiserver_port}"
        self.node.prepare_host(node, state.apiserver_port)
        if self.pid(CONTAINERD) is None:
            self._spawn(CONTAINERD, self.node.args(CONTAINERD, node, server, paths))
        self._wait(CONTAINERD, deadline, lambda _: self.node.containerd_ready(), state)
        self.node.ensure_pause_image()
        probes = {
            CONTROLLER_MANAGER: f"https://127.0.0.1:{node.controller_manager_port}/healthz",
            SCHEDULER: f"https://127.0.0.1:{node.scheduler_port}/healthz",
            KUBELET: f"http://127.0.0.1:{node.kubelet_healthz_port}/healthz",
        }
        for component in (CONTROLLER_MANAGER, SCHEDULER, KUBELET):
            if self.pid(component) is None:
                self._spawn(component, self.node.args(component, node, server, paths))
        for component, url in probes.items():
            self._wait(component, deadline, lambda _, u=url: _healthy(u), state)  # type: ignore[misc]
        self._wait(KUBELET, deadline, lambda _: self._node_ready(state), state)

    def _etcd_args(self, state: _State, binary: Path) -> list[str]:
        client = f"http://127.0.0.1:{state.etcd_client_port}"
        peer = f"http://127.0.0.1:{state.etcd_peer_port}"
        return [
            str(binary),
            "--name=devcluster",
            f"--data-dir={self.root / 'etcd-data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=devcluster={peer}",
            # A throwaway local store: durability on power loss is not worth the fsyncs.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_args(self, state: _State, binary: Path) -> list[str]:
        url = f"https://127.0.0.1:{state.apiserver_port}"
        args = [
            str(binary),
            f"--etcd-servers=http://127.0.0.1:{state.etcd_client_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # Endpoints may not point at loopback; nothing in-cluster needs them here.
            "--endpoint-reconciler-type=none",
            f"--secure-port={state.apiserver_port}",
            f"--cert-dir={self.pki.root}",
            f"--tls-cert-file={self.pki.serving_cert}",
            f"--tls-private-key-file={self.pki.serving_key}",
            f"--client-ca-file={self.pki.client_ca}",
            f"--service-account-issuer={url}",
            f"--service-account-key-file={self.pki.sa_pub}",
            f"--service-account-signing-key-file={self.pki.sa_key}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]
        if state.node is None:
            return [
                *args,
                "--authorization-mode=RBAC",
                # No controller-manager creates default ServiceAccounts; without this, every
                # Pod would be refused. PodSecurity admission stays on (the chart is tested
                # with it).
                "--disable-admission-plugins=ServiceAccount",
            ]
        kubelet_cert, kubelet_key = self.pki.client("apiserver-kubelet-client")
        return [
            *args,
            # Kubelets get exactly their own node's objects (Node authorizer, NodeRestriction);
            # pods get their ServiceAccount's token (ServiceAccount admission, on by default).
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--kubelet-client-certificate={kubelet_cert}",
            f"--kubelet-client-key={kubelet_key}",
            "--kubelet-preferred-address-types=InternalIP",
        ]

    def _spawn(self, component: str, args: list[str]) -> None:
        log = (self.logs / f"{component}.log").open("ab")
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            # Its own session: the process outlives the command that started it and does not
            # get the terminal's Ctrl-C.
            start_new_session=True,
        )
        log.close()
        self._spawned[component] = proc
        self._pid_file(component).write_text(f"{proc.pid}\n")

    def _wait(
        self,
        component: str,
        deadline: float,
        probe: Callable[[_State], bool],
        state: _State,
    ) -> None:
        while time.monotonic() < deadline:
            spawned = self._spawned.get(component)
            exited = spawned.poll() is not None if spawned else self.pid(component) is None
            if exited:
                raise ClusterError(
                    f"{component} exited during start-up; last lines of its log:\n"
                    + self._log_tail(component)
                )
            if probe(state):
                return
            time.sleep(0.2)
        raise ClusterError(
            f"{component} was not ready in time; last lines of its log:\n"
            + self._log_tail(component)
        )

    def _log_tail(self, component: str, lines: int = 30) -> str:
        try:
            text = (self.logs / f"{component}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _etcd_healthy(self, state: _State) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{state.etcd_client_port}/health", timeout=2
            ) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.serving_ca))
        ctx.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return ctx

    def _apiserver_ready(self, state: _State) -> bool:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{state.apiserver_port}/readyz",
                timeout=2,
                context=self.ssl_context(),
            ) as resp:
                return bool(resp.read().strip() == b"ok")
        except (OSError, urllib.error.URLError):
            return False

    def _node_ready(self, state: _State) -> bool:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{state.apiserver_port}/api/v1/nodes/{NODE_NAME}",
                timeout=2,
                context=self.ssl_context(),
            ) as resp:
                node = json.loads(resp.read())
        except (OSError, urllib.error.URLError, ValueError):
            return False
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def forward(self, port: int) -> str:
        """Let pods reach ``127.0.0.1:port`` of this host at ``GATEWAY:port``; the gateway."""
        state = self._load_state()
        node = state.node_state if state else None
        if state is None or node is None:
            raise ClusterError(f"{self.root} has no node: start it with --node first")
        self.node.add_forward(node, port, state.apiserver_port)
        state.node = asdict(node)
        self._state_file.write_text(json.dumps(asdict(state), indent=2))
        return node.gateway

    def load_image(self, archive: Path) -> str:
        """Put an OCI archive into the node's containerd; return the image reference."""
        from .image import archive_reference

        if self.pid(CONTAINERD) is None:
            raise ClusterError(f"the node of {self.root} is not running: start it with --node")
        reference = archive_reference(archive)
        self.node.load_image(archive, reference)
        return reference

    def _write_kubeconfig(self, state: _State) -> None:
        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "devcluster",
                    "cluster": {
                        "server": f"https://127.0.0.1:{state.apiserver_port}",
                        "certificate-authority-data": b64(self.pki.serving_ca),
                    },
                }
            ],
            "users": [
                {
                    "name": "devcluster-admin",
                    "user": {
                        "client-certificate-data": b64(self.pki.admin_cert),
                        "client-key-data": b64(self.pki.admin_key),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "devcluster",
                    "context": {
                        "cluster": "devcluster",
                        "user": "devcluster-admin",
                        "namespace": "default",
                    },
                }
            ],
            "current-context": "devcluster",
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.chmod(0o600)
        os.replace(tmp, self.kubeconfig)

    # --- stop ---------------------------------------------------------------------------

    def stop(self, components: tuple[str, ...] | None = None, grace: float = 10.0) -> list[str]:
        """Stop the processes this directory started (node first, then the API server and
        etcd); return their names. With ``components``, only those."""
        stopped: list[str] = []
        if components is None:
            stopped += self._stop_node(grace)
            components = (APISERVER, ETCD)
        for component in components:
            pid = self.pid(component)
            if pid is not None:
                self._terminate(pid, grace)
                stopped.append(component)
            self._pid_file(component).unlink(missing_ok=True)
        return stopped

    def _stop_node(self, grace: float) -> list[str]:
        state = self._load_state()
        if state is None or state.node is None:
            return []
        stopped = self.stop((CONTROLLER_MANAGER, SCHEDULER), grace)
        if self.pid(KUBELET) is not None and self.pid(APISERVER) is not None:
            self.node.delete_pods(
                f"https://127.0.0.1:{state.apiserver_port}",
                self.ssl_context(),
                time.monotonic() + 45,
            )
        stopped += self.stop((KUBELET, CONTAINERD), grace)
        left = self.node.sweep()
        if left:
            stopped.append(f"cleaned up ({', '.join(left[:5])}{', ...' if len(left) > 5 else ''})")
        return stopped

    @staticmethod
    def _terminate(pid: int, grace: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)

    def link_tools(self, tools: dict[str, Path] | None = None) -> None:
        """Put ``tools`` (name -> binary) into DIR/bin, and ``argocd`` when it is built.

        Argo CD is linked only once something built it (``foundry-devcluster build
        --argocd``, or the GitOps tests): starting a cluster never waits on that build.
        """
        wanted = dict(tools or {})
        argocd = binaries.find(versions.ARGOCD)
        if argocd is not None:
            wanted["argocd"] = argocd
        self.bin.mkdir(parents=True, exist_ok=True)
        for name, target in wanted.items():
            link = self.bin / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(target)

    # --- env ----------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """What a shell needs to use this cluster with its own kubectl and helm."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def env_exports(self) -> str:
        return (
            f"export KUBECONFIG={_quote(str(self.kubeconfig))}\n"
            f'export PATH={_quote(str(self.bin))}:"$PATH"\n'
        )


def _healthy(url: str) -> bool:
    # The components' own serving certificates are self-signed: only "is it up" matters.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:
            return bool(resp.read().strip() == b"ok")
    except (OSError, urllib.error.URLError):
        return False


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"
