"""The devcluster is a real Kubernetes control plane: CRDs, CEL, watch, status subresource."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import watch
from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from support import wait_for

GROUP = "controlplane.test.foundry.agents.dev"
PLURAL = "gadgets"

GADGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "maxReplicas": {"type": "integer"},
                                },
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.replicas <= self.maxReplicas",
                                        "message": "replicas must not exceed maxReplicas",
                                    }
                                ],
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


def gadget(name: str, replicas: int, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gadget",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "maxReplicas": max_replicas},
    }


@pytest.fixture(scope="module")
def gadget_crd(kubectl: Any) -> None:
    kubectl("apply", "-f", "-", input=json.dumps(GADGET_CRD))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{PLURAL}.{GROUP}")


def test_readyz_is_ok(kubectl: Any) -> None:
    assert kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_builtin_api_groups_are_served(kubectl: Any) -> None:
    groups = kubectl("api-resources", "-o", "name").stdout.split()
    for expected in (
        "namespaces",
        "pods",
        "deployments.apps",
        "customresourcedefinitions.apiextensions.k8s.io",
        "roles.rbac.authorization.k8s.io",
        "leases.coordination.k8s.io",
        "events.events.k8s.io",
    ):
        assert expected in groups


@pytest.mark.usefixtures("gadget_crd")
def test_custom_objects_create_get_list_watch(api_client: ApiClient, namespace: str) -> None:
    api = CustomObjectsApi(api_client)
    seen: list[str] = []
    stream = watch.Watch()

    def consume() -> None:
        for event in stream.stream(
            api.list_namespaced_custom_object,
            GROUP,
            "v1",
            namespace,
            PLURAL,
            timeout_seconds=30,
        ):
            seen.append(f"{event['type']}:{event['object']['metadata']['name']}")
            if len(seen) >= 2:
                stream.stop()

    watcher = threading.Thread(target=consume, daemon=True)
    watcher.start()
    for name in ("alpha", "beta"):
        api.create_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, gadget(name, 1, 3))

    got = api.get_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, "alpha")
    assert got["spec"] == {"replicas": 1, "maxReplicas": 3}
    listed = api.list_namespaced_custom_object(GROUP, "v1", namespace, PLURAL)
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["alpha", "beta"]

    watcher.join(timeout=30)
    assert seen == ["ADDED:alpha", "ADDED:beta"]


@pytest.mark.usefixtures("gadget_crd")
def test_cel_rule_rejects_bad_object_through_kubectl_apply(kubectl: Any, namespace: str) -> None:
    bad = kubectl(
        "apply", "-n", namespace, "-f", "-", input=json.dumps(gadget("greedy", 5, 2)), check=False
    )
    assert bad.returncode != 0
    assert "replicas must not exceed maxReplicas" in bad.stderr
    assert "spec" in bad.stderr
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(gadget("modest", 2, 2)))


@pytest.mark.usefixtures("gadget_crd")
def test_status_is_written_only_through_the_status_subresource(
    api_client: ApiClient, namespace: str
) -> None:
    api = CustomObjectsApi(api_client)
    api.create_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, gadget("stat", 1, 1))

    api.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, PLURAL, "stat", {"status": {"phase": "Ready"}}
    )
    # Status sent to the main resource is ignored, as for built-in types.
    api.patch_namespaced_custom_object(
        GROUP, "v1", namespace, PLURAL, "stat", {"status": {"phase": "Hacked"}}
    )
    got = wait_for(
        lambda: api.get_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, "stat"),
        what="the gadget",
    )
    assert got["status"] == {"phase": "Ready"}
    # Writing status does not bump the generation: controllers rely on that.
    assert got["metadata"]["generation"] == 1

    with pytest.raises(ApiException) as err:
        api.patch_namespaced_custom_object_status(
            GROUP, "v1", namespace, PLURAL, "missing", {"status": {"phase": "x"}}
        )
    assert err.value.status == 404
