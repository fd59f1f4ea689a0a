"""The emulated project: agents, versions, sessions, and their lifecycle.

Concurrency model: every method here is synchronous and the server calls them from the one
event loop thread, so each call is atomic with respect to every other request. That is what
makes 200 concurrent creates yield 200 distinct, gap-free version numbers without a lock; do
not add an ``await`` inside these methods.

Lifecycle without timers: a version records when it settles (``ready_at``, wall clock) and
what it settles to; reads settle it lazily. The same rule holds after a restart, so versions
that were ``creating`` when the emulator stopped finish on their original schedule.
"""

from __future__ import annotations

import copy
import enum
import itertools
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import (
    EmulatorConfig,
    FailureMode,
    IdenticalDefinitionPolicy,
    RoutedVersionDeletePolicy,
    TrafficSplit,
)
from .errors import ApiError, conflict, invalid, not_found
from .failures import FailureRules
from .paging import Page, PageQuery, paginate
from .toolboxes import ToolboxStore
from .validation import (
    AGENT_KINDS,
    CreateVersionRequest,
    RoutingRule,
    merge_patch,
    reject_unknown_endpoint_fields,
    validate_agent_endpoint,
    validate_session_id,
)

SESSION_TTL_SECONDS = 30 * 24 * 3600
MAX_SESSION_LOG_LINES = 500
_GUID_NAMESPACE = uuid.UUID("8f6b0a52-3c1e-4a8e-9d51-6f1f5e0c2b7a")


class VersionStatus(enum.StrEnum):
    CREATING = "creating"
    ACTIVE = "active"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"


class SessionStatus(enum.StrEnum):
    ACTIVE = "active"
    IDLE = "idle"
    EXPIRED = "expired"


# Statuses that make a delete without force a 409.
_BUSY_SESSION_STATUSES = frozenset({SessionStatus.ACTIVE})


@dataclass
class NotAnswering:
    """An active version whose container never answers (failure mode ``not_answering``)."""

    status: int
    code: str
    # May hold ``{session}``, filled with the session each refusal names.
    message: str
    stderr: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "stderr": self.stderr,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> NotAnswering | None:
        if data is None:
            return None
        return cls(
            status=int(data["status"]),
            code=str(data["code"]),
            message=str(data["message"]),
            stderr=[str(line) for line in data.get("stderr", [])],
        )


@dataclass
class Version:
    number: int
    created_at: int
    definition: dict[str, Any]
    metadata: dict[str, str]
    description: str
    draft: bool
    blueprint_reference: dict[str, Any] | None
    status: VersionStatus
    ready_at: float
    settles_to: VersionStatus
    error: dict[str, str] | None = None
    not_answering: NotAnswering | None = None


@dataclass
class Session:
    session_id: str
    seq: int
    version: str
    status: SessionStatus
    created_at: int
    last_accessed_at: int
    stopped_at: int | None = None
    logs: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Agent:
    name: str
    seq: int
    created_at: int
    enabled: bool = True
    endpoint: dict[str, Any] | None = None
    agent_card: dict[str, Any] | None = None
    next_version: int = 1
    versions: dict[int, Version] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    next_session_seq: int = 1
    # Routing position; not persisted, a restart just restarts the rotation.
    route_counter: int = 0
    # The generator of ``routing.split: random`` and the seed it was made from.
    route_rng: tuple[int, random.Random] | None = None

    def latest(self) -> Version | None:
        """Newest non-draft version; the newest draft only when there is nothing else."""
        if not self.versions:
            return None
        released = [n for n, v in self.versions.items() if not v.draft]
        return self.versions[max(released) if released else max(self.versions)]


@dataclass(frozen=True)
class Route:
    version: Version
    percentage: int


class ProjectState:
    """All agents of one project, plus the dirty-tracking the persistence layer drains."""

    def __init__(
        self,
        project: str,
        config: EmulatorConfig,
        failure_rules: FailureRules,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.project = project
        self.config = config
        self.failure_rules = failure_rules
        self.clock = clock
        self.agents: dict[str, Agent] = {}
        self._agent_seq = itertools.count(1)
        # Sort keys of deleted agents, so a paging cursor naming one still resolves.
        self._agent_tombstones: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.on_dirty: Callable[[], None] | None = None
        # Toolboxes live beside the agents, persisted the same way (their own dirty set).
        self.dirty_toolboxes: set[str] = set()
        self.toolboxes = ToolboxStore(project, clock, self._touch_toolbox)

    # ----------------------------------------------------------------- bookkeeping

    def _now(self) -> int:
        return int(self.clock())

    def _touch(self, name: str) -> None:
        self.dirty.add(name)
        if self.on_dirty is not None:
            self.on_dirty()

    def _touch_toolbox(self, name: str) -> None:
        self.dirty_toolboxes.add(name)
        if self.on_dirty is not None:
            self.on_dirty()

    def _agent(self, name: str) -> Agent:
        agent = self.agents.get(name)
        if agent is None:
            raise not_found(
                f"Agent '{name}' was not found in project '{self.project}'.", param="agent_name"
            )
        return agent

    def _version(self, agent: Agent, version: str) -> Version:
        number = _version_number(version)
        found = agent.versions.get(number) if number is not None else None
        if found is None:
            raise not_found(
                f"Version '{version}' of agent '{agent.name}' was not found.", param="agent_version"
            )
        self._settle(agent, found)
        return found

    def _settle(self, agent: Agent, version: Version) -> None:
        if version.status is VersionStatus.CREATING and self.clock() >= version.ready_at:
            version.status = version.settles_to
            self._touch(agent.name)

    def settle_all(self) -> None:
        for agent in self.agents.values():
            for version in agent.versions.values():
                self._settle(agent, version)

    def reset(self) -> None:
        for name in list(self.agents):
            self._touch(name)
        self.agents.clear()
        self._agent_tombstones.clear()
        self._agent_seq = itertools.count(1)
        self.toolboxes.reset()

    # ------------------------------------------------------------------- versions

    def create_version(self, name: str, request: CreateVersionRequest) -> Version:
        failure = self.failure_rules.match(request.definition)
        if failure is not None and failure.mode is FailureMode.HTTP_ERROR:
            raise ApiError(
                failure.http_status,
                failure.code,
                failure.message,
                param="definition.container_configuration.image",
            )
        agent = self.agents.get(name)
        if agent is not None:
            if len(agent.versions) >= self.config.limits.max_versions_per_agent:
                raise ApiError(
                    400,
                    "UserError",
                    f"Agent '{name}' already has {len(agent.versions)} versions, the maximum "
                    "allowed. Delete older versions to create new ones.",
                )
            latest = agent.latest()
            if (
                self.config.lifecycle.identical_definition
                is IdenticalDefinitionPolicy.RETURN_LATEST
                and latest is not None
                and latest.definition == request.definition
            ):
                self._settle(agent, latest)
                return latest
        else:
            agent = Agent(name=name, seq=next(self._agent_seq), created_at=self._now())
            self._agent_tombstones.pop(name, None)
            self.agents[name] = agent

        now = self.clock()
        hosted = request.definition.get("kind") == "hosted"
        delay = self.config.lifecycle.provisioning_seconds
        settles_to = VersionStatus.ACTIVE
        error: dict[str, str] | None = None
        not_answering: NotAnswering | None = None
        if failure is not None:
            if failure.mode is FailureMode.NOT_ANSWERING:
                not_answering = NotAnswering(
                    failure.http_status, failure.code, failure.message, list(failure.stderr)
                )
            else:
                settles_to = VersionStatus.FAILED
                error = {"code": failure.code, "message": failure.message}
            if failure.delay_seconds is not None:
                delay = failure.delay_seconds
        version = Version(
            number=agent.next_version,
            created_at=int(now),
            definition=copy.deepcopy(request.definition),
            metadata=dict(request.metadata),
            description=request.description,
            draft=request.draft,
            blueprint_reference=request.blueprint_reference,
            # Only hosted agents provision infrastructure; other kinds are active at once.
            status=VersionStatus.CREATING if hosted else settles_to,
            ready_at=now + delay if hosted else now,
            settles_to=settles_to,
            error=error,
            not_answering=not_answering,
        )
        agent.next_version += 1
        agent.versions[version.number] = version
        self._touch(name)
        return version

    def get_version(self, name: str, version: str) -> tuple[Agent, Version]:
        agent = self._agent(name)
        return agent, self._version(agent, version)

    def list_versions(
        self, name: str, query: PageQuery, include_drafts: bool
    ) -> tuple[Agent, Page[Version]]:
        agent = self._agent(name)
        items = [v for v in agent.versions.values() if include_drafts or not v.draft]
        for item in items:
            self._settle(agent, item)

        def cursor_key(cursor: str) -> int | None:
            return _version_number(cursor.rsplit(":", 1)[-1])

        page = paginate(
            items,
            key=lambda v: v.number,
            ident=lambda v: f"{name}:{v.number}",
            cursor_key=cursor_key,
            query=query,
            last_id_on_final_page=self.config.paging.last_id_on_final_page,
        )
        return agent, page

    def delete_version(self, name: str, version: str, *, force: bool) -> dict[str, Any]:
        agent = self._agent(name)
        found = self._version(agent, version)
        label = str(found.number)
        busy = [s for s in agent.sessions.values() if s.version == label and self._session_busy(s)]
        if busy and not force:
            raise conflict(
                "active_sessions",
                f"Version {label} of agent '{name}' has {len(busy)} active session(s). "
                "Stop them or delete with force=true.",
            )
        routed = label in {r.agent_version for r in _routing_rules(agent)}
        if routed:
            policy = self.config.lifecycle.delete_routed_version
            if policy is RoutedVersionDeletePolicy.REJECT or (
                policy is RoutedVersionDeletePolicy.REQUIRE_FORCE and not force
            ):
                raise conflict(
                    "version_in_use",
                    f"Version {label} of agent '{name}' receives traffic from the agent "
                    "endpoint's version_selector. Route traffic elsewhere first"
                    + (
                        "."
                        if policy is RoutedVersionDeletePolicy.REJECT
                        else ", or use force=true."
                    ),
                )
            # The selector's rules for the version go; the others keep their proportions.
            agent.endpoint = _drop_route(agent.endpoint, label)
        for session_id in [s.session_id for s in agent.sessions.values() if s.version == label]:
            del agent.sessions[session_id]
        del agent.versions[found.number]
        if not agent.versions:
            # AgentDetails cannot exist without versions.latest, so the agent goes too.
            self._forget_agent(agent)
        self._touch(name)
        return {"object": "agent.version.deleted", "name": name, "version": label, "deleted": True}

    def force_version_status(
        self, name: str, version: str, status: VersionStatus, error: dict[str, str] | None
    ) -> Version:
        """Admin hook: move a version to a status now (tests of rare transitions).

        ``creating`` restarts provisioning, which then ends ``active``.
        """
        agent = self._agent(name)
        found = self._version(agent, version)
        found.status = status
        found.error = error if status is VersionStatus.FAILED else None
        if status is VersionStatus.CREATING:
            found.settles_to = VersionStatus.ACTIVE
            found.ready_at = self.clock() + self.config.lifecycle.provisioning_seconds
        else:
            found.settles_to = status
        self._touch(name)
        return found

    # --------------------------------------------------------------------- agents

    def get_agent(self, name: str) -> Agent:
        agent = self._agent(name)
        latest = agent.latest()
        if latest is not None:
            self._settle(agent, latest)
        return agent

    def list_agents(self, query: PageQuery, kind: str | None) -> Page[Agent]:
        if kind is not None and kind not in AGENT_KINDS:
            raise invalid(f"kind must be one of {', '.join(sorted(AGENT_KINDS))}.", param="kind")
        items: list[Agent] = []
        for agent in self.agents.values():
            latest = agent.latest()
            if latest is None:
                continue
            self._settle(agent, latest)
            if kind is None or latest.definition.get("kind") == kind:
                items.append(agent)

        def cursor_key(cursor: str) -> int | None:
            agent = self.agents.get(cursor)
            return agent.seq if agent is not None else self._agent_tombstones.get(cursor)

        return paginate(
            items,
            key=lambda a: a.seq,
            ident=lambda a: a.name,
            cursor_key=cursor_key,
            query=query,
            last_id_on_final_page=self.config.paging.last_id_on_final_page,
        )

    def delete_agent(self, name: str, *, force: bool) -> dict[str, Any]:
        agent = self._agent(name)
        busy = [s for s in agent.sessions.values() if self._session_busy(s)]
        if busy and not force:
            raise conflict(
                "active_sessions",
                f"Agent '{name}' has {len(busy)} active session(s). Stop them or delete "
                "with force=true.",
            )
        self._forget_agent(agent)
        self._touch(name)
        return {"object": "agent.deleted", "name": name, "deleted": True}

    def _forget_agent(self, agent: Agent) -> None:
        self._agent_tombstones[agent.name] = agent.seq
        self.agents.pop(agent.name, None)

    def update_details(self, name: str, body: dict[str, Any]) -> Agent:
        agent = self._agent(name)
        endpoint = agent.endpoint
        if "agent_endpoint" in body:
            patch = body["agent_endpoint"]
            if self.config.validation.reject_unknown_fields:
                reject_unknown_endpoint_fields(patch)
            endpoint = merge_patch(agent.endpoint or {}, patch) if patch is not None else None
            if endpoint is not None:
                rules = validate_agent_endpoint(endpoint)
                for index, rule in enumerate(rules):
                    self._check_route_target(agent, rule.agent_version, index)
        card = agent.agent_card
        if "agent_card" in body:
            patch = body["agent_card"]
            card = merge_patch(agent.agent_card or {}, patch) if patch is not None else None
            if card is not None and not isinstance(card, dict):
                raise invalid("agent_card must be a JSON object.", param="agent_card")
        agent.endpoint = endpoint or None
        agent.agent_card = card or None
        self._touch(name)
        return self.get_agent(name)

    def _check_route_target(self, agent: Agent, label: str, index: int) -> None:
        param = f"agent_endpoint.version_selector.version_selection_rules[{index}].agent_version"
        number = _version_number(label)
        version = agent.versions.get(number) if number is not None else None
        if version is None:
            raise invalid(f"Version '{label}' of agent '{agent.name}' does not exist.", param=param)
        self._settle(agent, version)
        if version.draft:
            raise invalid(f"Version '{label}' is a draft and cannot receive traffic.", param=param)
        if version.status is VersionStatus.FAILED:
            raise invalid(
                f"Version '{label}' failed to provision and cannot receive traffic.", param=param
            )

    def set_enabled(self, name: str, enabled: bool) -> None:
        agent = self._agent(name)
        if agent.enabled != enabled:
            agent.enabled = enabled
            self._touch(name)

    # ------------------------------------------------------------------- routing

    def route(self, name: str) -> Route:
        """Pick the version serving the next request that names no existing session.

        ``routing.split: rotation`` (the default) walks the 100 percentage slots in a
        scrambled order, slot = (n * 37) mod 100 for the agent's n-th routed request (37 is
        coprime with 100): any 100 consecutive requests split exactly as configured, and a
        90/10 split interleaves instead of sending 90 requests in a row to one version.
        ``random`` draws each request from a generator seeded with ``routing.seed`` and the
        agent's name: proportions are only approximate, but a run repeats exactly.
        """
        agent = self._agent(name)
        rules = _routing_rules(agent)
        if not rules:
            latest = agent.latest()
            if latest is None:  # pragma: no cover - agents always have a version
                raise not_found(f"Agent '{name}' has no versions.")
            self._settle(agent, latest)
            return Route(latest, 100)
        total = sum(rule.traffic_percentage for rule in rules)
        if self.config.routing.split is TrafficSplit.RANDOM:
            slot = self._route_rng(agent).random() * total
        else:
            slot = ((agent.route_counter * 37) % 100) * total / 100
            agent.route_counter += 1
        cumulative = 0
        chosen = rules[-1]
        for rule in rules:
            cumulative += rule.traffic_percentage
            if slot < cumulative:
                chosen = rule
                break
        number = _version_number(chosen.agent_version)
        version = agent.versions.get(number) if number is not None else None
        if version is None:  # pragma: no cover - deleting a version drops its rule
            raise ApiError(
                409,
                "version_not_found",
                f"The version_selector of agent '{name}' routes to version "
                f"{chosen.agent_version}, which no longer exists.",
            )
        self._settle(agent, version)
        return Route(version, chosen.traffic_percentage)

    def _route_rng(self, agent: Agent) -> random.Random:
        seed = self.config.routing.seed
        if agent.route_rng is None or agent.route_rng[0] != seed:
            # A str seed is hashed with SHA-512 by random.Random: stable across runs.
            agent.route_rng = (seed, random.Random(f"{seed}/{agent.name}"))
        return agent.route_rng[1]

    def pinned_version(self, agent: Agent, session_id: str | None) -> Version | None:
        """The version an existing session runs, for a request naming that session."""
        session = agent.sessions.get(session_id) if session_id else None
        if session is None:
            return None
        number = _version_number(session.version)
        version = agent.versions.get(number) if number is not None else None
        if version is None:  # pragma: no cover - a version's sessions go with it
            raise not_found(
                f"Version {session.version} of session '{session.session_id}' no longer exists.",
                param="agent_session_id",
            )
        self._settle(agent, version)
        return version

    # ------------------------------------------------------------------ sessions

    def _session_busy(self, session: Session) -> bool:
        self._settle_session(session)
        return session.status in _BUSY_SESSION_STATUSES

    def _settle_session(self, session: Session) -> None:
        if session.status is not SessionStatus.EXPIRED and (
            self.clock() > session.last_accessed_at + SESSION_TTL_SECONDS
        ):
            session.status = SessionStatus.EXPIRED

    def require_serving(
        self, agent: Agent, version: Version, *, invocation: bool, existing_session: bool = False
    ) -> None:
        """Raise when ``version`` of ``agent`` cannot take sessions or requests.

        ``invocation`` selects the Responses statuses (configurable, with Retry-After while a
        version is still creating, which the openai client honours). Management calls get a
        plain 409 without Retry-After: azure-core retries *any* status carrying Retry-After,
        even a POST, which would turn a quick answer into a slow one. ``existing_session``
        marks a request on a session that already exists, which a disabled agent may still
        serve (``responses.disabled_serves_existing_sessions``).
        """
        settings = self.config.responses
        draining = existing_session and settings.disabled_serves_existing_sessions
        if not agent.enabled and not draining:
            raise ApiError(
                settings.disabled_status,
                "agent_disabled",
                f"Agent '{agent.name}' is disabled. Enable it to accept sessions and requests.",
                headers={"x-should-retry": "false"},
            )
        if version.status is VersionStatus.CREATING:
            message = f"Version {version.number} of agent '{agent.name}' is still being created."
            if not invocation:
                raise conflict("agent_version_not_ready", message)
            wait = max(1, int(version.ready_at - self.clock() + 0.999))
            raise ApiError(
                settings.not_ready_status,
                "agent_version_not_ready",
                message,
                headers={"Retry-After": str(wait)},
            )
        if version.status is VersionStatus.FAILED:
            # Seen live (azure-dev #7515) on an invocation: 400 agent_version_failed, the
            # provisioning error's category in brackets. Sessions get the same answer.
            error = version.error or {}
            code = error.get("code", "ProvisioningFailed")
            detail = error.get("message", "The version failed to provision.")
            raise ApiError(
                settings.failed_status,
                "agent_version_failed",
                f"Agent version provisioning failed: [{code}] {detail}",
                headers={"x-should-retry": "false"},
            )
        if version.status is not VersionStatus.ACTIVE:
            raise ApiError(
                409,
                "agent_version_not_active",
                f"Version {version.number} of agent '{agent.name}' is {version.status.value} "
                "and cannot serve requests.",
                headers={"x-should-retry": "false"},
            )

    def create_session(
        self, name: str, version_label: str, session_id: str | None
    ) -> tuple[Agent, Session]:
        agent = self._agent(name)
        number = _version_number(version_label)
        version = agent.versions.get(number) if number is not None else None
        if version is None:
            raise invalid(
                f"Version '{version_label}' of agent '{name}' does not exist.",
                param="version_indicator.agent_version",
            )
        self._settle(agent, version)
        self.require_serving(agent, version, invocation=False)
        if session_id is not None:
            validate_session_id(session_id)
            if session_id in agent.sessions:
                raise conflict(
                    "session_exists",
                    f"Session '{session_id}' already exists for agent '{name}'.",
                    param="agent_session_id",
                )
        else:
            session_id = f"sess_{secrets.token_hex(12)}"
        now = self._now()
        session = Session(
            session_id=session_id,
            seq=agent.next_session_seq,
            version=str(version.number),
            status=SessionStatus.ACTIVE,
            created_at=now,
            last_accessed_at=now,
        )
        agent.next_session_seq += 1
        agent.sessions[session_id] = session
        self._log(session, "status", "Connecting to the container 'agent-container'...")
        self._log(session, "status", "Successfully connected to container")
        if version.not_answering is not None:
            # What a crash at boot leaves: the process's last stderr lines, then its exit.
            for line in version.not_answering.stderr:
                self._log(session, "stderr", line)
            self._log(session, "status", "Container 'agent-container' exited with code 1")
        else:
            self._log(
                session,
                "stdout",
                f"Starting agent '{name}' version {version.number} on port 8088",
            )
            self._log(session, "stderr", "INFO: Application startup complete.")
        self._touch(name)
        return agent, session

    def not_answering_error(self, agent: Agent, version: Version, session: Session) -> ApiError:
        """The refusal of a request on ``session`` of a version that never answers."""
        failure = version.not_answering
        assert failure is not None
        return ApiError(
            failure.status,
            failure.code,
            failure.message.replace("{session}", session.session_id),
            headers={"x-agent-name": agent.name, "x-agent-version": str(version.number)},
        )

    def get_session(self, name: str, session_id: str) -> Session:
        agent = self._agent(name)
        session = agent.sessions.get(session_id)
        if session is None:
            raise not_found(
                f"Session '{session_id}' of agent '{name}' was not found.", param="session_id"
            )
        self._settle_session(session)
        return session

    def list_sessions(self, name: str, query: PageQuery) -> Page[Session]:
        agent = self._agent(name)
        for session in agent.sessions.values():
            self._settle_session(session)

        def cursor_key(cursor: str) -> int | None:
            session = agent.sessions.get(cursor)
            return session.seq if session is not None else None

        return paginate(
            list(agent.sessions.values()),
            key=lambda s: s.seq,
            ident=lambda s: s.session_id,
            cursor_key=cursor_key,
            query=query,
            last_id_on_final_page=self.config.paging.last_id_on_final_page,
        )

    def delete_session(self, name: str, session_id: str) -> None:
        agent = self._agent(name)
        if agent.sessions.pop(session_id, None) is not None:
            self._touch(name)

    def stop_session(self, name: str, session_id: str) -> None:
        session = self.get_session(name, session_id)
        if session.status is SessionStatus.ACTIVE:
            session.status = SessionStatus.IDLE
            session.stopped_at = self._now()
            self._log(session, "status", "Session stopped")
            self._touch(name)

    def session_for_request(self, agent: Agent, version: Version, session_id: str) -> Session:
        """The session a Responses call names; created on first use when configured."""
        session = agent.sessions.get(session_id)
        if session is None:
            if not self.config.responses.create_missing_session:
                raise not_found(
                    f"Session '{session_id}' of agent '{agent.name}' was not found.",
                    param="agent_session_id",
                )
            _, session = self.create_session(agent.name, str(version.number), session_id)
        self._settle_session(session)
        if session.status is SessionStatus.EXPIRED:
            raise conflict(
                "session_expired", f"Session '{session_id}' has expired.", param="agent_session_id"
            )
        session.status = SessionStatus.ACTIVE
        session.last_accessed_at = self._now()
        self._touch(agent.name)
        return session

    def log(self, agent: Agent, session: Session, stream: str, message: str) -> None:
        self._log(session, stream, message)
        self._touch(agent.name)

    def _log(self, session: Session, stream: str, message: str) -> None:
        now = self.clock()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        millis = int((now % 1) * 1000)
        session.logs.append(
            {"timestamp": f"{stamp}.{millis:03d}Z", "stream": stream, "message": message}
        )
        del session.logs[:-MAX_SESSION_LOG_LINES]

    # ------------------------------------------------------------------ rendering

    def render_version(self, name: str, version: Version) -> dict[str, Any]:
        definition = version.definition
        if (
            self.config.lifecycle.echo_container_protocol_versions
            and definition.get("kind") == "hosted"
            and "container_protocol_versions" not in definition
        ):
            definition = {**definition, "container_protocol_versions": []}
        body: dict[str, Any] = {
            "object": "agent.version",
            "id": f"{name}:{version.number}",
            "name": name,
            "version": str(version.number),
            "description": version.description,
            "created_at": version.created_at,
            "definition": definition,
            "metadata": version.metadata,
            "draft": version.draft,
            "status": version.status.value,
            "agent_guid": str(uuid.uuid5(_GUID_NAMESPACE, f"{self.project}/{name}")),
            "instance_identity": _identity(self.project, name),
        }
        if version.blueprint_reference is not None:
            body["blueprint_reference"] = version.blueprint_reference
        if version.status is VersionStatus.FAILED and version.error is not None:
            body["error"] = version.error
        return body

    def render_agent(self, agent: Agent) -> dict[str, Any]:
        state = "enabled" if agent.enabled else "disabled"
        latest = agent.latest()
        body: dict[str, Any] = {
            "object": "agent",
            "id": agent.name,
            "name": agent.name,
            "state": state,
            "configuration_state": state,
            "versions": {"latest": self.render_version(agent.name, latest) if latest else None},
            "instance_identity": _identity(self.project, agent.name),
        }
        if agent.endpoint is not None:
            body["agent_endpoint"] = agent.endpoint
        if agent.agent_card is not None:
            body["agent_card"] = agent.agent_card
        return body

    @staticmethod
    def render_session(session: Session) -> dict[str, Any]:
        body: dict[str, Any] = {
            "agent_session_id": session.session_id,
            "version_indicator": {"type": "version_ref", "agent_version": session.version},
            "status": session.status.value,
            "created_at": session.created_at,
            "last_accessed_at": session.last_accessed_at,
            "expires_at": session.last_accessed_at + SESSION_TTL_SECONDS,
        }
        if session.stopped_at is not None:
            body["stopped_at"] = session.stopped_at
        return body

    # ---------------------------------------------------------------- persistence

    def dump_agent(self, name: str) -> dict[str, Any] | None:
        """The persisted record of an agent, or None when it no longer exists."""
        agent = self.agents.get(name)
        if agent is None:
            return None
        record = self.dump_agent_header(agent)
        record["versions"] = [dump_version(v) for v in agent.versions.values()]
        return record

    @staticmethod
    def dump_agent_header(agent: Agent) -> dict[str, Any]:
        """Everything of an agent's record except its versions (see persistence.py)."""
        return {
            "name": agent.name,
            "seq": agent.seq,
            "created_at": agent.created_at,
            "enabled": agent.enabled,
            "endpoint": agent.endpoint,
            "agent_card": agent.agent_card,
            "next_version": agent.next_version,
            "next_session_seq": agent.next_session_seq,
            "sessions": [
                {
                    "session_id": s.session_id,
                    "seq": s.seq,
                    "version": s.version,
                    "status": s.status.value,
                    "created_at": s.created_at,
                    "last_accessed_at": s.last_accessed_at,
                    "stopped_at": s.stopped_at,
                    "logs": s.logs,
                }
                for s in agent.sessions.values()
            ],
        }

    def load_agent(self, record: dict[str, Any]) -> None:
        agent = Agent(
            name=record["name"],
            seq=int(record["seq"]),
            created_at=int(record["created_at"]),
            enabled=bool(record["enabled"]),
            endpoint=record.get("endpoint"),
            agent_card=record.get("agent_card"),
            next_version=int(record["next_version"]),
            next_session_seq=int(record.get("next_session_seq", 1)),
        )
        for v in record["versions"]:
            agent.versions[int(v["number"])] = Version(
                number=int(v["number"]),
                created_at=int(v["created_at"]),
                definition=v["definition"],
                metadata=v["metadata"],
                description=v["description"],
                draft=bool(v["draft"]),
                blueprint_reference=v.get("blueprint_reference"),
                status=VersionStatus(v["status"]),
                ready_at=float(v["ready_at"]),
                settles_to=VersionStatus(v["settles_to"]),
                error=v.get("error"),
                not_answering=NotAnswering.from_json(v.get("not_answering")),
            )
        for s in record.get("sessions", []):
            agent.sessions[s["session_id"]] = Session(
                session_id=s["session_id"],
                seq=int(s["seq"]),
                version=s["version"],
                status=SessionStatus(s["status"]),
                created_at=int(s["created_at"]),
                last_accessed_at=int(s["last_accessed_at"]),
                stopped_at=s.get("stopped_at"),
                logs=list(s.get("logs", [])),
            )
        self.agents[agent.name] = agent
        # Keep new agents sorting after every restored one.
        highest = max(a.seq for a in self.agents.values())
        self._agent_seq = itertools.count(highest + 1)


def dump_version(v: Version) -> dict[str, Any]:
    return {
        "number": v.number,
        "created_at": v.created_at,
        "definition": v.definition,
        "metadata": v.metadata,
        "description": v.description,
        "draft": v.draft,
        "blueprint_reference": v.blueprint_reference,
        "status": v.status.value,
        "ready_at": v.ready_at,
        "settles_to": v.settles_to.value,
        "error": v.error,
        "not_answering": v.not_answering.to_json() if v.not_answering is not None else None,
    }


def _version_number(label: str) -> int | None:
    if not label.isdigit() or len(label) > 9:
        return None
    number = int(label)
    return number if number >= 1 else None


def _routing_rules(agent: Agent) -> list[RoutingRule]:
    selector = (agent.endpoint or {}).get("version_selector") or {}
    rules = selector.get("version_selection_rules") or []
    return [
        RoutingRule(str(r.get("agent_version")), int(r.get("traffic_percentage", 0)))
        for r in rules
        if isinstance(r, dict)
    ]


def _drop_route(endpoint: dict[str, Any] | None, label: str) -> dict[str, Any] | None:
    """Remove ``label`` from the selector; the remaining rules keep their share in proportion."""
    if endpoint is None:
        return None
    selector = endpoint.get("version_selector") or {}
    rules = [
        r
        for r in selector.get("version_selection_rules") or []
        if str(r.get("agent_version")) != label
    ]
    result = dict(endpoint)
    if not rules:
        result.pop("version_selector", None)
        return result
    total = sum(int(r.get("traffic_percentage", 0)) for r in rules)
    rescaled = [dict(r) for r in rules]
    if total > 0:
        for r in rescaled:
            r["traffic_percentage"] = int(r.get("traffic_percentage", 0)) * 100 // total
        rescaled[0]["traffic_percentage"] += 100 - sum(r["traffic_percentage"] for r in rescaled)
    else:
        rescaled[0]["traffic_percentage"] = 100
    result["version_selector"] = {**selector, "version_selection_rules": rescaled}
    return result


def _identity(project: str, name: str) -> dict[str, str]:
    return {
        "principal_id": str(uuid.uuid5(_GUID_NAMESPACE, f"principal/{project}/{name}")),
        "client_id": str(uuid.uuid5(_GUID_NAMESPACE, f"client/{project}/{name}")),
        "status": "active",
    }
