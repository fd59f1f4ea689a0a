"""The endpoint ConfigMaps (``spec.endpointConfigMap``): read, create, patch, delete.

I/O only; what to write, and whether a ConfigMap is ours to write, is decided in
``reconcile.publish``. Every call is by name in the HostedAgent's own namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..reconcile.publish import ObservedConfigMap, observe_configmap
from .api import MERGE_PATCH, KubeClient, KubeError

FIELD_MANAGER = "foundry-agent-operator"


class ConfigMaps:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    @staticmethod
    def _path(namespace: str, name: str = "") -> str:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        return f"{base}/{name}" if name else base

    async def get(self, namespace: str, name: str) -> ObservedConfigMap | None:
        try:
            body = await self._kube.request("GET", self._path(namespace, name))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return observe_configmap(body)

    async def create(self, namespace: str, body: Mapping[str, Any]) -> None:
        await self._kube.request(
            "POST", self._path(namespace), dict(body), query={"fieldManager": FIELD_MANAGER}
        )

    async def patch(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        await self._kube.request(
            "PATCH",
            self._path(namespace, name),
            dict(patch),
            content_type=MERGE_PATCH,
            query={"fieldManager": FIELD_MANAGER},
        )

    async def delete(self, namespace: str, name: str, uid: str) -> bool:
        """Delete the ConfigMap with this UID (a precondition: one made meanwhile under the
        same name is left alone); False when it was already gone."""
        try:
            await self._kube.request(
                "DELETE",
                self._path(namespace, name),
                {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}},
            )
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True
