"""The Kubernetes API client for what kopf does not do for us (env values, the ref watch)."""

from __future__ import annotations

import os

from kubernetes.client import ApiClient, Configuration
from kubernetes.config import load_incluster_config, load_kube_config


def api_client() -> ApiClient:
    """In a pod: the ServiceAccount. Elsewhere: $KUBECONFIG (or ~/.kube/config)."""
    config = Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
    else:
        load_kube_config(client_configuration=config)  # type: ignore[no-untyped-call]
    return ApiClient(config)
