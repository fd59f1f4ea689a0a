"""The pieces every benchmark and resilience scenario shares.

A :class:`Stack` is a devcluster, a Foundry emulator with the requested latency,
provisioning delay and fault rates, the CRDs, and the operator as a separate process (the
way it runs in a pod), by default with the interpreter of a virtualenv that holds only what
the image holds (bench/operator_venv.py). :class:`Fleet` creates, updates and deletes N
HostedAgents through the Kubernetes API and records when each one became Ready, from a
watch.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import urllib3
from kubernetes.client import ApiClient, Configuration, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from kubernetes.config import load_kube_config
from prometheus_client.parser import text_string_to_metric_families

from .deps import (
    GROUP,
    PLURAL,
    VERSION,
    AdminClient,
    DevCluster,
    EmulatorProcess,
    OperatorProcess,
    crds_dir,
    wait_established,
)
from .operator_venv import OperatorPython, OperatorVenvError, resolve

WRITES = ("create_version", "update_details", "delete_version", "delete_agent")
# Verbs as apiserver_request_total spells them: a server-side apply is APPLY, not PATCH.
KUBE_WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
# What the operator writes to Kubernetes per HostedAgent, (API group, resource): the object
# (finalizer), its status subresource, and Events in either API.
KUBE_WRITTEN = frozenset({(GROUP, PLURAL), ("", "events"), ("events.k8s.io", "events")})
REPO = Path(__file__).resolve().parent.parent
IMAGE = "benchregistry.azurecr.io/agents/bench"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Params:
    agents: int = 100
    latency_ms: float = 50.0
    provisioning_seconds: float = 2.0
    throttle_rate: float = 0.0  # share of project calls answered 429 + Retry-After: 1
    error_rate: float = 0.0  # share answered 503
    concurrency: int = 16  # the operator's cap on concurrent Foundry calls
    resync_seconds: float = 60.0
    quiet_seconds: float = 60.0
    deadline_seconds: float = 600.0
    baseline_agents: int = 20  # the sequential baseline is timed on this many, then scaled


def kube_client(kubeconfig: Path) -> ApiClient:
    config = Configuration()
    # The kubernetes package types its API classes but not its config loaders.
    load_kube_config(config_file=str(kubeconfig), client_configuration=config)  # type: ignore[no-untyped-call]
    return ApiClient(config)


def items(listing: object) -> list[dict[str, Any]]:
    """The objects of a custom-object list (the client types the answer as ``object``)."""
    if not isinstance(listing, dict):
        raise TypeError(f"expected a list object, got {type(listing).__name__}")
    found: list[dict[str, Any]] = listing["items"]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from /proc/PID/stat."""
    # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of ``pid``'s resident memory (VmHWM); None for a
    zombie, which has no memory left to report."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


class ProcessSampler:
    """Peak RSS (VmHWM) and CPU time of a process, sampled from /proc."""

    def __init__(self) -> None:
        self.peak_rss_mb = 0.0
        self.cpu_seconds = 0.0
        self._pid: int | None = None
        self._stop = threading.Event()
        self._base = 0.0
        threading.Thread(target=self._run, daemon=True).start()

    def follow(self, pid: int | None) -> None:
        """Measure ``pid`` from now on; CPU of earlier processes is kept (a SIGKILL
        scenario restarts the operator several times)."""
        self._sample()
        self._base = self.cpu_seconds
        self._pid = pid

    def _sample(self) -> None:
        pid = self._pid
        if pid is None:
            return
        try:
            rss = peak_rss_mb(pid)
            if rss is None:  # a zombie after SIGKILL: nothing left to measure
                return
            cpu = cpu_seconds(pid)
        except OSError:
            return
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        self.cpu_seconds = self._base + cpu

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def stop(self) -> None:
        self._sample()
        self._stop.set()


# Variables that would let the operator's interpreter import from elsewhere than its own
# site-packages (a source tree on PYTHONPATH, another prefix, a user site).
IMPORT_PATH_VARS = frozenset({"PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONSTARTUP"})
# The image's environment for the interpreter (the Dockerfile's ENV), so that the figures
# are a pod's. glibc gives each thread its own malloc arena; Python's worker threads then
# hold memory they no longer use: two arenas, as the image sets.
IMAGE_ENV = {"MALLOC_ARENA_MAX": "2", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
# Where an interpreter finds foundry_operator, without importing it (nor kopf).
WHERE_IS_THE_OPERATOR = (
    "import importlib.util as u; s = u.find_spec('foundry_operator'); print(s and s.origin)"
)


class BenchOperatorProcess(OperatorProcess):
    """:class:`OperatorProcess` run by a given interpreter, from a directory with nothing
    importable in it and without the variables that add to ``sys.path``: the operator then
    comes from that interpreter's site-packages and from nowhere else.

    The start is done here, not in devtools, because a worktree's benchmark often runs with
    another checkout's dev virtualenv, whose (editable) devtools are that checkout's."""

    def __init__(
        self,
        log_file: Path,
        *,
        python: Path,
        cwd: Path,
        kubeconfig: Path,
        foundry_env: dict[str, str],
        args: list[str],
    ) -> None:
        super().__init__(
            log_file,
            kubeconfig=kubeconfig,
            foundry_env=foundry_env,
            args=args,
            extra_env=IMAGE_ENV,
        )
        self.python = python
        self.cwd = cwd

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in IMPORT_PATH_VARS}
        env.update(self.foundry_env)
        env.update(self.extra_env)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env.setdefault("FOUNDRY_OPERATOR_LOG_FORMAT", "json")
        return env

    def start(self) -> None:
        if self.running():
            return
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file: IO[bytes] = self.log_file.open("ab")
        # The base class's bookkeeping, which stop(), kill() and the log readers use.
        self._log = log_file
        self._started_at_offset = log_file.tell()
        self._proc = subprocess.Popen(
            [str(self.python), "-m", "foundry_operator.cli", "run", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=self.environment(),
            start_new_session=True,
        )

    def imported_package(self) -> Path:
        """The directory of the foundry_operator package this interpreter would run, with
        the environment and working directory the operator gets."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            [str(self.python), "-c", WHERE_IS_THE_OPERATOR],
            cwd=self.cwd,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        origin = out.stdout.strip()
        if out.returncode != 0 or origin in ("", "None"):
            raise OperatorVenvError(
                f"{self.python} cannot find foundry_operator (exit {out.returncode}): "
                f"{out.stderr.strip()[-2000:] or origin}"
            )
        return Path(origin).parent


@dataclass
class Stack:
    root: Path
    params: Params
    interpreter: OperatorPython
    cluster: DevCluster = field(init=False)
    emulator: EmulatorProcess = field(init=False)
    operator: BenchOperatorProcess = field(init=False)
    operator_package: Path = field(init=False)  # where the operator's code was imported from
    api: ApiClient = field(init=False)
    sampler: ProcessSampler = field(init=False)

    def start(self) -> None:
        p = self.params
        self.root.mkdir(parents=True, exist_ok=True)
        log("starting the control plane")
        self.cluster = DevCluster(self.root / "cluster")
        self.cluster.start()
        log("starting the emulator")
        faults: list[dict[str, Any]] = []
        if p.latency_ms:
            faults.append({"kind": "latency", "latency_ms": p.latency_ms})
        if p.throttle_rate:
            faults.append(
                {"kind": "status", "status": 429, "retry_after": 1, "rate": p.throttle_rate}
            )
        if p.error_rate:
            faults.append({"kind": "status", "status": 503, "rate": p.error_rate})
        self.emulator = EmulatorProcess.start(
            self.root / "emulator",
            config={
                "lifecycle": {"provisioning_seconds": p.provisioning_seconds},
                "faults": faults,
            },
        )
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crds_dir()))
        wait_established(
            [f"{PLURAL}.{GROUP}", f"foundrytoolboxes.{GROUP}"],
            dict(os.environ, **self.cluster.env()),
        )
        self.api = kube_client(self.cluster.kubeconfig)
        self.operator = BenchOperatorProcess(
            self.root / "operator.log",
            python=self.interpreter.python,
            # Not the repository: nothing there may shadow the installed package.
            cwd=self.root / "operator-cwd",
            kubeconfig=self.cluster.kubeconfig,
            foundry_env=self.emulator.env,
            args=[
                "--max-concurrency",
                str(p.concurrency),
                "--resync-seconds",
                str(p.resync_seconds),
                "--metrics-port",
                str(free_port()),
                "--health-port",
                "0",
            ],
        )
        self.operator_package = self.check_operator_package()
        self.sampler = ProcessSampler()
        self.start_operator()

    def check_operator_package(self) -> Path:
        """Where the operator's interpreter imports foundry_operator from, logged; for the
        bench virtualenv it must be that virtualenv (the installed wheel), not a source
        tree."""
        package = self.operator.imported_package()
        log(f"operator: {self.interpreter.python} runs foundry_operator from {package}")
        venv = self.interpreter.venv
        if venv is not None and not package.resolve().is_relative_to(venv.resolve()):
            raise OperatorVenvError(
                f"the operator would import foundry_operator from {package}, not from the "
                f"bench virtualenv {venv}: something puts a source tree on its sys.path"
            )
        return package

    def start_operator(self) -> None:
        self.operator.start()
        self.sampler.follow(self.operator.pid)
        self.operator.wait_until_logged("Initial authentication has finished", timeout=60)

    def admin(self) -> AdminClient:
        return self.emulator.admin()

    def kubectl(self, *args: str) -> str:
        env = dict(os.environ, **self.cluster.env())
        out = subprocess.run(
            ["kubectl", *args], env=env, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out.stdout

    def stop(self) -> None:
        for step in (
            lambda: self.sampler.stop(),
            lambda: self.operator.stop(),
            lambda: self.emulator.stop(),
            lambda: self.api.close(),  # type: ignore[no-untyped-call]
            lambda: self.cluster.stop(),
        ):
            try:
                step()
            except Exception as exc:  # tear down as much as possible
                log(f"teardown step failed: {exc}")


@contextmanager
def running_stack(
    root: Path, params: Params, operator_python: Path | None = None
) -> Iterator[Stack]:
    """A started :class:`Stack`, stopped on the way out. The operator runs with
    ``operator_python`` if given (or $BENCH_OPERATOR_PYTHON), else with the bench
    virtualenv's interpreter, which is built first if the operator's sources changed."""
    # Before anything starts, so that a failed pip install leaves nothing to tear down.
    interpreter = resolve(REPO, operator_python, log)
    stack = Stack(root, params, interpreter)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def foundry_counts(admin: AdminClient) -> tuple[int, int]:
    """(all project calls, writes) since the last stats reset."""
    stats = admin.stats()
    total = stats.total - stats.count("token")
    return total, sum(stats.count(op) for op in WRITES)


def foundry_calls_by_operation(admin: AdminClient) -> dict[str, int]:
    """Project calls since the last stats reset, by the emulator's operation name (token
    requests left out), most frequent first: what a calls-per-agent figure is made of."""
    counts = {
        op: sum(by_status.values())
        for op, by_status in admin.stats().operations.items()
        if op != "token"
    }
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def kube_writes(api: ApiClient) -> Counter[str]:
    """Writes the API server has served since it started, for the resources in
    KUBE_WRITTEN, by ``[group/]resource[/subresource]``; from its own
    ``apiserver_request_total``. The client must be allowed to GET /metrics (the devcluster's
    admin is in system:masters). Take the difference of two scrapes."""
    response = api.call_api("GET", f"{api.configuration.host}/metrics")
    if response.status != 200:
        raise RuntimeError(f"GET /metrics answered HTTP {response.status}")
    text = response.read().decode()  # type: ignore[no-untyped-call]
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            group, resource = labels.get("group", ""), labels.get("resource", "")
            if sample.name != "apiserver_request_total" or (group, resource) not in KUBE_WRITTEN:
                continue
            if labels.get("verb") not in KUBE_WRITE_VERBS:
                continue
            subresource = labels.get("subresource", "")
            key = f"{resource}/{subresource}" if subresource else resource
            if group == "events.k8s.io":  # core Events stay plain "events"
                key = f"{group}/{key}"
            counts[key] += int(sample.value)
    return counts


def run_peer(
    env: dict[str, str], agents: int, concurrency: int, prefix: str = "peer"
) -> dict[str, Any]:
    """bench/peer.py for ``agents`` agents in a process of its own, so that its CPU time and
    memory are its own; ``env`` points DefaultAzureCredential at the emulator. Its figures."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.peer",
            "--agents",
            str(agents),
            "--concurrency",
            str(concurrency),
            "--prefix",
            prefix,
        ],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = out.stdout.strip().splitlines()
    if not lines:  # 1 with a JSON line means some agents failed: the figures tell which
        raise RuntimeError(f"bench.peer exited {out.returncode}: {out.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def versions_per_agent(admin: AdminClient, prefix: str = "") -> dict[str, int]:
    """Live versions per agent, as Foundry (the emulator) holds them."""
    return {
        agent["name"]: len(agent.get("all_versions", []))
        for agent in admin.state().get("agents", [])
        if agent["name"].startswith(prefix)
    }


class Fleet:
    """N HostedAgents in one namespace, and when each became Ready for a generation."""

    def __init__(self, stack: Stack, count: int, namespace: str = "bench") -> None:
        self.stack = stack
        self.count = count
        self.namespace = namespace
        self.names = [f"agent-{i:04d}" for i in range(count)]
        self.api = CustomObjectsApi(stack.api)
        self.ready_at: dict[int, dict[str, float]] = {}  # generation -> name -> time
        self._lock = threading.Lock()
        self._stop = threading.Event()
        stack.kubectl("create", "namespace", namespace)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        """Note when each object is first seen Ready for a generation, from a watch read as
        plain JSON lines. The recorder must cost next to nothing: it shares two cores with
        the operator it measures. Listing a thousand objects every half second (as this
        did before) took seconds of the API server's and this process's CPU per list and
        recorded readiness in steps of its period; the kubernetes package's Watch helper
        falls behind a thousand objects changing at once."""
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    listed = self.api.list_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, PLURAL
                    )
                    for obj in items(listed):
                        self._record(obj)
                    version = str(listed["metadata"]["resourceVersion"])  # type: ignore[index]
                version = self._follow(version)
            except Exception:  # the apiserver may restart in a scenario: list again
                version = None
                self._stop.wait(0.5)

    def _follow(self, version: str) -> str | None:
        """One watch from ``version``; the version to go on from (None: list again)."""
        # Unparsed, the client hands back urllib3's response, which iterates by lines.
        response = self.api.list_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=60,
            _preload_content=False,
        )
        assert isinstance(response, urllib3.BaseHTTPResponse)
        try:
            for line in response:
                if self._stop.is_set():
                    return version
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    return None  # 410 Gone: the version is too old to watch from
                version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                if event.get("type") in ("ADDED", "MODIFIED"):
                    self._record(obj)
        finally:
            response.release_conn()
        return version

    def _record(self, obj: dict[str, Any]) -> None:
        status = obj.get("status") or {}
        generation = obj["metadata"].get("generation", 1)
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions", [])
        )
        if ready and status.get("observedGeneration") == generation:
            with self._lock:
                self.ready_at.setdefault(generation, {}).setdefault(
                    obj["metadata"]["name"], time.monotonic()
                )

    def _parallel(self, fn: Callable[[str], None]) -> None:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(fn, self.names))

    def create(self, tag: str = "1") -> float:
        started = time.monotonic()

        def create_one(name: str) -> None:
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "HostedAgent",
                "metadata": {"name": name},
                "spec": {"image": f"{IMAGE}:{tag}", "cpu": "0.5", "memory": "1Gi"},
            }
            self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)

        self._parallel(create_one)
        return started

    def update(self, tag: str) -> float:
        started = time.monotonic()

        def patch_one(name: str) -> None:
            self.api.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, {"spec": {"image": f"{IMAGE}:{tag}"}}
            )

        self._parallel(patch_one)
        return started

    def delete(self) -> float:
        started = time.monotonic()

        def delete_one(name: str) -> None:
            try:
                self.api.delete_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, name
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise

        self._parallel(delete_one)
        return started

    def ready_count(self, generation: int) -> int:
        with self._lock:
            return len(self.ready_at.get(generation, {}))

    def wait_ready(self, generation: int, deadline: float) -> bool:
        end = time.monotonic() + deadline
        last_log = 0.0
        while time.monotonic() < end:
            done = self.ready_count(generation)
            if time.monotonic() - last_log > 10:
                log(f"generation {generation}: {done}/{self.count} Ready")
                last_log = time.monotonic()
            if done >= self.count:
                return True
            time.sleep(0.2)
        return False

    def remaining(self) -> int:
        return len(
            items(self.api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL))
        )

    def wait_gone(self, deadline: float) -> bool:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                if self.remaining() == 0:
                    return True
            except Exception:
                pass
            time.sleep(0.5)
        return False

    def durations(self, generation: int, since: float) -> list[float]:
        with self._lock:
            return sorted(t - since for t in self.ready_at.get(generation, {}).values())

    def close(self) -> None:
        self._stop.set()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=False)
