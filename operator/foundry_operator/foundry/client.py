"""The only code that talks to Foundry: a thin async adapter over azure-ai-projects.

Every call goes through one semaphore (the global cap on concurrent Foundry calls), is
counted and timed for metrics, and turns SDK exceptions into :class:`FoundryError`, which
carries the plain facts (HTTP status, service code, Retry-After) that the pure error
taxonomy in ``reconcile.errors`` classifies. Nothing above this module imports the SDK.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.ai.projects.aio import AIProjectClient
from azure.ai.projects.models import (
    AgentEndpointConfig,
    FixedRatioVersionSelectionRule,
    HostedAgentDefinition,
    ProtocolConfiguration,
    VersionSelector,
)
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from .. import __version__, metrics
from ..reconcile.observed import AgentInfo, VersionInfo

T = TypeVar("T")


@dataclass(frozen=True)
class FoundryError(Exception):
    """A Foundry call failed. ``status`` is None when no HTTP answer came back."""

    operation: str
    status: int | None
    code: str | None
    message: str
    retry_after: float | None = None

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no response"
        code = f" {self.code}" if self.code else ""
        return f"{self.operation}: {where}{code}: {self.message}"


def _retry_after(exc: HttpResponseError) -> float | None:
    headers: Mapping[str, str] = getattr(exc.response, "headers", None) or {}
    for header in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(header)
        if value:
            try:
                return float(value) / 1000.0
            except ValueError:
                pass
    value = headers.get("Retry-After")
    if value:
        try:
            return float(value)
        except ValueError:
            return None  # an HTTP date: rare for this service; our own backoff applies
    return None


def _translate(operation: str, exc: Exception) -> FoundryError:
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) if error is not None else None
        message = getattr(error, "message", None) if error is not None else None
        if not message:
            message = (exc.reason or str(exc)).splitlines()[0]
        return FoundryError(operation, exc.status_code, code, message, _retry_after(exc))
    if isinstance(exc, ClientAuthenticationError):
        # No HTTP status: the credential itself could not get a token.
        return FoundryError(operation, 401, "CredentialUnavailable", str(exc).splitlines()[0])
    if isinstance(exc, ServiceRequestError | ServiceResponseError | OSError | asyncio.TimeoutError):
        return FoundryError(operation, None, None, f"Foundry unreachable: {type(exc).__name__}")
    raise exc


def _version_info(agent: str, raw: Mapping[str, Any]) -> VersionInfo:
    error = raw.get("error") or {}
    return VersionInfo(
        agent=agent,
        version=str(raw.get("version", "")),
        status=str(raw.get("status") or "active"),
        metadata=dict(raw.get("metadata") or {}),
        error_code=error.get("code") if isinstance(error, Mapping) else None,
        error_message=error.get("message") if isinstance(error, Mapping) else None,
        created_at=int(raw.get("created_at") or 0),
    )


class FoundryClient:
    """One per operator process: one credential, one HTTP pool, one concurrency cap."""

    def __init__(
        self,
        endpoint: str,
        credential: AsyncTokenCredential,
        *,
        max_concurrency: int = 16,
    ) -> None:
        self.endpoint = endpoint
        self._client = AIProjectClient(
            endpoint=endpoint,
            credential=credential,
            user_agent=f"foundry-agent-operator/{__version__}",
        )
        self._limit = asyncio.Semaphore(max_concurrency)

    async def close(self) -> None:
        await self._client.close()

    async def _call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        async with self._limit:
            started = time.monotonic()
            status = "error"
            try:
                result = await fn()
                status = "ok"
                return result
            except Exception as exc:
                translated = _translate(operation, exc)
                status = str(translated.status or "network")
                raise translated from None
            finally:
                metrics.FOUNDRY_REQUESTS.labels(operation, status).inc()
                metrics.FOUNDRY_LATENCY.labels(operation).observe(time.monotonic() - started)

    # --- versions ---------------------------------------------------------------------

    async def list_versions(self, agent: str) -> list[VersionInfo]:
        """Every version of ``agent`` (all pages); empty when the agent does not exist."""

        async def fetch() -> list[VersionInfo]:
            out: list[VersionInfo] = []
            async for item in self._client.agents.list_versions(agent, limit=100, order="desc"):
                out.append(_version_info(agent, item))
            return out

        try:
            return await self._call("list_versions", fetch)
        except FoundryError as err:
            if err.status == 404:
                return []
            raise

    async def get_version(self, agent: str, version: str) -> VersionInfo | None:
        async def fetch() -> VersionInfo | None:
            try:
                raw = await self._client.agents.get_version(agent, version)
            except ResourceNotFoundError:
                return None
            return _version_info(agent, raw)

        return await self._call("get_version", fetch)

    async def create_version(
        self,
        agent: str,
        definition: Mapping[str, Any],
        metadata: Mapping[str, str],
        description: str | None,
    ) -> VersionInfo:
        async def create() -> VersionInfo:
            raw = await self._client.agents.create_version(
                agent,
                definition=HostedAgentDefinition(dict(definition)),
                metadata=dict(metadata),
                description=description,
            )
            return _version_info(agent, raw)

        return await self._call("create_version", create)

    async def delete_version(self, agent: str, version: str) -> bool:
        """Delete one version; False when it was already gone (which counts as deleted)."""

        async def delete() -> bool:
            try:
                await self._client.agents.delete_version(agent, version, force=True)
            except ResourceNotFoundError:
                return False
            return True

        return await self._call("delete_version", delete)

    # --- agents -----------------------------------------------------------------------

    async def get_agent(self, agent: str) -> AgentInfo | None:
        async def fetch() -> AgentInfo | None:
            try:
                raw = await self._client.agents.get(agent)
            except ResourceNotFoundError:
                return None
            routing: dict[str, int] = {}
            endpoint = raw.get("agent_endpoint") or {}
            selector = endpoint.get("version_selector") or {}
            for rule in selector.get("version_selection_rules") or []:
                routing[str(rule.get("agent_version"))] = int(rule.get("traffic_percentage") or 0)
            state = raw.get("state") or raw.get("configuration_state") or "enabled"
            return AgentInfo(name=agent, routing=routing, enabled=state != "disabled")

        return await self._call("get_agent", fetch)

    async def route(self, agent: str, version: str, protocols: list[str]) -> None:
        """Send 100 % of the agent endpoint's traffic to ``version``."""

        async def patch() -> None:
            await self._client.agents.update_details(
                agent,
                agent_endpoint=AgentEndpointConfig(
                    version_selector=VersionSelector(
                        version_selection_rules=[
                            FixedRatioVersionSelectionRule(
                                agent_version=version, traffic_percentage=100
                            )
                        ]
                    ),
                    protocol_configuration=ProtocolConfiguration({p: {} for p in protocols}),
                ),
            )

        await self._call("update_details", patch)

    async def delete_agent(self, agent: str) -> bool:
        async def delete() -> bool:
            try:
                await self._client.agents.delete(agent, force=True)
            except ResourceNotFoundError:
                return False
            return True

        return await self._call("delete_agent", delete)
