"""Shared fixtures: one real control plane per test session, one namespace per test.

The session starts a devcluster (real etcd + kube-apiserver, built from Go modules and
cached) unless the caller points at an existing cluster with ``--kubeconfig PATH`` or
``FOUNDRY_TEST_KUBECONFIG``. A plain ``KUBECONFIG`` in the shell is deliberately ignored:
tests create CRDs and namespaces, and must never land on a cluster by accident.

``FOUNDRY_TEST_CLUSTER_DIR=DIR`` keeps a devcluster running between sessions (faster
local iteration); it is started if needed and left running.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from azure.identity import DefaultAzureCredential
from kubernetes.client import ApiClient
from kubernetes.config import new_client_from_config

from foundry_devtools.argocd import GitServer, LocalArgoCD
from foundry_devtools.devcluster import binaries, versions
from foundry_devtools.devcluster.cluster import DevCluster
from foundry_devtools.devcluster.hostdeps import HostDependencyError
from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from support import TEST_RESYNC_SECONDS, KubeEnv
from support.cluster import Kubectl, install_crds, kube_env, kubectl_for, own_control_plane

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kubeconfig",
        default=os.environ.get("FOUNDRY_TEST_KUBECONFIG"),
        help="run integration tests against this existing cluster instead of a devcluster",
    )


# Under `make test` (two pytest-xdist workers) these modules run in one worker, in this
# order: the session's node cluster serves the app-of-apps test (which needs it empty) and
# then test_node_chart.py (whose last test stops it), and one Argo CD serves them all.
ONE_WORKER = (
    "tests/e2e/test_argocd_app_of_apps.py",
    "tests/e2e/test_node_chart.py",
    "tests/integration/gitops/test_argocd_live.py",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Like ``--dist load``, except that ONE_WORKER goes to a single worker as one unit.
    (xdist's own ``loadgroup`` marks cannot do it with pytest 9: it renames node ids through
    an attribute pytest no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerForTheNode(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "node" if nodeid.split("::", 1)[0] in ONE_WORKER else nodeid

    return OneWorkerForTheNode(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The folder is the tier: tests/unit, tests/integration, tests/e2e.
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def kube(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubeEnv]:
    existing = request.config.getoption("--kubeconfig")
    if existing:
        tools = binaries.ensure((versions.KUBECTL, versions.HELM))
        yield KubeEnv(Path(existing), tools["kubectl"], tools["helm"])
        return
    keep_dir = os.environ.get("FOUNDRY_TEST_CLUSTER_DIR")
    if keep_dir:
        cluster = DevCluster(Path(keep_dir))
        cluster.start()
        yield kube_env(cluster)
        return
    yield from own_control_plane(tmp_path_factory.mktemp("devcluster"))


@pytest.fixture(scope="session")
def kubectl(kube: KubeEnv) -> Kubectl:
    return kubectl_for(kube)


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    base = request.node.name.lower().replace("_", "-")
    base = "".join(c for c in base if c.isalnum() or c == "-")[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    # No namespace controller runs in a devcluster: deletion never completes, so don't wait.
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def crd_installed(kubectl: Kubectl, kube: KubeEnv) -> None:
    install_crds(kubectl, kube)


@pytest.fixture(scope="session")
def api_client(kube: KubeEnv) -> Iterator[ApiClient]:
    api = new_client_from_config(config_file=str(kube.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One Foundry emulator for the session; its env is applied to this process too, so an
    unmodified ``DefaultAzureCredential`` in a test gets tokens from it."""
    emu = EmulatorProcess.start(
        tmp_path_factory.mktemp("emulator"),
        config={"lifecycle": {"provisioning_seconds": 0.5}},
    )
    saved = dict(os.environ)
    emu.apply_env()
    try:
        yield emu
    finally:
        os.environ.clear()
        os.environ.update(saved)
        emu.stop()


@pytest.fixture(scope="session")
def operator_process(
    kube: KubeEnv,
    crd_installed: None,
    emulator: EmulatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """`foundry-operator run` as a separate process, watching all namespaces."""
    proc = OperatorProcess(
        tmp_path_factory.mktemp("operator") / "operator.log",
        kubeconfig=kube.kubeconfig,
        foundry_env=emulator.env,
        # A short resync, so drift and steady-state tests do not wait ten minutes.
        args=[
            "--metrics-port",
            str(free_port()),
            "--health-port",
            "0",
            "--resync-seconds",
            str(TEST_RESYNC_SECONDS),
        ],
    )
    proc.start()
    proc.wait_until_logged("Initial authentication has finished")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def running_operator(
    operator_process: OperatorProcess, emulator: EmulatorProcess
) -> Iterator[OperatorProcess]:
    """The session's operator, started again if an earlier test stopped it, with the
    emulator's runtime settings back at their defaults afterwards."""
    if not operator_process.running():
        operator_process.start()
        operator_process.wait_until_logged("Initial authentication has finished")
    yield operator_process
    admin = emulator.admin()
    admin.set_provisioning_delay(0.5)
    admin.clear_faults()


@pytest.fixture
def no_session_operator(operator_process: OperatorProcess) -> None:
    """Stop the session's operator (watching every namespace) so that only what the test
    runs acts on its objects; ``running_operator`` starts it again for later tests."""
    operator_process.stop()


@pytest.fixture
def dedicated_operator(
    kube: KubeEnv,
    emulator: EmulatorProcess,
    namespace: str,
    no_session_operator: None,
    tmp_path: Path,
) -> Iterator[OperatorProcess]:
    """An operator watching only the test's namespace, with the default resync: its Foundry
    calls are this test's alone (the session operator resyncs every object every few
    seconds, which would blur any count)."""
    proc = OperatorProcess(
        tmp_path / "dedicated-operator.log",
        kubeconfig=kube.kubeconfig,
        foundry_env=emulator.env,
        args=["--namespace", namespace, "--metrics-port", "0", "--health-port", "0"],
    )
    proc.start()
    proc.wait_until_logged("Initial authentication has finished")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def foundry(emulator: EmulatorProcess) -> Iterator[AIProjectClient]:
    """The real SDK pointed at the emulator, to check what Foundry holds."""
    with AIProjectClient(endpoint=emulator.endpoint, credential=DefaultAzureCredential()) as c:
        yield c


@pytest.fixture(scope="session")
def gitops_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    """A git repository on loopback (git daemon) that the GitOps tests commit to."""
    server = GitServer(tmp_path_factory.mktemp("git"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def argocd(
    kube: KubeEnv, crd_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalArgoCD]:
    """One real Argo CD for the session (application-controller, repo-server, Redis), with
    examples/argocd/argocd-cm.yaml merged into its argocd-cm.

    It is built from its Go module on first use (``make test`` builds it first, with
    progress on screen) and cached. On a machine that cannot build or run it (no Go, no
    Redis and no root to install it) its tests skip saying why; under CI that fails instead,
    so a CI run never passes without them.
    """
    argo = LocalArgoCD(
        tmp_path_factory.mktemp("argocd"),
        kubeconfig=kube.kubeconfig,
        kubectl=kube.kubectl_bin,
        helm=kube.helm_bin,
        argocd_cm_patch=REPO / "examples" / "argocd" / "argocd-cm.yaml",
    )
    try:
        argo.start()
    except (binaries.BinaryError, HostDependencyError) as exc:
        argo.stop()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"this machine cannot build or run Argo CD: {exc}")
    try:
        yield argo
    finally:
        argo.stop()
