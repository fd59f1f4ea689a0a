"""A devcluster with a node, the operator image loaded into it, and an emulator its pods
can reach: what the node e2e tests share (see test_node_chart.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from foundry_devtools import incluster
from foundry_devtools.devcluster import binaries, image, node, versions
from foundry_devtools.devcluster.cluster import DevCluster
from foundry_devtools.emulator.process import EmulatorProcess
from support import KubeEnv

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "foundry-agent-operator"


@dataclass
class NodeEnv:
    cluster: DevCluster
    kube: KubeEnv
    image: str  # the reference the node's containerd holds
    emulator: EmulatorProcess
    gateway: str

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.kube.kubectl_bin), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.kube.env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
        return proc

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.kube.helm_bin), *args],
            capture_output=True,
            text=True,
            env=self.kube.env,
            timeout=300,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def foundry_state(self) -> dict[str, Any]:
        return self.emulator.admin().state()

    def pod_identity_secret(self, namespace: str) -> None:
        """The emulator's identity settings and CA, as a pod on the node reaches them."""
        objects = incluster.emulator_objects(
            self.emulator.env, self.emulator.ca_file, self.gateway, namespace
        )
        self.kubectl("apply", "-f", "-", input=objects)

    def chart_values(self) -> list[str]:
        return incluster.chart_values(self.image, self.emulator.endpoint, self.gateway)


def node_env(tmp: Path) -> Iterator[NodeEnv]:
    """Start everything (skipping only when this machine cannot run a node at all)."""
    reason = node.unavailable_reason()
    if reason:
        pytest.skip(f"no devcluster node on this machine: {reason}")
    cluster = DevCluster(tmp / "node-cluster")
    emulator: EmulatorProcess | None = None
    try:
        cluster.start(node=True)
        built = image.build(REPO, REPO / "dist")
        cluster.load_image(built.archive)
        emulator = EmulatorProcess.start(
            tmp / "node-emulator",
            config={"lifecycle": {"provisioning_seconds": 0.5}},
            extra_args=["--tls-name", cluster.gateway],
        )
        for port in (emulator.port, emulator.identity_port):
            cluster.forward(port)
        tools = binaries.ensure((versions.KUBECTL, versions.HELM))
        kube = KubeEnv(cluster.kubeconfig, tools["kubectl"], tools["helm"])
        yield NodeEnv(cluster, kube, built.reference, emulator, cluster.gateway)
    finally:
        if emulator is not None:
            emulator.stop()
        cluster.stop()
