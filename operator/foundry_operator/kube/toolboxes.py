"""Reading FoundryToolboxes and who uses them, for the two reconcilers that need to know.

A HostedAgent with ``spec.toolbox`` reads its FoundryToolbox's status (the current version
and the Foundry name) at each look: one GET by name, so the MCP URL it pins is always the
toolbox's latest word. A FoundryToolbox being deleted lists the HostedAgents of its
namespace to learn whether one still names it: a LIST rather than an in-memory index, so
that the answer is right even just after an operator restart, before every watch has
delivered its objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.resource import GROUP, PLURAL, TOOLBOX_PLURAL, VERSION
from .api import KubeClient, KubeError


class Toolboxes:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def get(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The FoundryToolbox ``namespace/name``, None when there is none."""
        try:
            return await self._kube.request(
                "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{TOOLBOX_PLURAL}/{name}"
            )
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def users(self, namespace: str, name: str) -> list[str]:
        """HostedAgents of ``namespace`` that name the FoundryToolbox ``name`` and are not
        being deleted themselves, sorted."""
        found: list[str] = []
        query: dict[str, str] = {"limit": "500"}
        while True:
            page = await self._kube.request(
                "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}", query=query
            )
            found += users_in(page.get("items") or [], name)
            cursor = (page.get("metadata") or {}).get("continue")
            if not cursor:
                return sorted(found)
            query = {"limit": "500", "continue": str(cursor)}


def users_in(items: list[Mapping[str, Any]], toolbox: str) -> list[str]:
    """Names of the HostedAgents in ``items`` that use ``toolbox`` (pure, for tests)."""
    out: list[str] = []
    for item in items:
        meta = item.get("metadata") or {}
        ref = (item.get("spec") or {}).get("toolbox") or {}
        if ref.get("name") == toolbox and not meta.get("deletionTimestamp"):
            out.append(str(meta.get("name", "")))
    return out
