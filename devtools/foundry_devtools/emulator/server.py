"""The project API served over HTTPS (the admin and identity endpoints are in control.py).

Each route carries the operation name used in ``/_emulator/stats`` and in fault filters. One
middleware does, in order: fault injection, authentication, api-version, the handler, and
the envelope for errors; handlers only translate between HTTP and :mod:`state`.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from .config import EmulatorConfig
from .entra import ENTRA_OPERATIONS, OPENID_PATH, TOKEN_PATH, EntraEndpoint
from .errors import ApiError, invalid, not_found
from .failures import FailureRules
from .faults import FaultDecision, FaultInjector
from .identity import TokenClaims, TokenIssuer, normalize_audience
from .paging import parse_page_query
from .recorder import BODY_KEY, RequestRecorder
from .responses import build_response, encode_sse, stream_events
from .state import ProjectState
from .stats import RequestStats
from .toolboxes import (
    handle_mcp,
    require_mcp_version,
    validate_toolbox_body,
    validate_toolbox_name,
)
from .validation import require_object, validate_agent_name, validate_create_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROJECT_PREFIX = "/api/projects/{project:[^/]+}"
_NAME = "{agent_name:[^/:]+}"
_VERSION = "{agent_version:[^/:]+}"
_SESSION = "{session_id:[^/:]+}"
_TOOLBOX = "{toolbox_name:[^/:]+}"
_TOOLBOX_VERSION = "{toolbox_version:[^/:]+}"
MCP_SESSION_HEADER = "Mcp-Session-Id"

# Operations whose api-version is checked against the agent endpoint's rules (404, as seen
# on the live service) rather than the management API's (400).
_INVOCATION_OPERATIONS = frozenset({"responses"})

ADMIN_PREFIX = "/_emulator"

# The state of the project the request in hand addresses (set by the middleware).
_CURRENT_STATE: contextvars.ContextVar[ProjectState | None] = contextvars.ContextVar(
    "emulator_project_state", default=None
)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(error: ApiError) -> web.Response:
    request_id = uuid.uuid4().hex
    headers = {"x-request-id": request_id, **error.headers}
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')
    return json_response(error.envelope(request_id), error.status, headers)


class Emulator:
    """Everything one running emulator holds: config, state, faults, stats, token issuer."""

    def __init__(
        self,
        project: str,
        config: EmulatorConfig,
        issuer: TokenIssuer,
        identity_header: str,
        *,
        fault_seed: int | None = None,
    ) -> None:
        self.project = project
        self.config = config
        self.issuer = issuer
        self.identity_header = identity_header
        self.failure_rules = FailureRules(config.effective_failure_rules())
        self.faults = FaultInjector(config.faults, seed=fault_seed)
        self.stats = RequestStats()
        self.recorder = RequestRecorder()
        # One state per project, each behind its own path prefix; the default project is
        # the one named on the command line, and the one admin calls act on by default.
        self.default_state = ProjectState(project, config, self.failure_rules)
        self.states: dict[str, ProjectState] = {project: self.default_state}
        for extra in config.projects:
            if extra.name not in self.states:
                self.states[extra.name] = ProjectState(extra.name, config, self.failure_rules)

    @property
    def state(self) -> ProjectState:
        """The state of the project the current request addresses (the default project
        outside a project request, e.g. in the admin API)."""
        return _CURRENT_STATE.get() or self.default_state

    def set_config(self, config: EmulatorConfig) -> None:
        self.config = config
        for state in self.states.values():
            state.config = config

    def principals(self, project: str) -> list[str] | None:
        """Who may call ``project`` (None: every valid token)."""
        for settings in self.config.projects:
            if settings.name == project:
                return settings.principals
        return None

    # ------------------------------------------------------------------ apps

    def project_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._project_middleware], client_max_size=256 * 1024 * 1024
        )
        routes: list[tuple[str, str, Handler, str]] = [
            ("POST", f"/agents/{_NAME}/versions", self.create_version, "create_version"),
            ("GET", f"/agents/{_NAME}/versions", self.list_versions, "list_versions"),
            ("GET", f"/agents/{_NAME}/versions/{_VERSION}", self.get_version, "get_version"),
            (
                "DELETE",
                f"/agents/{_NAME}/versions/{_VERSION}",
                self.delete_version,
                "delete_version",
            ),
            (
                "GET",
                f"/agents/{_NAME}/versions/{_VERSION}/sessions/{_SESSION}:logstream",
                self.get_session_log_stream,
                "get_session_log_stream",
            ),
            ("GET", "/agents", self.list_agents, "list_agents"),
            ("GET", f"/agents/{_NAME}", self.get_agent, "get_agent"),
            ("DELETE", f"/agents/{_NAME}", self.delete_agent, "delete_agent"),
            ("PATCH", f"/agents/{_NAME}", self.update_details, "update_details"),
            ("POST", f"/agents/{_NAME}:enable", self.enable, "enable"),
            ("POST", f"/agents/{_NAME}:disable", self.disable, "disable"),
            ("POST", f"/agents/{_NAME}/endpoint/sessions", self.create_session, "create_session"),
            ("GET", f"/agents/{_NAME}/endpoint/sessions", self.list_sessions, "list_sessions"),
            (
                "GET",
                f"/agents/{_NAME}/endpoint/sessions/{_SESSION}",
                self.get_session,
                "get_session",
            ),
            (
                "DELETE",
                f"/agents/{_NAME}/endpoint/sessions/{_SESSION}",
                self.delete_session,
                "delete_session",
            ),
            (
                "POST",
                f"/agents/{_NAME}/endpoint/sessions/{_SESSION}:stop",
                self.stop_session,
                "stop_session",
            ),
            (
                "POST",
                f"/agents/{_NAME}/endpoint/protocols/openai/responses",
                self.responses,
                "responses",
            ),
            *self._toolbox_routes(),
        ]
        for method, path, handler, name in routes:
            app.router.add_route(method, PROJECT_PREFIX + path, handler, name=name)
        entra = EntraEndpoint(self)
        app.router.add_post(TOKEN_PATH, entra.token, name="entra_token")
        app.router.add_get(OPENID_PATH, entra.openid_configuration, name="entra_openid")
        return app

    def _toolbox_routes(self) -> list[tuple[str, str, Handler, str]]:
        version = f"/toolboxes/{_TOOLBOX}/versions/{_TOOLBOX_VERSION}"
        return [
            (
                "POST",
                f"/toolboxes/{_TOOLBOX}/versions",
                self.create_toolbox_version,
                "create_toolbox_version",
            ),
            (
                "GET",
                f"/toolboxes/{_TOOLBOX}/versions",
                self.list_toolbox_versions,
                "list_toolbox_versions",
            ),
            ("GET", version, self.get_toolbox_version, "get_toolbox_version"),
            ("DELETE", version, self.delete_toolbox_version, "delete_toolbox_version"),
            ("POST", f"{version}/mcp", self.toolbox_mcp, "toolbox_mcp"),
            ("GET", f"{version}/mcp", self.toolbox_mcp_stream, "toolbox_mcp"),
            ("DELETE", f"{version}/mcp", self.toolbox_mcp_end, "toolbox_mcp"),
            ("GET", "/toolboxes", self.list_toolboxes, "list_toolboxes"),
            ("GET", f"/toolboxes/{_TOOLBOX}", self.get_toolbox, "get_toolbox"),
            ("PATCH", f"/toolboxes/{_TOOLBOX}", self.update_toolbox, "update_toolbox"),
            ("DELETE", f"/toolboxes/{_TOOLBOX}", self.delete_toolbox, "delete_toolbox"),
            (
                "POST",
                f"/toolboxes/{_TOOLBOX}:invoke_mcp",
                self.invoke_toolbox_mcp,
                "invoke_toolbox_mcp",
            ),
        ]

    # ------------------------------------------------------------ middleware

    @web.middleware
    async def _project_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            # The admin API is mounted here too, but it is not a project operation.
            return await handler(request)
        operation = request.match_info.route.name or "unknown"
        if operation in ENTRA_OPERATIONS:
            # The token endpoint answers in OAuth's shape, with its own faults (``token``).
            return await handler(request)
        decision = self.faults.decide(operation) if operation != "unknown" else FaultDecision()
        if decision.delay_seconds > 0:
            await asyncio.sleep(decision.delay_seconds)
        if decision.drop:
            self.stats.record(operation, "dropped", method=request.method)
            return drop_connection(request)
        try:
            if decision.status is not None and not decision.after:
                raise _fault_error(decision)
            state: ProjectState | None = None
            if operation != "unknown":
                claims = self._authenticate(request)
                self._check_api_version(request, operation)
                project = str(request.match_info.get("project"))
                state = self.states.get(project)
                if state is None:
                    raise not_found(f"Project '{project}' was not found.", param="project")
                self._authorize(project, claims)
            # For an unknown route this raises aiohttp's 404 or 405, enveloped below.
            token = _CURRENT_STATE.set(state)
            try:
                response = await handler(request)
            finally:
                _CURRENT_STATE.reset(token)
            if decision.status is not None and decision.after:
                raise _fault_error(decision)
        except ApiError as error:
            response = error_response(error)
        except web.HTTPException as exc:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "invalid_request")
            response = error_response(
                ApiError(exc.status, code, f"{exc.reason}: {request.method} {request.path}")
            )
        self.stats.record(operation, response.status, method=request.method)
        if BODY_KEY in request:
            agent = request.match_info.get("agent_name")
            self.recorder.record(operation, agent, request[BODY_KEY], response.status)
        return response

    def _authorize(self, project: str, claims: TokenClaims | None) -> None:
        """A project that names its principals refuses every other token with 403, as
        Foundry refuses a caller without a role on the project."""
        allowed = self.principals(project)
        if allowed is None or claims is None:
            return
        if claims.subject not in allowed:
            who = claims.subject or "an unnamed principal"
            raise ApiError(
                403,
                "PermissionDenied",
                f"The principal '{who}' lacks the required data action "
                f"'Microsoft.CognitiveServices/accounts/AIServices/agents/*' on project "
                f"'{project}'.",
                error_type="permission_error",
            )

    def _authenticate(self, request: web.Request) -> TokenClaims | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "Unauthorized",
                "Missing bearer token. Send 'Authorization: Bearer <token>'.",
                error_type="authentication_error",
            )
        if self.config.auth.accept_any_bearer:
            return None
        claims = self.issuer.verify(token.strip())
        if claims is None:
            raise ApiError(
                401,
                "Unauthorized",
                "The bearer token is invalid or expired. Get a new one from the "
                "emulator's identity endpoint.",
                error_type="authentication_error",
            )
        audiences = {normalize_audience(a) for a in self.config.auth.audiences}
        if claims.audience not in audiences:
            raise ApiError(
                401,
                "Unauthorized",
                f"The token audience '{claims.audience}' is not accepted; request "
                f"a token for {sorted(audiences)[0]}/.default.",
                error_type="authentication_error",
            )
        return claims

    def _check_api_version(self, request: web.Request, operation: str) -> None:
        version = request.query.get("api-version")
        if version is None:
            raise invalid(
                "Missing required query parameter: api-version",
                param="api-version",
                code="missing_required_parameter",
            )
        if version not in self.config.api_versions:
            status = (
                self.config.responses.unknown_api_version_status
                if operation in _INVOCATION_OPERATIONS
                else self.config.unknown_api_version_status
            )
            raise ApiError(
                status,
                "unsupported_api_version",
                f"api-version '{version}' is not supported; use one of "
                f"{', '.join(self.config.api_versions)}.",
                param="api-version",
            )

    # -------------------------------------------------------------- versions

    async def create_version(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["agent_name"]
        validate_agent_name(name)
        if request.content_type.startswith("multipart/"):
            body = await _read_code_upload(request)
        else:
            body = await _read_json(request)
        request[BODY_KEY] = body
        payload = validate_create_body(
            body, self.config.limits, strict=self.config.validation.reject_unknown_fields
        )
        version = self.state.create_version(name, payload)
        return json_response(self.state.render_version(name, version))

    async def get_version(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["agent_name"]
        _, version = self.state.get_version(name, request.match_info["agent_version"])
        return json_response(self.state.render_version(name, version))

    async def list_versions(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["agent_name"]
        query = parse_page_query(dict(request.query))
        include_drafts = request.query.get("include_drafts", "false").lower() == "true"
        _, page = self.state.list_versions(name, query, include_drafts)
        return json_response(page.to_json(lambda v: self.state.render_version(name, v)))

    async def delete_version(self, request: web.Request) -> web.StreamResponse:
        result = self.state.delete_version(
            request.match_info["agent_name"],
            request.match_info["agent_version"],
            force=_flag(request, "force"),
        )
        return json_response(result)

    # ---------------------------------------------------------------- agents

    async def get_agent(self, request: web.Request) -> web.StreamResponse:
        agent = self.state.get_agent(request.match_info["agent_name"])
        return json_response(self.state.render_agent(agent))

    async def list_agents(self, request: web.Request) -> web.StreamResponse:
        query = parse_page_query(dict(request.query))
        page = self.state.list_agents(query, request.query.get("kind"))
        return json_response(page.to_json(self.state.render_agent))

    async def delete_agent(self, request: web.Request) -> web.StreamResponse:
        result = self.state.delete_agent(
            request.match_info["agent_name"], force=_flag(request, "force")
        )
        return json_response(result)

    async def update_details(self, request: web.Request) -> web.StreamResponse:
        raw = await _read_json(request)
        request[BODY_KEY] = raw
        body = require_object(raw, "body")
        agent = self.state.update_details(request.match_info["agent_name"], body)
        return json_response(self.state.render_agent(agent))

    async def enable(self, request: web.Request) -> web.StreamResponse:
        self.state.set_enabled(request.match_info["agent_name"], True)
        return web.Response(status=204)

    async def disable(self, request: web.Request) -> web.StreamResponse:
        self.state.set_enabled(request.match_info["agent_name"], False)
        return web.Response(status=204)

    # -------------------------------------------------------------- sessions

    async def create_session(self, request: web.Request) -> web.StreamResponse:
        body = require_object(await _read_json(request), "body")
        indicator = require_object(body.get("version_indicator"), "version_indicator")
        if indicator.get("type") != "version_ref":
            raise invalid(
                "version_indicator.type must be 'version_ref'.", param="version_indicator.type"
            )
        version = indicator.get("agent_version")
        if not isinstance(version, str) or not version:
            raise invalid(
                "version_indicator.agent_version is required.",
                param="version_indicator.agent_version",
            )
        session_id = body.get("agent_session_id")
        if session_id is not None and not isinstance(session_id, str):
            raise invalid("agent_session_id must be a string.", param="agent_session_id")
        agent, session = self.state.create_session(
            request.match_info["agent_name"], version, session_id
        )
        pinned = self.state.pinned_version(agent, session.session_id)
        if (
            pinned is not None
            and pinned.not_answering is not None
            and self.config.responses.not_answering_refuses_session_create
        ):
            # The session exists (its log stream shows the crash); only the answer differs.
            raise self.state.not_answering_error(agent, pinned, session)
        return json_response(self.state.render_session(session), status=201)

    async def get_session(self, request: web.Request) -> web.StreamResponse:
        session = self.state.get_session(
            request.match_info["agent_name"], request.match_info["session_id"]
        )
        return json_response(self.state.render_session(session))

    async def list_sessions(self, request: web.Request) -> web.StreamResponse:
        query = parse_page_query(dict(request.query))
        page = self.state.list_sessions(request.match_info["agent_name"], query)
        return json_response(page.to_json(self.state.render_session))

    async def delete_session(self, request: web.Request) -> web.StreamResponse:
        self.state.delete_session(
            request.match_info["agent_name"], request.match_info["session_id"]
        )
        return web.Response(status=204)

    async def stop_session(self, request: web.Request) -> web.StreamResponse:
        self.state.stop_session(request.match_info["agent_name"], request.match_info["session_id"])
        return web.Response(status=204)

    async def get_session_log_stream(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["agent_name"]
        label = request.match_info["agent_version"]
        self.state.get_version(name, label)
        session = self.state.get_session(name, request.match_info["session_id"])
        if session.version != label:
            raise not_found(
                f"Session '{session.session_id}' does not run version {label}.", param="session_id"
            )
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        sent = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.log_stream.hold_seconds
        while True:
            lines = session.logs[sent:]
            sent += len(lines)
            for line in lines:
                await stream.write(
                    f"event: log\ndata: {json.dumps(line, separators=(',', ':'))}\n\n".encode()
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(0.25, remaining))
        await stream.write_eof()
        return stream

    # ------------------------------------------------------------- responses

    async def responses(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["agent_name"]
        body = require_object(await _read_json(request), "body")
        agent = self.state.get_agent(name)
        requested = body.get("agent_session_id")
        session_id = requested if isinstance(requested, str) and requested else None
        # A request on an existing session is served by the session's version and leaves the
        # traffic split alone; any other request is routed by the version_selector.
        pinned = self.state.pinned_version(agent, session_id)
        version = pinned if pinned is not None else self.state.route(name).version
        self.state.require_serving(
            agent, version, invocation=True, existing_session=pinned is not None
        )
        protocols = version.definition.get("protocol_versions") or []
        if protocols and not any(p.get("protocol") == "responses" for p in protocols):
            raise ApiError(
                400,
                "protocol_not_supported",
                f"Version {version.number} of agent '{name}' does not declare the "
                "'responses' protocol.",
                headers={"x-should-retry": "false"},
            )
        label = str(version.number)
        session = (
            self.state.session_for_request(agent, version, session_id)
            if session_id is not None
            else None
        )
        if version.not_answering is not None:
            # Active, but the container never answers. The service starts a session for the
            # request and names it in the 424, so a caller can read that session's log
            # stream; the emulator does the same for requests that named none.
            if session is None:
                _, session = self.state.create_session(name, label, None)
            error = self.state.not_answering_error(agent, version, session)
            delay = self.config.responses.not_answering_delay_seconds
            if delay > 0:
                await asyncio.sleep(delay)
            raise error
        if session is not None:
            self.state.log(agent, session, "stdout", "POST /responses 200")
        final = build_response(agent=name, version=label, body=body, session_id=session_id)
        headers = {"x-agent-name": name, "x-agent-version": label}
        if not body.get("stream"):
            return json_response(final, headers=headers)
        stream = web.StreamResponse(
            headers={**headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        for frame in encode_sse(stream_events(final)):
            await stream.write(frame)
        await stream.write_eof()
        return stream

    # ------------------------------------------------------------- toolboxes

    async def create_toolbox_version(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["toolbox_name"]
        validate_toolbox_name(name)
        payload = validate_toolbox_body(await _read_json(request), self.config.limits)
        _, version = self.state.toolboxes.create_version(name, payload)
        return json_response(self.state.toolboxes.render_version(name, version))

    async def list_toolbox_versions(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["toolbox_name"]
        page = self.state.toolboxes.list_versions(name, parse_page_query(dict(request.query)))
        return json_response(page.to_json(lambda v: self.state.toolboxes.render_version(name, v)))

    async def get_toolbox_version(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["toolbox_name"]
        _, version = self.state.toolboxes.get_version(name, request.match_info["toolbox_version"])
        return json_response(self.state.toolboxes.render_version(name, version))

    async def delete_toolbox_version(self, request: web.Request) -> web.StreamResponse:
        self.state.toolboxes.delete_version(
            request.match_info["toolbox_name"], request.match_info["toolbox_version"]
        )
        return web.Response(status=204)

    async def list_toolboxes(self, request: web.Request) -> web.StreamResponse:
        page = self.state.toolboxes.list(parse_page_query(dict(request.query)))
        return json_response(page.to_json(self.state.toolboxes.render_toolbox))

    async def get_toolbox(self, request: web.Request) -> web.StreamResponse:
        toolbox = self.state.toolboxes.get(request.match_info["toolbox_name"])
        return json_response(self.state.toolboxes.render_toolbox(toolbox))

    async def update_toolbox(self, request: web.Request) -> web.StreamResponse:
        toolbox = self.state.toolboxes.update(
            request.match_info["toolbox_name"], await _read_json(request)
        )
        return json_response(self.state.toolboxes.render_toolbox(toolbox))

    async def delete_toolbox(self, request: web.Request) -> web.StreamResponse:
        self.state.toolboxes.delete(request.match_info["toolbox_name"])
        return web.Response(status=204)

    async def toolbox_mcp(self, request: web.Request) -> web.StreamResponse:
        """MCP's streamable HTTP transport: one JSON-RPC message per POST, answered with
        application/json (the transport lets a server pick JSON over an SSE stream)."""
        return await self._mcp(request, request.match_info["toolbox_version"])

    async def invoke_toolbox_mcp(self, request: web.Request) -> web.StreamResponse:
        """``invoke_latest_toolbox_mcp``: the same, for the toolbox's default version."""
        return await self._mcp(request, None)

    async def _mcp(self, request: web.Request, label: str | None) -> web.StreamResponse:
        name = request.match_info["toolbox_name"]
        version = require_mcp_version(self.state.toolboxes, name, label)
        raw = await request.read()
        try:
            message = json.loads(raw) if raw else None
        except ValueError:
            message = None  # answered as an invalid request
        answer = handle_mcp(
            message,
            toolbox=name,
            version=version,
            session_id=request.headers.get(MCP_SESSION_HEADER),
        )
        headers = {MCP_SESSION_HEADER: answer.session_id} if answer.session_id else None
        if answer.message is None:
            return web.Response(status=answer.status, headers=headers)
        return json_response(answer.message, answer.status, headers)

    async def toolbox_mcp_stream(self, request: web.Request) -> web.StreamResponse:
        """No server-initiated messages: the transport's answer is 405 to the GET stream."""
        name = request.match_info["toolbox_name"]
        self.state.toolboxes.get_version(name, request.match_info["toolbox_version"])
        return web.Response(status=405, headers={"Allow": "POST, DELETE"})

    async def toolbox_mcp_end(self, request: web.Request) -> web.StreamResponse:
        """A client ending its session: nothing is kept per session, so nothing to drop."""
        name = request.match_info["toolbox_name"]
        self.state.toolboxes.get_version(name, request.match_info["toolbox_version"])
        return web.Response(status=204)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}.", code="invalid_json") from exc


async def _read_code_upload(request: web.Request) -> dict[str, Any]:
    """create_version_from_code: a multipart body with a JSON ``metadata`` and a ``code`` zip."""
    expected = request.headers.get("x-ms-code-zip-sha256", "").lower()
    if not expected:
        raise invalid("Missing header x-ms-code-zip-sha256.", param="x-ms-code-zip-sha256")
    metadata: Any = None
    digest: str | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "metadata":
            try:
                metadata = json.loads(await part.read(decode=True))
            except ValueError as exc:
                raise invalid("The 'metadata' part is not valid JSON.", param="metadata") from exc
        elif part.name == "code":
            sha = hashlib.sha256()
            while chunk := await part.read_chunk():
                sha.update(chunk)
            digest = sha.hexdigest()
    if metadata is None or digest is None:
        raise invalid("A code upload needs a 'metadata' part and a 'code' part.", param="body")
    if digest != expected:
        raise invalid(
            "x-ms-code-zip-sha256 does not match the uploaded code.", param="x-ms-code-zip-sha256"
        )
    body = require_object(metadata, "metadata")
    definition = require_object(body.get("definition"), "definition")
    code = require_object(definition.get("code_configuration"), "definition.code_configuration")
    return {
        **body,
        "definition": {**definition, "code_configuration": {**code, "content_hash": digest}},
    }


def _fault_error(decision: FaultDecision) -> ApiError:
    headers: dict[str, str] = {}
    if decision.retry_after is not None:
        seconds = decision.retry_after
        headers["Retry-After"] = str(int(seconds)) if seconds == int(seconds) else f"{seconds:g}"
    error_type = "rate_limit_error" if decision.status == 429 else "server_error"
    assert decision.status is not None
    return ApiError(
        decision.status, decision.code, decision.message, error_type=error_type, headers=headers
    )


def drop_connection(request: web.Request) -> web.StreamResponse:
    """Cut the connection without an answer, like a reset load balancer."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    # aiohttp needs a response object; nothing reaches the client through a closed transport.
    return web.Response(status=499)
