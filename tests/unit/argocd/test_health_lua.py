"""examples/argocd/health.lua on hand-written HostedAgents, in a sandbox shaped like Argo CD's.

The integration tier runs the same script on statuses the operator really wrote
(tests/integration/gitops/test_argocd_health_real_statuses.py); this table pins the rules,
including the corners a live operator rarely shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from unit.argocd.healthcheck import HEALTH_LUA, evaluate

REMEDIATION = "Let Foundry pull the image: grant the project's managed identity AcrPull."


def condition(
    type_: str, status: str, reason: str, message: str = "", generation: int | None = 1
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    if generation is not None:
        c["observedGeneration"] = generation
    return c


def hagent(
    status: dict[str, Any] | None = None, *, generation: Any = 1, **meta: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "foundry.agents.dev/v1alpha1",
        "kind": "HostedAgent",
        "metadata": {"name": "chat", "namespace": "agents", "generation": generation, **meta},
        "spec": {"image": "myregistry.azurecr.io/agents/chat:1"},
    }
    if status is not None:
        obj["status"] = status
    return obj


def settled(
    phase: str,
    ready: tuple[str, str, str],
    progressing: tuple[str, str] = ("False", "AsExpected"),
    degraded: tuple[str, str] = ("False", "AsExpected"),
    *,
    generation: int = 1,
    message: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A status as the operator writes it: the three conditions at ``generation``."""
    return {
        "observedGeneration": generation,
        "agentName": "chat",
        "phase": phase,
        "conditions": [
            condition("Ready", ready[0], ready[1], ready[2], generation),
            condition("Progressing", progressing[0], progressing[1], message, generation),
            condition("Degraded", degraded[0], degraded[1], message, generation),
        ],
        **extra,
    }


READY = settled("Ready", ("True", "VersionActive", ""), servingVersion="3", latestVersion="3")
SUSPENDED = settled(
    "Suspended",
    ("False", "Suspended", "Foundry agent 'chat' is disabled because spec.suspend is true"),
    ("False", "Suspended"),
    servingVersion="3",
    suspended=True,
)
IMAGE_PULL = settled(
    "Failed",
    ("False", "ImagePullBackOff", f"Failed to pull image. {REMEDIATION}"),
    degraded=("True", "ImagePullBackOff"),
    message=f"Failed to pull image. {REMEDIATION}",
    lastError={"code": "image_pull_failed", "message": "x", "remediation": REMEDIATION},
)


@dataclass(frozen=True)
class Row:
    name: str
    obj: dict[str, Any]
    health: str
    says: tuple[str, ...] = field(default=())


ROWS = [
    Row("no status at all", hagent(None), "Progressing", ("report status",)),
    Row("empty status", hagent({}), "Progressing", ("report status",)),
    Row("ready", hagent(READY), "Healthy", ("Version 3 of agent chat is serving",)),
    Row(
        "suspended by spec.suspend",
        hagent(SUSPENDED),
        "Suspended",
        ("Suspended: Foundry agent 'chat' is disabled",),
    ),
    Row(
        "suspended, but the spec changed since (perhaps resumed)",
        hagent(SUSPENDED, generation=2),
        "Progressing",
        ("generation 2",),
    ),
    Row(
        "paused by spec.managementPolicy, Ready kept from before",
        hagent(
            {
                **READY,
                "observedGeneration": 2,
                "conditions": [
                    *READY["conditions"],
                    condition("Paused", "True", "Paused", "spec.managementPolicy is Paused", 2),
                ],
            },
            generation=2,
        ),
        "Suspended",
        ("Paused: spec.managementPolicy is Paused",),
    ),
    Row(
        "paused, but the spec changed since (perhaps back to Manage)",
        hagent(
            {**READY, "conditions": [*READY["conditions"], condition("Paused", "True", "Paused")]},
            generation=2,
        ),
        "Progressing",
        ("generation 2",),
    ),
    Row(
        "the endpoint ConfigMap belongs to someone else",
        hagent(
            settled(
                "Failed",
                ("False", "ConfigMapConflict", "ConfigMap 'x' exists and is not owned"),
                degraded=("True", "ConfigMapConflict"),
                message="ConfigMap 'x' exists and is not owned",
            )
        ),
        "Degraded",
        ("ConfigMapConflict: ConfigMap 'x' exists",),
    ),
    Row(
        "ready, generation as a float (JSON numbers may decode that way)",
        hagent(READY, generation=1.0),
        "Healthy",
    ),
    Row(
        "ready without servingVersion falls back to the condition",
        hagent(settled("Ready", ("True", "VersionActive", "Version 3 is active"))),
        "Healthy",
        ("VersionActive: Version 3 is active",),
    ),
    Row(
        "spec changed, operator has not looked yet (old observedGeneration)",
        hagent(READY, generation=2),
        "Progressing",
        ("generation 2", "generation 1"),
    ),
    Row(
        "status current but Ready condition from an older generation",
        hagent(
            {
                **READY,
                "observedGeneration": 2,
                "conditions": [condition("Ready", "True", "VersionActive", "", 1)],
            },
            generation=2,
        ),
        "Progressing",
        ("Ready describes generation 1",),
    ),
    Row(
        "Ready condition without observedGeneration is not trusted",
        hagent({**READY, "conditions": [condition("Ready", "True", "VersionActive", "", None)]}),
        "Progressing",
    ),
    Row(
        "pending",
        hagent(
            settled("Pending", ("False", "Pending", ""), ("True", "Pending"), generation=1),
        ),
        "Progressing",
        ("Pending",),
    ),
    Row(
        "creating a version",
        hagent(
            settled(
                "Provisioning",
                ("False", "VersionCreating", "Version 4 is being created"),
                ("True", "VersionCreating"),
            )
        ),
        "Progressing",
        ("VersionCreating: Version 4 is being created",),
    ),
    Row(
        "moving traffic",
        hagent(
            settled(
                "Provisioning",
                ("False", "RoutingTraffic", "Routing 100% to version 4"),
                ("True", "RoutingTraffic"),
            )
        ),
        "Progressing",
        ("RoutingTraffic",),
    ),
    Row(
        "throttled: transient, retried",
        hagent(
            settled(
                "Provisioning",
                ("False", "Throttled", "Too many requests. Foundry is rate limiting requests."),
                ("True", "Throttled"),
            )
        ),
        "Progressing",
        ("Throttled: Too many requests",),
    ),
    Row(
        "Foundry unavailable: transient, retried",
        hagent(
            settled(
                "Provisioning",
                ("False", "FoundryUnavailable", "HTTP 503."),
                ("True", "FoundryUnavailable"),
            )
        ),
        "Progressing",
        ("FoundryUnavailable",),
    ),
    Row(
        "image pull failure: reason, message and remediation",
        hagent(IMAGE_PULL),
        "Degraded",
        ("ImagePullBackOff: Failed to pull image.", REMEDIATION),
    ),
    Row(
        "missing Secret: retried, but only a person can create it",
        hagent(
            settled(
                "Pending",
                ("False", "SecretNotFound", "Secret 'creds' not found. Create the Secret."),
                ("True", "SecretNotFound"),
                ("True", "SecretNotFound"),
                message="Secret 'creds' not found. Create the Secret.",
            )
        ),
        "Degraded",
        ("SecretNotFound: Secret 'creds' not found. Create the Secret.",),
    ),
    Row(
        "agent name conflict",
        hagent(
            settled(
                "Failed",
                ("False", "AgentNameConflict", "Owned by ns/other. Choose another."),
                degraded=("True", "AgentNameConflict"),
                message="Owned by ns/other. Choose another.",
            )
        ),
        "Degraded",
        ("AgentNameConflict: Owned by ns/other. Choose another.",),
    ),
    Row(
        "degraded condition without a message borrows lastError",
        hagent(
            {
                **IMAGE_PULL,
                "conditions": [
                    condition("Ready", "False", "ImagePullBackOff", ""),
                    condition("Degraded", "True", "ImagePullBackOff", ""),
                ],
            }
        ),
        "Degraded",
        ("ImagePullBackOff: x", f"Remediation: {REMEDIATION}"),
    ),
    Row(
        "degraded for an older generation, new spec not seen yet",
        hagent(IMAGE_PULL, generation=2),
        "Progressing",
        ("generation 2",),
    ),
    Row(
        "phase Failed without a Degraded condition is still Degraded",
        hagent(
            {
                "observedGeneration": 1,
                "phase": "Failed",
                "conditions": [condition("Ready", "False", "InvalidSpec", "Bad field.")],
            }
        ),
        "Degraded",
        ("InvalidSpec: Bad field.",),
    ),
    Row(
        "deleting",
        hagent(
            settled("Deleting", ("False", "Deleting", ""), ("True", "Deleting"), generation=2),
            generation=2,
            deletionTimestamp="2025-01-01T00:00:00Z",
        ),
        "Progressing",
        ("Deleting the agent's Foundry versions",),
    ),
    Row(
        "deleting while Foundry is down",
        hagent(
            settled(
                "Deleting",
                ("False", "FoundryUnavailable", "Foundry unreachable."),
                ("True", "FoundryUnavailable"),
                generation=2,
            ),
            generation=2,
            deletionTimestamp="2025-01-01T00:00:00Z",
        ),
        "Progressing",
        ("Deleting", "FoundryUnavailable: Foundry unreachable."),
    ),
    Row(
        "deletion blocked by something only a person can fix",
        hagent(
            settled(
                "Deleting",
                ("False", "AuthenticationFailed", "HTTP 403. Assign the role."),
                degraded=("True", "AuthenticationFailed"),
                message="HTTP 403. Assign the role.",
                generation=2,
            ),
            generation=2,
            deletionTimestamp="2025-01-01T00:00:00Z",
        ),
        "Degraded",
        ("Deletion blocked: AuthenticationFailed: HTTP 403. Assign the role.",),
    ),
    Row(
        "deleting before the operator wrote any status",
        hagent(None, deletionTimestamp="2025-01-01T00:00:00Z"),
        "Progressing",
        ("Deleting",),
    ),
    Row(
        "a Degraded left from before deletion (older generation) does not block",
        hagent(IMAGE_PULL, generation=2, deletionTimestamp="2025-01-01T00:00:00Z"),
        "Progressing",
        ("Deleting",),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_health_of_hand_written_hostedagent(row: Row) -> None:
    health = evaluate(row.obj)
    assert health.status == row.health, health
    for text in row.says:
        assert text in health.message, health


def test_the_sandbox_has_no_string_library_like_argo_cd() -> None:
    """So the table above also proves health.lua needs nothing Argo CD leaves out."""
    with pytest.raises(Exception, match="string"):
        evaluate({}, 'return {status = "Healthy", message = string.format("%s", "x")}')
    with pytest.raises(Exception, match="index a string"):
        evaluate({}, 'return {status = "Healthy", message = ("x"):upper()}')


def test_health_lua_uses_only_what_argo_cd_opens() -> None:
    text = HEALTH_LUA.read_text()
    for library in ("string.", "math.", "io.", "os.", "require", ":sub(", ":find(", ":match("):
        assert library not in text, library
