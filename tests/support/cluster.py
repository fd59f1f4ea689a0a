"""Clusters for tests: the session's control plane, or one of a module's own."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from foundry_devtools.devcluster import binaries, versions
from foundry_devtools.devcluster.cluster import DevCluster
from foundry_devtools.kubewait import wait_established
from support import KubeEnv

REPO = Path(__file__).resolve().parents[2]

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


def kube_env(cluster: DevCluster) -> KubeEnv:
    tools = binaries.ensure((versions.KUBECTL, versions.HELM))
    return KubeEnv(cluster.kubeconfig, tools["kubectl"], tools["helm"])


def own_control_plane(root: Path) -> Iterator[KubeEnv]:
    """A devcluster of its own, for a module whose tests would break the session's (such
    as deleting the CRD); stopped afterwards."""
    cluster = DevCluster(root)
    cluster.start()
    try:
        yield kube_env(cluster)
    finally:
        cluster.stop()


def kubectl_for(kube: KubeEnv) -> Kubectl:
    def run(
        *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(kube.kubectl_bin), *args],
            input=input,
            capture_output=True,
            text=True,
            env=kube.env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
            )
        return proc

    return run


def install_crds(kubectl: Kubectl, kube: KubeEnv) -> None:
    """The project's CRDs, applied and Established."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    wait_established(
        [
            "hostedagents.foundry.agents.dev",
            "foundrytoolboxes.foundry.agents.dev",
            "foundryprojects.foundry.agents.dev",
            "clusterfoundryprojects.foundry.agents.dev",
        ],
        kube.env,
        kubectl=str(kube.kubectl_bin),
    )
