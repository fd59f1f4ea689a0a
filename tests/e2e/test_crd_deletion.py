"""Deleting the HostedAgent CRD while agents exist: the deletions run, the CRD goes, and no
Foundry version is left behind (never a CRD stuck Terminating).

Deleting the CRD would break every other test of the session's cluster (whatever other
tests left there blocks the deletion, and a terminating CRD refuses new objects), so this
module has a control plane of its own: ``kube``, ``kubectl`` and ``crd_installed`` are
overridden here, and every fixture built on them (``namespace``) follows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from support import KubeEnv, wait_for
from support.cluster import Kubectl, install_crds, kubectl_for, own_control_plane
from support.hagent import IMAGE, manifest, unique, wait_ready

REPO = Path(__file__).resolve().parents[2]
CRD = "crd/hostedagents.foundry.agents.dev"


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeEnv]:
    yield from own_control_plane(tmp_path_factory.mktemp("crd-cluster"))


@pytest.fixture(scope="module")
def kubectl(kube: KubeEnv) -> Kubectl:
    return kubectl_for(kube)


@pytest.fixture(scope="module")
def crd_installed(kubectl: Kubectl, kube: KubeEnv) -> None:
    install_crds(kubectl, kube)


@pytest.fixture
def crds_back(kubectl: Any, crd_installed: None) -> Iterator[None]:
    yield
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", CRD)


@pytest.fixture
def cluster_operator(
    kube: KubeEnv, emulator: EmulatorProcess, crd_installed: None, tmp_path: Path
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        tmp_path / "operator.log",
        kubeconfig=kube.kubeconfig,
        foundry_env=emulator.env,
        args=["--metrics-port", "0", "--health-port", "0"],
    )
    proc.start()
    proc.wait_until_logged("Initial authentication has finished")
    try:
        yield proc
    finally:
        proc.stop()


def test_deleting_the_crd_with_agents_present_deletes_them_and_finishes(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    crds_back: None,
    cluster_operator: OperatorProcess,
) -> None:
    names = [unique("crdgone") for _ in range(3)]
    for name in names:
        kubectl("apply", "-n", namespace, "-f", "-", input=manifest(name, f"{IMAGE}:1"))
    for name in names:
        wait_ready(kubectl, namespace, name)

    kubectl("delete", CRD, "--wait=false")

    wait_for(
        lambda: kubectl("get", CRD, check=False).returncode != 0,
        timeout=90,
        what="the CRD to finish deleting",
    )
    existing = {a["name"] for a in foundry.agents.list()}
    assert not existing & set(names)


def test_an_operator_started_before_its_crd_exits_with_the_reason(
    kubectl: Any, kube: KubeEnv, emulator: EmulatorProcess, crds_back: None, tmp_path: Path
) -> None:
    kubectl("delete", CRD, "--wait=true", "--timeout=60s", timeout=70)
    proc = OperatorProcess(
        tmp_path / "early.log",
        kubeconfig=kube.kubeconfig,
        foundry_env=emulator.env,
        args=["--metrics-port", "0", "--health-port", "0"],
    )
    proc.start()
    try:
        wait_for(lambda: not proc.running(), timeout=60, what="the operator to exit")
        assert "CRD hostedagents.foundry.agents.dev is not installed" in proc.log_since_start()
    finally:
        proc.stop()
