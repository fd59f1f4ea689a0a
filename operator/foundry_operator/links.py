"""Which HostedAgents use which FoundryToolbox, learned from the watch events of both.

It only decides who should be looked at again, never what to do: the HostedAgents naming a
toolbox whose current version (or Foundry name) changed, so that they roll out a version
pinned to the new one at once rather than at their next resync; and the toolbox a HostedAgent
stopped naming (changed spec.toolbox, deletion), so that a toolbox deletion held by
``ToolboxInUse`` proceeds at once. Being a hint, it may be incomplete just after a restart
(every object is reconciled then anyway); the decisions themselves read the API server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

Key = tuple[str, str]  # (namespace, name)
_UNSEEN: Final = object()


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _key(body: Mapping[str, Any]) -> Key:
    meta = _meta(body)
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


class ToolboxLinks:
    def __init__(self) -> None:
        self._uses: dict[Key, str] = {}  # HostedAgent -> the FoundryToolbox it names
        self._current: dict[Key, object] = {}  # FoundryToolbox -> its (name, version) seen

    def users(self, namespace: str, toolbox: str) -> list[Key]:
        return sorted(k for k, v in self._uses.items() if k[0] == namespace and v == toolbox)

    def agent_seen(self, event_type: str | None, body: Mapping[str, Any]) -> list[Key]:
        """A HostedAgent's watch event; returns the FoundryToolboxes to look at again."""
        key = _key(body)
        before = self._uses.get(key)
        spec = body.get("spec")
        ref = spec.get("toolbox") if isinstance(spec, Mapping) else None
        named = ref.get("name") if isinstance(ref, Mapping) else None
        gone = event_type == "DELETED" or bool(_meta(body).get("deletionTimestamp"))
        now = str(named) if named and not gone else None
        if now is None:
            self._uses.pop(key, None)
        else:
            self._uses[key] = now
        return [(key[0], before)] if before is not None and before != now else []

    def toolbox_seen(self, event_type: str | None, body: Mapping[str, Any]) -> list[Key]:
        """A FoundryToolbox's watch event; returns the HostedAgents to look at again."""
        key = _key(body)
        if event_type == "DELETED":
            self._current.pop(key, None)
            return self.users(*key)
        status = body.get("status")
        marker: object = (
            (status.get("toolboxName"), status.get("currentVersion"))
            if isinstance(status, Mapping)
            else (None, None)
        )
        before = self._current.get(key, _UNSEEN)
        self._current[key] = marker
        # First sight is a startup or a new toolbox: its users are looked at anyway (startup)
        # or wait for the version it does not have yet.
        if before is _UNSEEN or before == marker:
            return []
        return self.users(*key)


class ProjectLinks:
    """Which HostedAgents name which project (spec.projectRef), learned from their watch
    events, so that a project that changes, becomes Ready, connects or goes wakes them at
    once instead of at their next resync (a hint, like ToolboxLinks)."""

    def __init__(self) -> None:
        self._uses: dict[Key, tuple[str, str, str]] = {}  # HostedAgent -> (kind, ns, name)
        self._seen: dict[tuple[str, str, str], object] = {}

    def agent_seen(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = _key(body)
        spec = body.get("spec")
        ref = spec.get("projectRef") if isinstance(spec, Mapping) else None
        if event_type == "DELETED" or not isinstance(ref, Mapping) or not ref.get("name"):
            self._uses.pop(key, None)
            return
        kind = str(ref.get("kind") or "FoundryProject")
        namespace = "" if kind == "ClusterFoundryProject" else str(ref.get("namespace") or key[0])
        self._uses[key] = (kind, namespace, str(ref["name"]))

    def users(self, kind: str, namespace: str, name: str) -> list[Key]:
        return sorted(k for k, v in self._uses.items() if v == (kind, namespace, name))

    def project_seen(
        self, kind: str, event_type: str | None, body: Mapping[str, Any], marker: object
    ) -> list[Key]:
        """A project's watch event; the HostedAgents to look at again when what they
        depend on (``marker``: generation and Ready) moved, or the project went."""
        namespace, name = _key(body)
        target = (kind, namespace, name)
        if event_type == "DELETED":
            self._seen.pop(target, None)
            return self.users(*target)
        before = self._seen.get(target, _UNSEEN)
        self._seen[target] = marker
        if before is _UNSEEN or before == marker:
            return []
        return self.users(*target)
