"""The emulator's own endpoints: the admin API under ``/_emulator`` and the identity endpoint.

The admin API is served on both ports; ``admin_url`` in emulator.json points at the plain
http one so tools need no CA. It is unauthenticated unless ``admin_token`` is configured, in
which case every admin call but ``health`` needs ``Authorization: Bearer <admin_token>``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from .config import MANAGED_IDENTITY_PRINCIPAL, FailureRule, FaultRule, merge_runtime_patch
from .errors import ApiError, invalid, not_found
from .server import (
    ADMIN_PREFIX,
    Emulator,
    Handler,
    drop_connection,
    error_response,
    json_response,
)
from .state import VersionStatus
from .validation import require_object

IDENTITY_PATH = "/msi/token"


def admin_app(emulator: Emulator) -> web.Application:
    """A sub-application for ``/_emulator``; build one per parent app."""
    api = _AdminApi(emulator)
    app = web.Application(middlewares=[api.middleware])
    router = app.router
    router.add_get("/health", api.health)
    router.add_get("/stats", api.stats)
    router.add_post("/reset", api.reset)
    router.add_get("/config", api.get_config)
    router.add_patch("/config", api.patch_config)
    router.add_get("/faults", api.list_faults)
    router.add_post("/faults", api.add_fault)
    router.add_put("/faults", api.replace_faults)
    router.add_delete("/faults", api.clear_faults)
    router.add_delete("/faults/{rule_id}", api.delete_fault)
    router.add_get("/failure-rules", api.list_failure_rules)
    router.add_post("/failure-rules", api.add_failure_rule)
    router.add_put("/failure-rules", api.replace_failure_rules)
    router.add_delete("/failure-rules/{rule_id}", api.delete_failure_rule)
    router.add_post("/agents/{agent_name}/versions/{agent_version}/status", api.force_status)
    router.add_get("/state", api.dump_state)
    router.add_get("/requests", api.list_requests)
    router.add_delete("/requests", api.clear_requests)
    router.add_post("/token", api.token)
    return app


def identity_app(emulator: Emulator) -> web.Application:
    """The plain-http side: the managed-identity token endpoint plus the admin API."""
    app = web.Application()
    app.router.add_get(IDENTITY_PATH, _IdentityEndpoint(emulator).handle)
    app.add_subapp(ADMIN_PREFIX, admin_app(emulator))
    return app


class _IdentityEndpoint:
    """App Service managed identity (api-version 2019-08-01), as azure-identity calls it."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle(self, request: web.Request) -> web.StreamResponse:
        emulator = self.emulator
        decision = emulator.faults.decide("token")
        if decision.delay_seconds > 0:
            await asyncio.sleep(decision.delay_seconds)
        if decision.drop:
            emulator.stats.record("token", "dropped")
            return drop_connection(request)
        if decision.status is not None:
            emulator.stats.record("token", decision.status)
            return _identity_error(decision.status, decision.message)
        secret = request.headers.get("X-IDENTITY-HEADER", "")
        if not hmac.compare_digest(secret, emulator.identity_header):
            emulator.stats.record("token", 401)
            return _identity_error(401, "X-IDENTITY-HEADER is missing or wrong.")
        resource = request.query.get("resource")
        if not resource:
            emulator.stats.record("token", 400)
            return _identity_error(400, "The 'resource' query parameter is required.")
        lifetime = emulator.config.auth.token_lifetime_seconds
        token, expires_on = emulator.issuer.issue(resource, lifetime, MANAGED_IDENTITY_PRINCIPAL)
        emulator.stats.record("token", 200)
        return json_response(
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": request.query.get("client_id", "00000000-0000-0000-0000-000000000000"),
            }
        )


def _identity_error(status: int, message: str) -> web.Response:
    return json_response({"statusCode": status, "message": message}, status=status)


class _AdminApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            token = self.emulator.config.admin_token
            if token and not request.path.endswith("/health"):
                supplied = request.headers.get("Authorization", "").removeprefix("Bearer ")
                if not hmac.compare_digest(supplied, token):
                    raise ApiError(
                        401,
                        "Unauthorized",
                        "The admin API needs the admin token.",
                        error_type="authentication_error",
                    )
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except ValidationError as exc:
            return error_response(invalid(_pydantic_message(exc), code="invalid_admin_request"))
        except re.error as exc:
            return error_response(invalid(f"Invalid regex: {exc}", param="regex"))

    async def health(self, request: web.Request) -> web.StreamResponse:
        return json_response(
            {
                "status": "ok",
                "project": self.emulator.project,
                "projects": sorted(self.emulator.states),
                "pid": os.getpid(),
            }
        )

    async def stats(self, request: web.Request) -> web.StreamResponse:
        body = self.emulator.stats.snapshot()
        body["faults_fired"] = dict(self.emulator.faults.fired)
        return json_response(body)

    async def reset(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        cleared: list[str] = []
        if body.get("state", True):
            for state in self.emulator.states.values():
                state.reset()
            cleared.append("state")
        if body.get("stats", True):
            self.emulator.stats.reset()
            self.emulator.faults.fired.clear()
            self.emulator.recorder.clear()
            cleared.append("stats")
        if body.get("faults", False):
            self.emulator.faults.clear()
            cleared.append("faults")
        return json_response({"cleared": cleared})

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(_public_config(self.emulator))

    async def patch_config(self, request: web.Request) -> web.StreamResponse:
        patch = await _json_object(request)
        try:
            config = merge_runtime_patch(self.emulator.config, patch)
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                raise
            raise invalid(str(exc)) from exc
        self.emulator.set_config(config)
        return json_response(_public_config(self.emulator))

    async def list_faults(self, request: web.Request) -> web.StreamResponse:
        return json_response({"data": self.emulator.faults.list()})

    async def add_fault(self, request: web.Request) -> web.StreamResponse:
        rule = self.emulator.faults.add(FaultRule.model_validate(await _json_object(request)))
        return json_response(rule.model_dump(mode="json"), status=201)

    async def replace_faults(self, request: web.Request) -> web.StreamResponse:
        rules = [FaultRule.model_validate(item) for item in await _json_list(request)]
        self.emulator.faults.clear()
        for rule in rules:
            self.emulator.faults.add(rule)
        return json_response({"data": self.emulator.faults.list()})

    async def clear_faults(self, request: web.Request) -> web.StreamResponse:
        self.emulator.faults.clear()
        return web.Response(status=204)

    async def delete_fault(self, request: web.Request) -> web.StreamResponse:
        if not self.emulator.faults.remove(request.match_info["rule_id"]):
            raise not_found(f"No fault '{request.match_info['rule_id']}'.")
        return web.Response(status=204)

    async def list_failure_rules(self, request: web.Request) -> web.StreamResponse:
        rules = self.emulator.failure_rules.list()
        return json_response({"data": [r.model_dump(mode="json") for r in rules]})

    async def add_failure_rule(self, request: web.Request) -> web.StreamResponse:
        rule = FailureRule.model_validate(await _json_object(request))
        added = self.emulator.failure_rules.add(rule, first=True)
        return json_response(added.model_dump(mode="json"), status=201)

    async def replace_failure_rules(self, request: web.Request) -> web.StreamResponse:
        rules = [FailureRule.model_validate(item) for item in await _json_list(request)]
        self.emulator.failure_rules.replace(rules)
        return await self.list_failure_rules(request)

    async def delete_failure_rule(self, request: web.Request) -> web.StreamResponse:
        if not self.emulator.failure_rules.remove(request.match_info["rule_id"]):
            raise not_found(f"No failure rule '{request.match_info['rule_id']}'.")
        return web.Response(status=204)

    async def force_status(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        try:
            status = VersionStatus(str(body.get("status")))
        except ValueError as exc:
            raise invalid("status must be creating, active or failed.", param="status") from exc
        if status not in (VersionStatus.CREATING, VersionStatus.ACTIVE, VersionStatus.FAILED):
            raise invalid("status must be creating, active or failed.", param="status")
        error = body.get("error")
        if status is VersionStatus.FAILED:
            error = require_object(
                error
                or {"code": "image_pull_failed", "message": "Failed by the emulator admin API."},
                "error",
            )
        name = request.match_info["agent_name"]
        version = self.emulator.state.force_version_status(
            name, request.match_info["agent_version"], status, error
        )
        return json_response(self.emulator.state.render_version(name, version))

    async def dump_state(self, request: web.Request) -> web.StreamResponse:
        name = request.query.get("project")
        state = self.emulator.states.get(name) if name else self.emulator.default_state
        if state is None:
            raise not_found(f"Project '{name}' was not found.", param="project")
        state.settle_all()
        agents = []
        for agent in state.agents.values():
            body = state.render_agent(agent)
            body["all_versions"] = [
                state.render_version(agent.name, v) for v in agent.versions.values()
            ]
            body["sessions"] = [state.render_session(s) for s in agent.sessions.values()]
            agents.append(body)
        toolboxes = []
        for toolbox in state.toolboxes.toolboxes.values():
            body = state.toolboxes.render_toolbox(toolbox)
            body["all_versions"] = [
                state.toolboxes.render_version(toolbox.name, v) for v in toolbox.versions.values()
            ]
            toolboxes.append(body)
        return json_response({"project": state.project, "agents": agents, "toolboxes": toolboxes})

    async def list_requests(self, request: web.Request) -> web.StreamResponse:
        found = self.emulator.recorder.matching(
            operation=request.query.get("operation"), agent=request.query.get("agent")
        )
        return json_response({"data": [r.to_json() for r in found]})

    async def clear_requests(self, request: web.Request) -> web.StreamResponse:
        self.emulator.recorder.clear()
        return web.Response(status=204)

    async def token(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        resource = str(body.get("resource") or self.emulator.config.auth.audiences[0])
        lifetime = self.emulator.config.auth.token_lifetime_seconds
        subject = body.get("client_id")
        token, expires_on = self.emulator.issuer.issue(
            resource, lifetime, str(subject) if subject is not None else None
        )
        return json_response(
            {
                "access_token": token,
                "expires_on": expires_on,
                "resource": resource,
                "token_type": "Bearer",
            }
        )


def _public_config(emulator: Emulator) -> dict[str, Any]:
    data = emulator.config.model_dump(mode="json")
    if data.get("admin_token"):
        data["admin_token"] = "***"
    data["failure_rules"] = [r.model_dump(mode="json") for r in emulator.failure_rules.list()]
    data["faults"] = emulator.faults.list()
    return data


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}.") from exc


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = await _json_body(request)
    return {} if body is None else require_object(body, "body")


async def _json_list(request: web.Request) -> list[Any]:
    body = await _json_body(request)
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        body = body["data"]
    if not isinstance(body, list):
        raise invalid('Expected a JSON list (or {"data": [...]}).')
    return body


def _pydantic_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )
