"""The operator as a Pod on a devcluster node, pointed at the Foundry emulator.

Shared by ``foundry-demo --node`` and the node e2e tests. A pod reaches the emulator's
loopback ports at the node's gateway (``DevCluster.forward``), so every emulator address
is rewritten to the gateway, and the emulator's certificate must name it (the emulator's
``--tls-name``). The emulator's managed-identity settings go in a Secret the chart loads
with ``azure.credentialsSecret``; its CA in a ConfigMap mounted with ``extraVolumes``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECRET = "emulator-identity"
CA_CONFIGMAP = "emulator-ca"
CA_MOUNT = "/etc/foundry-emulator"


def pod_address(url: str, gateway: str) -> str:
    return url.replace("127.0.0.1", gateway)


def emulator_objects(
    emulator_env: Mapping[str, str], ca_file: Path, gateway: str, namespace: str
) -> str:
    """The Secret and ConfigMap (a kubectl-apply-able List) the chart's pod needs."""
    values = {
        "IDENTITY_ENDPOINT": pod_address(emulator_env["IDENTITY_ENDPOINT"], gateway),
        "IDENTITY_HEADER": emulator_env["IDENTITY_HEADER"],
        "AZURE_TOKEN_CREDENTIALS": emulator_env["AZURE_TOKEN_CREDENTIALS"],
        "SSL_CERT_FILE": f"{CA_MOUNT}/ca.pem",
        "REQUESTS_CA_BUNDLE": f"{CA_MOUNT}/ca.pem",
    }
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": namespace},
            "stringData": values,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CA_CONFIGMAP, "namespace": namespace},
            "data": {"ca.pem": ca_file.read_text()},
        },
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def chart_values(image: str, endpoint: str, gateway: str) -> list[str]:
    """helm --set arguments: a locally loaded image, and the emulator as the pod sees it."""
    repository, tag = image.rsplit(":", 1)
    registry, repository = repository.split("/", 1)
    return [
        "--set", f"image.registry={registry}",
        "--set", f"image.repository={repository}",
        "--set", f"image.tag={tag}",
        # Loaded into the node's containerd: there is no registry to pull from.
        "--set", "image.pullPolicy=Never",
        "--set", f"operator.projectEndpoint={pod_address(endpoint, gateway)}",
        "--set", f"azure.credentialsSecret={SECRET}",
        "--set", f"extraVolumes[0].name={CA_CONFIGMAP}",
        "--set", f"extraVolumes[0].configMap.name={CA_CONFIGMAP}",
        "--set", f"extraVolumeMounts[0].name={CA_CONFIGMAP}",
        "--set", f"extraVolumeMounts[0].mountPath={CA_MOUNT}",
        "--set", "extraVolumeMounts[0].readOnly=true",
    ]  # fmt: skip
