"""The only code that talks to Foundry: a thin async adapter over azure-ai-projects.

Every call goes through one semaphore (the global cap on concurrent Foundry calls), is
counted and timed for metrics, and turns SDK exceptions into :class:`FoundryError`, which
carries the plain facts (HTTP status, service code, Retry-After) that the pure error
taxonomy in ``reconcile.errors`` classifies. Nothing above this module imports the SDK.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

# The helpers AIProjectClient.get_openai_client(agent_name=...) builds its client with
# (module level in the SDK so that its sync and async clients share them): the agent
# endpoint is described exactly as the SDK would call it, without making an OpenAI client.
from azure.ai.projects._patch import (
    _resolve_openai_base_url,
    _resolve_openai_default_headers,
    _resolve_openai_query_params,
)
from azure.ai.projects.aio import AIProjectClient
from azure.ai.projects.aio._configuration import AIProjectClientConfiguration
from azure.ai.projects.models import (
    AgentEndpointConfig,
    HostedAgentDefinition,
)
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import policies
from azure.core.pipeline.transport import AioHttpTransport
from azure.core.rest import HttpRequest

from .. import __version__, metrics
from ..reconcile.backoff import parse_retry_after
from ..reconcile.endpoint import EndpointSettings, agent_endpoint_body
from ..reconcile.errors import CREDENTIAL_REJECTED
from ..reconcile.observed import AgentInfo, EndpointFacts, Identity, VersionInfo
from ..reconcile.toolbox import ToolboxInfo, ToolboxVersionInfo
from .probe import ProbeResult, probe_version
from .slots import Slots

T = TypeVar("T")

# Quick retries of a call that is safe to repeat, before the engine's backoff takes over.
QUICK_RETRIES = 2
# A Retry-After longer than this is left to the engine's backoff (no slot held, no task
# parked for minutes inside one reconcile).
QUICK_RETRY_MAX_SECONDS = 5.0
# The largest page of a list Foundry serves.
LIST_PAGE_SIZE = 100
# Calls that other objects' reconciles wait on go before the rest when every slot is busy:
# a page of the agent directory's listing answers many new objects at once.
URGENT_OPERATIONS = frozenset({"list_agents"})

# The scope get_openai_client asks the credential for (a literal in the SDK's method, not
# part of its configuration).
OPENAI_TOKEN_SCOPE = "https://ai.azure.com/.default"


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


@dataclass(frozen=True)
class AgentNamesPage:
    """One page of the project's agents, reduced to their names."""

    names: tuple[str, ...]
    # Entries that came without a name: whatever they are, no name is absent for sure.
    unnamed: int
    # The cursor of the next page; None on the last one.
    after: str | None


def agent_names_page(payload: Any) -> AgentNamesPage:
    """A page of the agents list (``{"data": [...], "last_id": ..., "has_more": ...}``)
    reduced to names. The cursor is ``last_id``, as the SDK's pager takes it; ``has_more``
    false ends the listing even where ``last_id`` is set."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    names: list[str] = []
    unnamed = 0
    for item in data if isinstance(data, list) else ():
        name = (item.get("name") or item.get("id")) if isinstance(item, Mapping) else None
        if isinstance(name, str) and name:
            names.append(name)
        else:
            unnamed += 1
    cursor = payload.get("last_id") if isinstance(payload, Mapping) else None
    if isinstance(payload, Mapping) and payload.get("has_more") is False:
        cursor = None
    return AgentNamesPage(
        tuple(names), unnamed, cursor if isinstance(cursor, str) and cursor else None
    )


def _retry_after(exc: HttpResponseError) -> float | None:
    headers: Mapping[str, str] = getattr(exc.response, "headers", None) or {}
    for header in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(header)
        if value:
            try:
                return float(value) / 1000.0
            except ValueError:
                pass
    # Seconds or an HTTP date: the one parser in reconcile.backoff reads both.
    return parse_retry_after(headers.get("Retry-After"), now=datetime.now(UTC))


def credential_rejected(token_status: int | None) -> bool:
    """Whether the token endpoint's answer refuses the credential itself: a 4xx other than
    408/429 (Entra answers 400 invalid_client / unauthorized_client, 401 for a bad secret)."""
    return token_status is not None and 400 <= token_status < 500 and token_status not in (408, 429)


def _translate(operation: str, exc: Exception) -> FoundryError:
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) if error is not None else None
        message = getattr(error, "message", None) if error is not None else None
        if not message:
            message = (exc.reason or str(exc)).splitlines()[0]
        return FoundryError(operation, exc.status_code, code, message, _retry_after(exc))
    if isinstance(exc, ClientAuthenticationError):
        first = str(exc).splitlines()[0] if str(exc) else "no token"
        if credential_rejected(getattr(getattr(exc, "response", None), "status_code", None)):
            # The identity provider answered and said no (wrong secret, unknown client,
            # untrusted federated token): waiting does not fix that.
            return FoundryError(operation, None, CREDENTIAL_REJECTED, first)
        # No HTTP status: the credential could not get a token (the identity endpoint is
        # down or slow). That passes; a 401/403 from Foundry itself is a different story.
        return FoundryError(operation, None, "CredentialUnavailable", first)
    if isinstance(exc, ServiceRequestError | ServiceResponseError | OSError | asyncio.TimeoutError):
        return FoundryError(operation, None, None, f"Foundry unreachable: {type(exc).__name__}")
    raise exc


def _plain(value: Any) -> Any:
    """An SDK model (a mapping of mappings) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _version_info(agent: str, raw: Mapping[str, Any]) -> VersionInfo:
    error = raw.get("error") or {}
    definition = raw.get("definition")
    return VersionInfo(
        agent=agent,
        version=str(raw.get("version", "")),
        status=str(raw.get("status") or "active"),
        metadata=dict(raw.get("metadata") or {}),
        error_code=error.get("code") if isinstance(error, Mapping) else None,
        error_message=error.get("message") if isinstance(error, Mapping) else None,
        created_at=int(raw.get("created_at") or 0),
        definition=_plain(definition) if isinstance(definition, Mapping) else None,
        description=str(raw.get("description") or "") or None,
    )


def _identity(raw: Any) -> Identity | None:
    if not isinstance(raw, Mapping):
        return None
    principal, client = raw.get("principal_id"), raw.get("client_id")
    if not principal and not client:
        return None
    return Identity(
        principal_id=str(principal) if principal else None,
        client_id=str(client) if client else None,
    )


def _agent_info(agent: str, raw: Mapping[str, Any]) -> AgentInfo:
    routing: dict[str, int] = {}
    endpoint = raw.get("agent_endpoint") or {}
    selector = endpoint.get("version_selector") or {}
    for rule in selector.get("version_selection_rules") or []:
        routing[str(rule.get("agent_version"))] = int(rule.get("traffic_percentage") or 0)
    # Either state stands in for the other when one is missing; both default to enabled.
    state = raw.get("state") or raw.get("configuration_state") or "enabled"
    configured = raw.get("configuration_state") or raw.get("state") or "enabled"
    protocols = endpoint.get("protocol_configuration") or {}
    if not isinstance(protocols, Mapping):
        protocols = {}
    schemes = endpoint.get("authorization_schemes")
    latest = (raw.get("versions") or {}).get("latest")
    return AgentInfo(
        name=agent,
        routing=routing,
        enabled=state != "disabled",
        latest=_version_info(agent, latest) if isinstance(latest, Mapping) else None,
        configured_enabled=configured != "disabled",
        state_source=str(raw.get("state_source") or "") or None,
        identity=_identity(raw.get("instance_identity")),
        protocols=tuple(sorted(str(k) for k, v in protocols.items() if v is not None)),
        protocol_options={str(k): dict(v) for k, v in protocols.items() if isinstance(v, Mapping)},
        authorization_schemes=tuple(
            str(s.get("type")) for s in schemes if isinstance(s, Mapping) and s.get("type")
        )
        if isinstance(schemes, list)
        else None,
    )


def _created_at(raw: Any) -> int:
    """A Unix-seconds field, as the SDK's model (a datetime) or the raw JSON (a number)."""
    if isinstance(raw, datetime):
        return int(raw.timestamp())
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return 0


def _toolbox_version_info(name: str, raw: Mapping[str, Any]) -> ToolboxVersionInfo:
    return ToolboxVersionInfo(
        name=name,
        version=str(raw.get("version", "")),
        metadata=dict(raw.get("metadata") or {}),
        created_at=_created_at(raw.get("created_at")),
    )


def _toolbox_info(name: str, raw: Mapping[str, Any]) -> ToolboxInfo:
    latest = (raw.get("versions") or {}).get("latest")
    default = raw.get("default_version")
    return ToolboxInfo(
        name=name,
        default_version=str(default) if default else None,
        latest=_toolbox_version_info(name, latest) if isinstance(latest, Mapping) else None,
    )


def env_proxies(endpoint: str) -> dict[str, str] | None:
    """The proxy the environment (HTTPS_PROXY, NO_PROXY, ...) names for the endpoint."""
    host = urlsplit(endpoint).hostname or ""
    if not host or urllib.request.proxy_bypass(host):
        return None
    proxies = {k: v for k, v in urllib.request.getproxies_environment().items() if k != "no"}
    return proxies or None


def _pipeline(
    endpoint: str, credential: AsyncTokenCredential, options: Mapping[str, Any]
) -> list[Any]:
    """The SDK's own request pipeline, configured as AIProjectClient configures it, minus
    what the operator never uses and pays for on every call: ContentDecodePolicy parses each
    JSON body once more for a context nothing here reads (the generated operations parse it
    themselves); with retries off (see ``retry_total``) the retry policy only wraps the call;
    redirects are not followed (a management call never redirects, and a followed redirect
    would carry the bearer token elsewhere), so neither is the header clean-up they need."""
    config = AIProjectClientConfiguration(endpoint=endpoint, credential=credential, **options)
    return [
        policies.RequestIdPolicy(**options),
        config.headers_policy,
        config.user_agent_policy,
        config.proxy_policy,
        config.authentication_policy,
        config.custom_hook_policy,
        config.logging_policy,
        policies.DistributedTracingPolicy(**options),
        config.http_logging_policy,
    ]


class FoundryClient:
    """One per operator process: one credential, one HTTP pool, one concurrency cap."""

    def __init__(
        self,
        endpoint: str,
        credential: AsyncTokenCredential,
        *,
        max_concurrency: int = 16,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.endpoint = endpoint
        proxies = env_proxies(endpoint)
        options: dict[str, Any] = {
            "user_agent": f"foundry-agent-operator/{__version__}",
            "proxies": proxies,
            # No retries inside the SDK: azure-core would sleep (Retry-After, backoff) while
            # holding one of our Foundry slots, and it re-sends a POST that Foundry may have
            # applied before answering 5xx, which makes a second version. The engine retries
            # instead, with its own backoff, after looking at what Foundry holds.
            "retry_total": 0,
            "connection_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        self._client = AIProjectClient(
            endpoint=endpoint,
            credential=credential,
            # Proxy settings are read from the environment once, here: with env settings on,
            # aiohttp looks up ~/.netrc and the proxy variables in a worker thread for every
            # request (about 5% of the operator's CPU in a mass rollout).
            transport=AioHttpTransport(
                use_env_settings=False,
                connection_timeout=connect_timeout,
                read_timeout=read_timeout,
            ),
            policies=_pipeline(endpoint, credential, options),
            **options,
        )
        self._limit = Slots(max_concurrency)
        # The API version the SDK's own requests carry ("v1" on the GA line).
        self._api_version = str(self._client._config.api_version)

    async def close(self) -> None:
        await self._client.close()

    async def _call(
        self, operation: str, fn: Callable[[], Awaitable[T]], *, idempotent: bool = True
    ) -> T:
        """One Foundry call under the concurrency cap. A call that is safe to repeat (every
        one but a create) is tried again, up to :data:`QUICK_RETRIES` times, after a 429,
        a 5xx or a dropped connection, waiting Retry-After (or a short jittered pause)
        *without* holding a slot; what still fails goes back to the engine's backoff. A
        create is never repeated here: Foundry may have applied it, and only a fresh look
        can tell."""
        attempt = 0
        while True:
            try:
                return await self._once(operation, fn)
            except FoundryError as err:
                # A credential the identity provider refused is refused again at once.
                unanswered = err.status is None and err.code != CREDENTIAL_REJECTED
                retryable = unanswered or (
                    err.status is not None and (err.status == 429 or err.status >= 500)
                )
                pause = err.retry_after if err.retry_after is not None else 0.25 * 2**attempt
                if (
                    not idempotent
                    or not retryable
                    or attempt >= QUICK_RETRIES
                    or pause > QUICK_RETRY_MAX_SECONDS  # honoured by the engine's backoff
                ):
                    raise
                await asyncio.sleep(pause * (1 + random.random() / 4))
                attempt += 1

    async def _once(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        await self._limit.acquire(urgent=operation in URGENT_OPERATIONS)
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
            self._limit.release()
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

        return await self._call("create_version", create, idempotent=False)

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
            return _agent_info(agent, raw)

        return await self._call("get_agent", fetch)

    async def list_agent_names(
        self, after: str | None = None, *, sending: Callable[[], None] | None = None
    ) -> AgentNamesPage:
        """One page (of :data:`LIST_PAGE_SIZE`) of every agent in the project, of any kind
        (a name is taken whatever its agent's kind), from the cursor ``after``. One page is
        one call: each holds a slot only for its own request, is retried on its own, and is
        counted as ``list_agents``. ``sending`` is called once the slot is held, just before
        the request goes out (and again before a retry)."""

        async def fetch() -> AgentNamesPage:
            if sending is not None:
                sending()
            # The same request the SDK's agents.list pager sends, but read as plain JSON:
            # turning every entry of every page into AgentDetails models (versions and
            # definitions included) cost more CPU than all the operator's other work in a
            # mass rollout, only for the names.
            params = {"limit": str(LIST_PAGE_SIZE), "api-version": self._api_version}
            if after is not None:
                params["after"] = after
            request = HttpRequest(
                "GET", "/agents", params=params, headers={"Accept": "application/json"}
            )
            response = await self._client.send_request(request)
            response.raise_for_status()
            return agent_names_page(response.json())

        return await self._call("list_agents", fetch)

    async def route(self, agent: str, version: str, endpoint: EndpointSettings) -> AgentInfo | None:
        """Send 100 % of the agent endpoint's traffic to ``version``."""
        return await self.route_weights(agent, {version: 100}, endpoint)

    async def route_weights(
        self, agent: str, weights: Mapping[str, int], endpoint: EndpointSettings
    ) -> AgentInfo | None:
        """Split the agent endpoint's traffic by FixedRatio rules, with the endpoint's
        settings in the same PATCH; the agent as Foundry answered (None if the answer could
        not be read as AgentDetails)."""
        return await self._update_endpoint(agent, agent_endpoint_body(endpoint, weights))

    async def configure_endpoint(self, agent: str, endpoint: EndpointSettings) -> AgentInfo | None:
        """PATCH the endpoint's settings alone. The routing is not in the body, so the merge
        patch leaves the traffic split (a rollout's, say) exactly as it is."""
        return await self._update_endpoint(agent, agent_endpoint_body(endpoint, None))

    async def _update_endpoint(self, agent: str, body: Mapping[str, Any]) -> AgentInfo | None:
        async def patch() -> AgentInfo | None:
            raw = await self._client.agents.update_details(
                agent, agent_endpoint=AgentEndpointConfig(dict(body))
            )
            return _agent_info(agent, raw) if isinstance(raw, Mapping) else None

        return await self._call("update_details", patch)

    async def probe(
        self, agent: str, version: str, *, prompt: str, expect: str | None, seconds: float
    ) -> ProbeResult:
        """Ask ``version`` through the Responses protocol. It holds no Foundry slot: an
        answer may take its whole timeout, and the management calls must not wait for it."""
        started = time.monotonic()
        result = await probe_version(
            self._client, agent, version, prompt=prompt, expect=expect, seconds=seconds
        )
        metrics.FOUNDRY_REQUESTS.labels("probe", "ok" if result.passed else "failed").inc()
        metrics.FOUNDRY_LATENCY.labels("probe").observe(time.monotonic() - started)
        return result

    async def enable(self, agent: str) -> None:
        """Let the agent endpoint accept sessions and requests again (idempotent in
        Foundry, so safe to repeat)."""
        await self._call("enable", lambda: self._client.agents.enable(agent))

    async def disable(self, agent: str) -> None:
        """Make the agent endpoint refuse new sessions and requests; existing sessions
        drain. Versions and the traffic split stay as they are."""
        await self._call("disable", lambda: self._client.agents.disable(agent))

    def endpoint_facts(self, agent: str) -> EndpointFacts:
        """How a client calls ``agent``: what get_openai_client(agent_name=agent) would
        configure. No call to Foundry: AgentDetails carries no URL of its own, the SDK
        derives it from the project endpoint."""
        config = self._client._config
        query = _resolve_openai_query_params(config, agent, {})
        headers = _resolve_openai_default_headers(agent, {})
        return EndpointFacts(
            base_url=str(_resolve_openai_base_url(config, agent, {})),
            api_version=str(query.get("api-version") or config.api_version),
            token_scope=OPENAI_TOKEN_SCOPE,
            headers=tuple(sorted((str(k), str(v)) for k, v in headers.items())),
        )

    # --- toolboxes ----------------------------------------------------------------------

    @property
    def api_version(self) -> str:
        """The api-version every call (and a toolbox's MCP URL) carries."""
        return str(self._client._config.api_version)

    async def get_toolbox(self, name: str) -> ToolboxInfo | None:
        """The toolbox's default and latest version; None when it does not exist."""

        async def fetch() -> ToolboxInfo | None:
            try:
                raw = await self._client.toolboxes.get(name)
            except ResourceNotFoundError:
                return None
            return _toolbox_info(name, raw)

        return await self._call("get_toolbox", fetch)

    async def list_toolbox_versions(self, name: str) -> list[ToolboxVersionInfo]:
        """Every version of the toolbox; empty when it does not exist."""

        async def fetch() -> list[ToolboxVersionInfo]:
            out: list[ToolboxVersionInfo] = []
            async for item in self._client.toolboxes.list_versions(name, limit=100, order="desc"):
                out.append(_toolbox_version_info(name, item))
            return out

        try:
            return await self._call("list_toolbox_versions", fetch)
        except FoundryError as err:
            if err.status == 404:
                return []
            raise

    async def create_toolbox_version(
        self, name: str, body: Mapping[str, Any]
    ) -> ToolboxVersionInfo:
        """A new version (and the toolbox, when it is the first). ``body`` is the wire JSON
        (``reconcile.toolbox.create_toolbox_body``); never repeated here (see _call)."""

        async def create() -> ToolboxVersionInfo:
            raw = await self._client.toolboxes.create_version(name, dict(body))
            return _toolbox_version_info(name, raw)

        return await self._call("create_toolbox_version", create, idempotent=False)

    async def set_default_toolbox_version(self, name: str, version: str) -> ToolboxInfo:
        async def update() -> ToolboxInfo:
            raw = await self._client.toolboxes.update(name, default_version=version)
            return _toolbox_info(name, raw)

        return await self._call("update_toolbox", update)

    async def delete_toolbox_version(self, name: str, version: str) -> bool:
        """Delete one version; False when it was already gone."""

        async def delete() -> bool:
            try:
                await self._client.toolboxes.delete_version(name, version)
            except ResourceNotFoundError:
                return False
            return True

        return await self._call("delete_toolbox_version", delete)

    async def delete_toolbox(self, name: str) -> bool:
        """Delete the toolbox with every version; False when it was already gone."""

        async def delete() -> bool:
            try:
                await self._client.toolboxes.delete(name)
            except ResourceNotFoundError:
                return False
            return True

        return await self._call("delete_toolbox", delete)

    async def delete_agent(self, agent: str) -> bool:
        async def delete() -> bool:
            try:
                await self._client.agents.delete(agent, force=True)
            except ResourceNotFoundError:
                return False
            return True

        return await self._call("delete_agent", delete)
