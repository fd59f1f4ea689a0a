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

from foundry_devtools.devcluster import binaries, image, node, versions
from foundry_devtools.devcluster.cluster import DevCluster
from foundry_devtools.emulator.process import EmulatorProcess
from support import KubeEnv

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "foundry-agent-operator"
CA_MOUNT = "/etc/foundry-emulator"


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
        """The emulator's managed-identity settings and CA, as a pod on the node sees them:
        every address is the bridge gateway, which DNATs onto the emulator's loopback ports."""
        env = self.emulator.env
        values = {
            "IDENTITY_ENDPOINT": env["IDENTITY_ENDPOINT"].replace("127.0.0.1", self.gateway),
            "IDENTITY_HEADER": env["IDENTITY_HEADER"],
            "AZURE_TOKEN_CREDENTIALS": env["AZURE_TOKEN_CREDENTIALS"],
            "SSL_CERT_FILE": f"{CA_MOUNT}/ca.pem",
            "REQUESTS_CA_BUNDLE": f"{CA_MOUNT}/ca.pem",
        }
        args = [f"--from-literal={k}={v}" for k, v in values.items()]
        self.kubectl("create", "secret", "generic", "emulator-identity", "-n", namespace, *args)
        self.kubectl(
            "create",
            "configmap",
            "emulator-ca",
            "-n",
            namespace,
            f"--from-file=ca.pem={self.emulator.ca_file}",
        )

    def chart_values(self) -> list[str]:
        """helm --set arguments: the loaded image and the emulator, reached from the pod."""
        repository, tag = self.image.rsplit(":", 1)
        registry, repository = repository.split("/", 1)
        endpoint = self.emulator.endpoint.replace("127.0.0.1", self.gateway)
        return [
            "--set", f"image.registry={registry}",
            "--set", f"image.repository={repository}",
            "--set", f"image.tag={tag}",
            "--set", "image.pullPolicy=Never",
            "--set", f"operator.projectEndpoint={endpoint}",
            "--set", "azure.credentialsSecret=emulator-identity",
            "--set", "extraVolumes[0].name=emulator-ca",
            "--set", "extraVolumes[0].configMap.name=emulator-ca",
            "--set", "extraVolumeMounts[0].name=emulator-ca",
            "--set", f"extraVolumeMounts[0].mountPath={CA_MOUNT}",
            "--set", "extraVolumeMounts[0].readOnly=true",
        ]  # fmt: skip


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
