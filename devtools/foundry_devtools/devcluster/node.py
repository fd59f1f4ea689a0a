"""One real node for the devcluster: controllers, scheduler, kubelet, containerd, CNI.

``foundry-devcluster start --node`` adds, to etcd and kube-apiserver, the processes a
cluster needs to run pods and to finish what the API only records:

- kube-controller-manager (ReplicaSets, ServiceAccounts, namespace deletion, garbage
  collection, EndpointSlices) and kube-scheduler, each with its own client certificate;
- containerd (the host's, from Debian) with runc and the host's CNI plugins, in its own
  directories and socket, so it never meets another containerd on the machine;
- the kubelet (cgroup v1 is accepted with ``failCgroupV1: false``), node ``devcluster-node``.

Networking stays on this machine. Pods sit on a bridge of their own (``fdc<id>``, a /24 out
of 10.244.0.0/16) that routes nowhere: iptables drops whatever a pod sends off the bridge,
and everything it sends to the host except the forwarded ports. Every server keeps
listening on 127.0.0.1 only; pods reach the few that they need through DNAT onto loopback
(``route_localnet`` on the bridge):

- ``10.0.0.1:443`` (the ``kubernetes`` Service a pod's in-cluster config uses) goes to the
  API server;
- ``GATEWAY:PORT`` (the bridge's address) goes to ``127.0.0.1:PORT`` for each port given
  to :meth:`Node.forward` (``foundry-devcluster forward``), such as the Foundry emulator's.

The node's address is the gateway too (the kubelet refuses a loopback one); the API server
reaches the kubelet's loopback port through one more DNAT rule, for ``kubectl logs``.

``stop`` deletes the pods first (the kubelet still running, so containers stop and the pod
sandboxes are torn down through CNI), then stops the processes, and finally sweeps
whatever a crash may have left: processes in the node's cgroups, containerd shims, mounts
and network namespaces under the node's directories, the bridge and the iptables chains.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import hostdeps, pause, pki

CONTAINERD = "containerd"
KUBELET = "kubelet"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
# Start order; stop goes the other way round.
COMPONENTS = (CONTAINERD, CONTROLLER_MANAGER, SCHEDULER, KUBELET)

NODE_NAME = pki.NODE_NAME
# The first address of the API server's --service-cluster-ip-range: the `kubernetes` Service.
KUBERNETES_SERVICE_IP = "10.0.0.1"
_POD_NETWORKS = ipaddress.ip_network("10.244.0.0/16")
_RUN_ROOT = Path("/run/foundry-devcluster")
K8S_NAMESPACE = "k8s.io"  # the containerd namespace the CRI plugin uses


class NodeError(RuntimeError):
    """The node could not start or stop; the message says what to look at."""


def unavailable_reason() -> str | None:
    """Why this machine cannot run a node at all, or None when it can (packages that are
    merely missing do not count: they are installed or named when the node starts)."""
    if os.uname().sysname != "Linux":
        return f"a node needs Linux (this is {os.uname().sysname})"
    if os.geteuid() != 0:
        return "a node needs root (mounts, cgroups, network namespaces, iptables)"
    if not any(Path("/sys/fs/cgroup").glob("*")):
        return "no cgroup filesystem is mounted under /sys/fs/cgroup"
    try:
        filesystems = Path("/proc/filesystems").read_text()
    except OSError:
        return "cannot read /proc/filesystems"
    if "overlay" not in filesystems:
        return "the kernel has no overlay filesystem (containerd's snapshotter needs it)"
    return None


@dataclass
class NodeState:
    """What a node keeps across restarts, in cluster.json under "node"."""

    slot: int  # the pod subnet is 10.244.<slot>.0/24
    kubelet_port: int
    kubelet_healthz_port: int
    controller_manager_port: int
    scheduler_port: int
    forwarded: list[int] = field(default_factory=list)

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.244.{self.slot}.0/24")

    @property
    def gateway(self) -> str:
        return str(self.subnet.network_address + 1)


def _run(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NodeError(f"`{' '.join(args)}` failed: {(proc.stderr or proc.stdout).strip()}")
    return proc


def _used_subnets() -> list[ipaddress.IPv4Network]:
    out = _run(["ip", "-j", "-4", "route", "show", "table", "all"], check=False).stdout
    found = []
    for route in json.loads(out or "[]"):
        dst = route.get("dst", "")
        with contextlib.suppress(ValueError):
            if dst and dst != "default":
                found.append(ipaddress.IPv4Network(dst, strict=False))
    return found


def free_slot() -> int:
    used = [n for n in _used_subnets() if n.overlaps(_POD_NETWORKS)]
    for slot in range(256):
        subnet = ipaddress.IPv4Network(f"10.244.{slot}.0/24")
        if not any(subnet.overlaps(u) for u in used):
            return slot
    raise NodeError("no free /24 left in 10.244.0.0/16 for a pod network")


def _cgroup_mounts() -> list[tuple[Path, str]]:
    """(mount point, kind) of each cgroup hierarchy: 'v1' or 'v2'."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fstype = after.split()[0] if after else ""
        if fstype in ("cgroup", "cgroup2"):
            found.append((Path(before.split()[4]), "v1" if fstype == "cgroup" else "v2"))
    return found


def _mounts_under(prefixes: list[Path]) -> list[Path]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(line.split()[4].replace("\\040", " "))
        if any(point == p or p in point.parents for p in prefixes):
            found.append(point)
    return found


def _pids_of_cgroup(directory: Path) -> set[int]:
    pids: set[int] = set()
    if not directory.is_dir():
        return pids
    for procs in directory.rglob("cgroup.procs"):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(p) for p in procs.read_text().split())
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Node:
    """The node of one devcluster directory (see the module docstring)."""

    def __init__(self, root: Path, cluster_pki: pki.Pki) -> None:
        self.root = root
        self.dir = root / "node"
        self.pki = cluster_pki
        self.id = hashlib.sha256(str(root).encode()).hexdigest()[:8]
        self.run_dir = _RUN_ROOT / self.id
        self.socket = self.run_dir / "containerd.sock"
        self.bridge = f"fdc{self.id}"
        self.cgroup_root = f"/foundry-devcluster-{self.id}"
        self._chain = f"FDC-{self.id}"

    # --- configuration files ---------------------------------------------------------

    def _kubeconfig(self, name: str, server: str) -> Path:
        cert, key = self.pki.client(name)
        path = self.dir / f"{name}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "devcluster",
                    "cluster": {
                        "server": server,
                        "certificate-authority": str(self.pki.serving_ca),
                    },
                }
            ],
            "users": [
                {"name": name, "user": {"client-certificate": str(cert), "client-key": str(key)}}
            ],
            "contexts": [{"name": name, "context": {"cluster": "devcluster", "user": name}}],
            "current-context": name,
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    def _containerd_config(self) -> Path:
        root = self.dir / "containerd"
        root.mkdir(parents=True, exist_ok=True)
        cni = self.dir / "cni"
        runc = shutil.which("runc") or "runc"
        runc_state = self.run_dir / "runc"  # not /run/containerd/runc, shared with others
        text = f"""\
# Written by foundry-devcluster: this node's own containerd, in its own directories.
version = 2
root = "{root / "root"}"
state = "{self.run_dir / "containerd"}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{self.socket}"

[ttrpc]
  address = "{self.socket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "opt"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause.REFERENCE}"
  # Network namespaces under the state directory, not /run/netns: stop finds its own.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  disable_hugetlb_controller = true
  # Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which a container host
  # (this machine is one) may not have: never ask for less than containerd's own.
  restrict_oom_score_adj = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        Root = "{runc_state}"
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{hostdeps.CNI_BIN_DIR}"
    conf_dir = "{cni}"
    max_conf_num = 1
"""
        path = self.dir / "containerd.toml"
        path.write_text(text)
        return path

    def _cni_config(self, state: NodeState) -> None:
        cni = self.dir / "cni"
        cni.mkdir(parents=True, exist_ok=True)
        config = {
            "cniVersion": "0.4.0",
            "name": f"foundry-devcluster-{self.id}",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": True,
                    # Nothing is masqueraded: pod traffic never leaves the machine.
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(self.dir / "ipam"),
                        "ranges": [[{"subnet": str(state.subnet), "gateway": state.gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                }
            ],
        }
        (cni / "10-devcluster.conflist").write_text(json.dumps(config, indent=2))

    def _kubelet_config(self, state: NodeState) -> Path:
        cert, key = self.pki.kubelet_serving
        config: dict[str, Any] = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            # Kubernetes 1.35+ refuses cgroup v1 unless told otherwise; this machine has v1.
            "failCgroupV1": False,
            # Debian's containerd 1.6 cannot report its cgroup driver (no RuntimeConfig
            # RPC): the kubelet falls back to this one, which containerd uses too.
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroup_root,
            "cgroupsPerQOS": True,
            "enforceNodeAllocatable": ["pods"],
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "address": "127.0.0.1",
            "port": state.kubelet_port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": state.kubelet_healthz_port,
            "tlsCertFile": str(cert),
            "tlsPrivateKeyFile": str(key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.pki.client_ca)},
            },
            "authorization": {"mode": "Webhook"},
            "podLogsDir": str(self.dir / "pod-logs"),
            # Pods get no name servers: nothing in-cluster resolves names, and pod traffic
            # stays on the bridge.
            "resolvConf": "",
            "failSwapOn": False,
            "serializeImagePulls": False,
            # Images here cannot be pulled again (no registry): never garbage-collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 90,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%"},
            "maxPods": 50,
            "shutdownGracePeriod": "0s",
            "containerLogMaxSize": "10Mi",
        }
        path = self.dir / "kubelet.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # --- command lines ---------------------------------------------------------------

    def args(
        self, component: str, state: NodeState, server: str, paths: dict[str, Path]
    ) -> list[str]:
        if component == CONTAINERD:
            return [
                shutil.which("containerd") or "containerd",
                "--config",
                str(self._containerd_config()),
            ]
        if component == CONTROLLER_MANAGER:
            return [
                str(paths[CONTROLLER_MANAGER]),
                f"--kubeconfig={self._kubeconfig(CONTROLLER_MANAGER, server)}",
                "--bind-address=127.0.0.1",
                f"--secure-port={state.controller_manager_port}",
                f"--cert-dir={self.dir / 'kcm-certs'}",
                "--leader-elect=false",
                # As kubeadm does: each controller acts as its own ServiceAccount.
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={self.pki.sa_key}",
                # Published as kube-root-ca.crt in every namespace: pods verify the API with it.
                f"--root-ca-file={self.pki.serving_ca}",
                "--allocate-node-cidrs=false",
                "--profiling=false",
                "--v=1",
            ]
        if component == SCHEDULER:
            return [
                str(paths[SCHEDULER]),
                f"--kubeconfig={self._kubeconfig(SCHEDULER, server)}",
                "--bind-address=127.0.0.1",
                f"--secure-port={state.scheduler_port}",
                "--leader-elect=false",
                "--profiling=false",
                "--v=1",
            ]
        if component == KUBELET:
            return [
                str(paths[KUBELET]),
                f"--config={self._kubelet_config(state)}",
                f"--kubeconfig={self._kubeconfig(KUBELET, server)}",
                f"--root-dir={self.dir / 'kubelet'}",
                f"--cert-dir={self.dir / 'kubelet-certs'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={state.gateway}",
                "--v=1",
            ]
        raise ValueError(component)

    # --- host preparation --------------------------------------------------------------

    def prepare_host(self, state: NodeState, apiserver_port: int) -> None:
        """Bridge, iptables and cgroups: idempotent, and undone by :meth:`sweep`."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("cni", "ipam", "pod-logs", "kubelet", "kubelet-certs", "kcm-certs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self._cni_config(state)
        if _run(["ip", "link", "show", self.bridge], check=False).returncode != 0:
            _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        _run(["ip", "addr", "replace", f"{state.gateway}/24", "dev", self.bridge])
        _run(["ip", "link", "set", self.bridge, "up"])
        Path(f"/proc/sys/net/ipv4/conf/{self.bridge}/route_localnet").write_text("1\n")
        self._iptables(state, apiserver_port)
        for mount, kind in _cgroup_mounts():
            directory = mount / self.cgroup_root.lstrip("/")
            directory.mkdir(exist_ok=True)
            if kind == "v1" and (mount / "cpuset.cpus").exists():
                # A new cpuset starts empty: give it the parent's CPUs and memory nodes.
                for name in ("cpuset.cpus", "cpuset.mems"):
                    if not (directory / name).read_text().strip():
                        (directory / name).write_text((mount / name).read_text())

    def _iptables(self, state: NodeState, apiserver_port: int) -> None:
        """Our own chains, rebuilt from scratch, each behind one jump rule."""
        self._remove_iptables()
        nat_pre, nat_out = f"{self._chain}-PRE", f"{self._chain}-OUT"
        flt_in, flt_fwd = f"{self._chain}-IN", f"{self._chain}-FWD"
        rules: list[list[str]] = [
            ["-t", "nat", "-N", nat_pre],
            ["-t", "nat", "-N", nat_out],
            ["-N", flt_in],
            ["-N", flt_fwd],
            # pod -> the `kubernetes` Service -> the API server on loopback
            [
                "-t",
                "nat",
                "-A",
                nat_pre,
                "-d",
                KUBERNETES_SERVICE_IP,
                "-p",
                "tcp",
                "--dport",
                "443",
                "-j",
                "DNAT",
                "--to-destination",
                f"127.0.0.1:{apiserver_port}",
            ],
            # the API server (on this host) -> the kubelet's loopback port
            [
                "-t",
                "nat",
                "-A",
                nat_out,
                "-d",
                state.gateway,
                "-p",
                "tcp",
                "--dport",
                str(state.kubelet_port),
                "-j",
                "DNAT",
                "--to-destination",
                f"127.0.0.1:{state.kubelet_port}",
            ],
            # pod -> host: only what was forwarded (DNAT-ed) and replies
            [
                "-A",
                flt_in,
                "-m",
                "conntrack",
                "--ctstate",
                "ESTABLISHED,RELATED,DNAT",
                "-j",
                "ACCEPT",
            ],
            ["-A", flt_in, "-j", "DROP"],
            # pod -> anywhere off the bridge: never
            ["-A", flt_fwd, "!", "-o", self.bridge, "-j", "DROP"],
            ["-t", "nat", "-I", "PREROUTING", "-i", self.bridge, "-j", nat_pre],
            ["-t", "nat", "-I", "OUTPUT", "-d", state.gateway, "-j", nat_out],
            ["-I", "INPUT", "-i", self.bridge, "-j", flt_in],
            ["-I", "FORWARD", "-i", self.bridge, "-j", flt_fwd],
        ]
        for port in state.forwarded:
            rules.insert(
                4,
                [
                    "-t",
                    "nat",
                    "-A",
                    nat_pre,
                    "-d",
                    state.gateway,
                    "-p",
                    "tcp",
                    "--dport",
                    str(port),
                    "-j",
                    "DNAT",
                    "--to-destination",
                    f"127.0.0.1:{port}",
                ],
            )
        for rule in rules:
            _run(["iptables", "-w", *rule])

    def _remove_iptables(self) -> None:
        for table, parent, chain in (
            ("nat", "PREROUTING", f"{self._chain}-PRE"),
            ("nat", "OUTPUT", f"{self._chain}-OUT"),
            ("filter", "INPUT", f"{self._chain}-IN"),
            ("filter", "FORWARD", f"{self._chain}-FWD"),
        ):
            listing = _run(["iptables", "-w", "-t", table, "-S", parent], check=False).stdout
            for line in listing.splitlines():
                if line.startswith("-A ") and f"-j {chain}" in line:
                    _run(["iptables", "-w", "-t", table, "-D", *line.split()[1:]], check=False)
            _run(["iptables", "-w", "-t", table, "-F", chain], check=False)
            _run(["iptables", "-w", "-t", table, "-X", chain], check=False)

    def add_forward(self, state: NodeState, port: int, apiserver_port: int) -> None:
        if port not in state.forwarded:
            state.forwarded.append(port)
        self._iptables(state, apiserver_port)

    # --- containerd --------------------------------------------------------------------

    def ctr(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", K8S_NAMESPACE, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise NodeError(f"ctr {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def containerd_ready(self) -> bool:
        if not self.socket.exists():
            return False
        return self.ctr("version", check=False, timeout=10).returncode == 0

    def images(self) -> set[str]:
        return set(self.ctr("images", "list", "--quiet").stdout.split())

    def load_image(self, archive: Path, reference: str) -> None:
        """Import an OCI archive into the node's containerd, for the kubelet's CRI."""
        self.ctr("images", "import", str(archive))
        if reference not in self.images():
            raise NodeError(f"{archive} was imported but {reference} is not among the images")

    def ensure_pause_image(self) -> None:
        if pause.REFERENCE not in self.images():
            self.load_image(pause.ensure(), pause.REFERENCE)

    # --- stop and sweep ------------------------------------------------------------------

    def delete_pods(self, server: str, context: ssl.SSLContext, deadline: float) -> None:
        """Delete every pod on this node while the kubelet still runs, and wait for them."""

        def request(method: str, path: str) -> Any:
            req = urllib.request.Request(server + path, method=method)
            with urllib.request.urlopen(req, timeout=10, context=context) as resp:
                return json.loads(resp.read() or b"{}")

        selector = urllib.parse.quote(f"spec.nodeName={NODE_NAME}")
        path = f"/api/v1/pods?fieldSelector={selector}"
        try:
            for pod in request("GET", path)["items"]:
                meta = pod["metadata"]
                with contextlib.suppress(urllib.error.HTTPError):
                    request(
                        "DELETE",
                        f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
                        "?gracePeriodSeconds=10",
                    )
            while time.monotonic() < deadline:
                if not request("GET", path)["items"]:
                    return
                time.sleep(0.5)
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            return  # the API is gone: the sweep cleans up instead

    def sweep(self) -> list[str]:
        """Remove whatever this node left on the host; return what was found."""
        found: list[str] = []
        # 1. Pod processes: everything in the node's cgroups.
        cgroup_dirs = [m / self.cgroup_root.lstrip("/") for m, _ in _cgroup_mounts()]
        for _ in range(50):
            pids = set().union(*(_pids_of_cgroup(d) for d in cgroup_dirs))
            if not pids:
                break
            found.append(f"{len(pids)} pod process(es)")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        # 2. containerd shims of this node's socket (they outlive containerd by design).
        marker = f"-address {self.socket}"
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and marker in _cmdline(int(proc.name)):
                found.append(f"shim {proc.name}")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)
        # 3. Mounts: container root filesystems, network namespaces, volumes, the kubelet's
        # own bind mount of its root directory. Deepest first.
        for point in sorted(_mounts_under([self.dir, self.run_dir]), key=lambda p: -len(p.parts)):
            found.append(f"mount {point}")
            _run(["umount", "--lazy", str(point)], check=False)
        # 4. Network: the bridge and the iptables chains.
        if _run(["ip", "link", "show", self.bridge], check=False).returncode == 0:
            found.append(f"bridge {self.bridge}")
            _run(["ip", "link", "delete", self.bridge], check=False)
        self._remove_iptables()
        # 5. cgroups, leaves first.
        for directory in cgroup_dirs:
            if directory.is_dir():
                for sub in sorted(directory.rglob("*"), key=lambda p: -len(p.parts)):
                    if sub.is_dir():
                        with contextlib.suppress(OSError):
                            sub.rmdir()
                with contextlib.suppress(OSError):
                    directory.rmdir()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            _RUN_ROOT.rmdir()  # only when no other node uses it
        return found

    def leftovers(self) -> list[str]:
        """What of this node is still on the host (for tests and `status`)."""
        left = [f"mount {p}" for p in _mounts_under([self.dir, self.run_dir])]
        if _run(["ip", "link", "show", self.bridge], check=False).returncode == 0:
            left.append(f"bridge {self.bridge}")
        for mount, _ in _cgroup_mounts():
            if (mount / self.cgroup_root.lstrip("/")).exists():
                left.append(f"cgroup {mount / self.cgroup_root.lstrip('/')}")
        rules = _run(["iptables-save"], check=False).stdout
        if self._chain in rules:
            left.append(f"iptables chains {self._chain}-*")
        return left


def wait_until(predicate: Callable[[], bool], deadline: float, interval: float = 0.25) -> bool:
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
