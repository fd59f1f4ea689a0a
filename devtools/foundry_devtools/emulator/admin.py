"""A small typed client of the emulator's admin API (``/_emulator``), for tests and tools.

Synchronous on purpose (standard library only): admin calls go to loopback and take about a
millisecond, so async tests can call them directly or through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

FaultKindName = Literal["latency", "status", "drop", "apply_then_status"]
FailureModeName = Literal["failed_version", "http_error", "not_answering"]
VersionStatusName = Literal["creating", "active", "failed"]


class AdminError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"emulator admin API answered HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Stats:
    """Request counts: ``operations[operation][status] -> n`` (status as a string)."""

    since: float
    total: int
    operations: dict[str, dict[str, int]]
    faults_fired: dict[str, int]
    # Requests with a method other than GET/HEAD: anything that may change state.
    writes: int = 0

    def count(self, operation: str, status: int | str | None = None) -> int:
        by_status = self.operations.get(operation, {})
        if status is None:
            return sum(by_status.values())
        return by_status.get(str(status), 0)


class AdminClient:
    def __init__(
        self,
        admin_url: str,
        *,
        token: str | None = None,
        ca_file: str | Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        # No proxies: the emulator is on loopback, and a corporate HTTP(S)_PROXY in the
        # environment must not capture admin calls.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )

    @classmethod
    def from_state_dir(cls, state_dir: str | Path, *, token: str | None = None) -> AdminClient:
        """Connect to the emulator whose ``emulator.json`` is in ``state_dir``."""
        info = json.loads((Path(state_dir) / "emulator.json").read_text(encoding="utf-8"))
        return cls(str(info["admin_url"]), token=token, ca_file=info.get("ca_file"))

    # ---------------------------------------------------------------- general

    def health(self) -> dict[str, Any]:
        return self._object("GET", "/health")

    def stats(self) -> Stats:
        raw = self._object("GET", "/stats")
        return Stats(
            since=float(raw["since"]),
            total=int(raw["total"]),
            operations={
                op: {str(k): int(v) for k, v in by.items()} for op, by in raw["operations"].items()
            },
            faults_fired={str(k): int(v) for k, v in raw.get("faults_fired", {}).items()},
            writes=int(raw.get("writes", 0)),
        )

    def reset(self, *, state: bool = True, stats: bool = True, faults: bool = False) -> None:
        self._call("POST", "/reset", {"state": state, "stats": stats, "faults": faults})

    def config(self) -> dict[str, Any]:
        return self._object("GET", "/config")

    def patch_config(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Change runtime settings, e.g. ``{"lifecycle": {"provisioning_seconds": 0}}``."""
        return self._object("PATCH", "/config", dict(patch))

    def set_provisioning_delay(self, seconds: float) -> None:
        self.patch_config({"lifecycle": {"provisioning_seconds": seconds}})

    def reject_unknown_fields(self, on: bool = True) -> None:
        """The strict rule: refuse hosted definitions and agent_endpoint PATCHes that carry a
        field the SDK's models do not have (400 ``unknown_field``, ``param`` naming it)."""
        self.patch_config({"validation": {"reject_unknown_fields": on}})

    def state(self, project: str | None = None) -> dict[str, Any]:
        """Everything one project holds (the default project unless ``project`` is named)."""
        query = "?" + urllib.parse.urlencode({"project": project}) if project else ""
        return self._object("GET", f"/state{query}")

    def requests(
        self, *, operation: str | None = None, agent: str | None = None
    ) -> list[dict[str, Any]]:
        """The latest create_version and update_details requests as sent, oldest first:
        ``{"seq", "operation", "agent", "body", "status"}`` each."""
        query = urllib.parse.urlencode(
            {k: v for k, v in (("operation", operation), ("agent", agent)) if v is not None}
        )
        return self._list("GET", "/requests" + (f"?{query}" if query else ""))

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def token(self, resource: str | None = None, *, client_id: str | None = None) -> str:
        """A token for ``resource``, issued to ``client_id`` when named (what a project's
        principals list checks)."""
        body: dict[str, Any] = {"resource": resource} if resource else {}
        if client_id is not None:
            body["client_id"] = client_id
        return str(self._object("POST", "/token", body)["access_token"])

    # ----------------------------------------------------------------- faults

    def add_fault(
        self,
        kind: FaultKindName,
        *,
        rate: float = 1.0,
        operations: Iterable[str] = (),
        count: int | None = None,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        status: int = 503,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
        fault_id: str | None = None,
    ) -> str:
        """Add a fault rule and return its id. ``operations`` empty = every project call."""
        body: dict[str, Any] = {
            "kind": kind,
            "rate": rate,
            "operations": list(operations),
            "count": count,
            "latency_ms": latency_ms,
            "jitter_ms": jitter_ms,
            "status": status,
            "retry_after": retry_after,
            "code": code,
            "message": message,
            "id": fault_id,
        }
        return str(self._object("POST", "/faults", body)["id"])

    def inject_latency(
        self,
        latency_ms: float,
        *,
        jitter_ms: float = 0.0,
        operations: Iterable[str] = (),
        rate: float = 1.0,
        count: int | None = None,
    ) -> str:
        return self.add_fault(
            "latency",
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            operations=operations,
            rate=rate,
            count=count,
        )

    def inject_status(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        operations: Iterable[str] = (),
        rate: float = 1.0,
        count: int | None = None,
        code: str | None = None,
    ) -> str:
        return self.add_fault(
            "status",
            status=status,
            retry_after=retry_after,
            operations=operations,
            rate=rate,
            count=count,
            code=code,
        )

    def inject_throttling(
        self,
        *,
        retry_after: float = 1.0,
        operations: Iterable[str] = (),
        rate: float = 1.0,
        count: int | None = None,
    ) -> str:
        """429 ``rate_limit_exceeded`` with ``Retry-After``."""
        return self.inject_status(
            429, retry_after=retry_after, operations=operations, rate=rate, count=count
        )

    def inject_drop(
        self, *, operations: Iterable[str] = (), rate: float = 1.0, count: int | None = None
    ) -> str:
        return self.add_fault("drop", operations=operations, rate=rate, count=count)

    def faults(self) -> list[dict[str, Any]]:
        return self._list("GET", "/faults")

    def remove_fault(self, fault_id: str) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # --------------------------------------------------------- failure rules

    def add_failure_rule(
        self,
        code: str,
        *,
        match: str | None = None,
        regex: str | None = None,
        env_match: Mapping[str, str] | None = None,
        env_missing: Iterable[str] | None = None,
        message: str | None = None,
        mode: FailureModeName = "failed_version",
        http_status: int | None = None,
        delay_seconds: float | None = None,
        stderr: Iterable[str] | None = None,
        rule_id: str | None = None,
    ) -> str:
        """Add a rule ahead of the others; return its id.

        ``match`` is a glob over the image, ``env_match`` globs over environment values,
        ``env_missing`` names of which one must be unset. Left out, ``message``,
        ``http_status`` and ``stderr`` take the mode's defaults (400 for ``http_error``; 424,
        the session_not_ready text and a traceback for ``not_answering``).
        """
        body: dict[str, Any] = {
            "code": code,
            "match": match,
            "regex": regex,
            "mode": mode,
            "delay_seconds": delay_seconds,
            "id": rule_id,
        }
        if env_match is not None:
            body["env_match"] = dict(env_match)
        if env_missing is not None:
            body["env_missing"] = list(env_missing)
        if message is not None:
            body["message"] = message
        if http_status is not None:
            body["http_status"] = http_status
        if stderr is not None:
            body["stderr"] = list(stderr)
        return str(self._object("POST", "/failure-rules", body)["id"])

    def failure_rules(self) -> list[dict[str, Any]]:
        return self._list("GET", "/failure-rules")

    def set_failure_rules(self, rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace the whole list, defaults included."""
        return self._list("PUT", "/failure-rules", [dict(r) for r in rules])

    def remove_failure_rule(self, rule_id: str) -> None:
        self._call("DELETE", f"/failure-rules/{rule_id}")

    # --------------------------------------------------------------- versions

    def set_version_status(
        self,
        agent_name: str,
        version: str,
        status: VersionStatusName,
        error: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Force a version's status now, e.g. to fail an active version."""
        body: dict[str, Any] = {"status": status}
        if error is not None:
            body["error"] = dict(error)
        return self._object("POST", f"/agents/{agent_name}/versions/{version}/status", body)

    # --------------------------------------------------------------- plumbing

    def _object(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        result = self._call(method, path, body)
        if not isinstance(result, dict):
            raise AdminError(200, f"expected a JSON object, got {result!r}")
        return result

    def _list(self, method: str, path: str, body: Any = None) -> list[dict[str, Any]]:
        data = self._object(method, path, body).get("data")
        if not isinstance(data, list):
            raise AdminError(200, "expected {'data': [...]}")
        return data

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.admin_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None
