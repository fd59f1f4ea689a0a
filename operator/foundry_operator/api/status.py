"""The HostedAgent ``status``: written only by the operator, read by people and tools.

Openness: the CRD schema of ``status`` is strict (no ``x-kubernetes-preserve-unknown-fields``):
kopf is configured to keep its own bookkeeping in annotations, so nothing else belongs here.
A strict schema does not make unknown fields *fail*: the apiserver prunes (silently drops)
fields it does not know, so a newer operator writing a field an older CRD lacks loses that
field rather than its whole status write. On the Python side every field is optional and
unknown fields are ignored, so a status written by another operator version always loads.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from foundry_operator.api.rules import CrdModel, k8s_extra

# Versions listed in status.versions; older entries fall off (Foundry keeps its own list).
STATUS_VERSION_HISTORY_MAX = 20
# Adopted versions recorded in status (Foundry caps versions per agent well below this).
ADOPTED_VERSIONS_MAX = 100


class Phase(StrEnum):
    """A one-word summary of the HostedAgent's state, for `kubectl get`."""

    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    FAILED = "Failed"
    SUSPENDED = "Suspended"
    DELETING = "Deleting"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CrdModel):
    """One aspect of the HostedAgent's state, shaped like metav1.Condition."""

    type: Annotated[
        str, Field(min_length=1, max_length=316, pattern=r"^[A-Za-z]([A-Za-z0-9_.-]*)$")
    ] = Field(
        description="Condition type: Ready, Progressing, Degraded; Paused and (HostedAgent "
        "only) Drifted under spec.managementPolicy."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="metadata.generation of the spec this condition was computed from.",
    )
    last_transition_time: datetime = Field(
        description="When status last changed (not when the condition was last written)."
    )
    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=1024,
            pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        ),
    ] = Field(description="Machine-readable CamelCase reason for the condition's status.")
    message: str = Field(
        max_length=32768, description="Human-readable explanation, with a remediation if any."
    )


class LastError(CrdModel):
    """The most recent error the operator met for this HostedAgent."""

    code: str = Field(
        max_length=256,
        description="Foundry's error code (e.g. image_pull_failed), or the operator's reason "
        "when Foundry gave none.",
    )
    message: str = Field(max_length=4096, description="What went wrong.")
    remediation: str = Field(max_length=1024, description="What a person can do about it.")


class VersionRecord(CrdModel):
    """A Foundry agent version created (or adopted) by this HostedAgent."""

    version: str = Field(max_length=64, description="Foundry version identifier.")
    spec_hash: str = Field(
        max_length=64,
        description="Spec hash the version was created from; for a version made outside the "
        "operator, the hash of the spec that describes it (empty when no spec can).",
    )
    status: str = Field(
        max_length=64,
        description="Foundry's status of the version: creating, active, failed, deleting or "
        "deleted.",
    )
    created_at: datetime | None = Field(
        default=None, description="When Foundry created the version."
    )
    adopted: bool | None = Field(
        default=None,
        description="True for a version made outside the operator: adopted "
        "(spec.adoptionPolicy Adopt), or merely observed (spec.managementPolicy ObserveOnly).",
    )


class TrafficShare(CrdModel):
    """The share of the agent endpoint's traffic one version receives."""

    version: str = Field(max_length=64, description="Foundry version identifier.")
    weight: int = Field(ge=0, le=100, description="Percent of the traffic it receives.")


class RolloutStatus(CrdModel):
    """Where a progressive rollout (spec.rollout) stands."""

    version: str = Field(max_length=64, description="The version taking over the traffic.")
    step: int = Field(
        ge=-1, le=16, description="Index of the step in effect (in order of weight); -1 before any."
    )
    step_started_at: datetime | None = Field(
        default=None, description="When the current step's share was routed."
    )
    aborted: bool = Field(
        default=False,
        description="True when the rollout was aborted and traffic sent back; it is not "
        "tried again for the same spec until the spec or the retry annotation changes.",
    )
    spec_hash: str | None = Field(
        default=None, max_length=64, description="Spec hash of the version being rolled out."
    )


class ProbeStatus(CrdModel):
    """The latest probe of a version (spec.probe) whose outcome changed."""

    version: str = Field(max_length=64, description="The version that was asked.")
    passed: bool = Field(description="Whether its answer passed.")
    message: str = Field(max_length=1024, description="The answer, or what went wrong.")
    last_transition_time: datetime = Field(description="When the outcome last changed.")


class EndpointHeader(CrdModel):
    """An HTTP header every request to the agent endpoint carries."""

    name: str = Field(max_length=256, description="Header name, e.g. Foundry-Features.")
    value: str = Field(max_length=4096, description="Header value, sent as is.")


class AgentEndpoint(CrdModel):
    """How a client calls the agent: everything it needs besides an Entra token.

    The OpenAI Responses API is served at baseURL + "/responses?api-version=" + apiVersion;
    send "Authorization: Bearer <token for tokenScope>" and each of headers. This is what
    the azure-ai-projects SDK's get_openai_client(agent_name=...) configures.
    """

    base_url: str = Field(
        alias="baseURL",
        max_length=2048,
        description="Base URL for OpenAI clients (Responses protocol): "
        "{project endpoint}/agents/{agent}/endpoint/protocols/openai. Set it as base_url, or "
        "as the OPENAI_BASE_URL environment variable.",
    )
    api_version: str = Field(
        max_length=64,
        description="Value of the api-version query parameter every request must carry.",
    )
    token_scope: str = Field(
        max_length=256,
        description="Scope of the Entra ID bearer token to send, e.g. "
        "https://ai.azure.com/.default. The caller needs a role on the Foundry project (e.g. "
        "Azure AI User).",
    )
    headers: list[EndpointHeader] = Field(
        default_factory=list,
        max_length=16,
        description="HTTP headers to send with every request, as the SDK sends them.",
        json_schema_extra=k8s_extra(list_type="map", list_map_keys=["name"]),
    )
    protocols: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=16,
        description="Protocols the agent endpoint serves, as Foundry reports them (e.g. "
        "responses).",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )


class AgentIdentity(CrdModel):
    """The agent's own Microsoft Entra identity, which Foundry creates for it. Grant it
    roles for what the agent itself calls (e.g. Azure AI User for toolboxes)."""

    principal_id: str | None = Field(
        default=None, max_length=64, description="Object (principal) ID of the identity."
    )
    client_id: str | None = Field(
        default=None, max_length=64, description="Client (application) ID of the identity."
    )


class AgentToolbox(CrdModel):
    """The Foundry toolbox the current spec's version is pinned to."""

    name: str = Field(max_length=63, description="Foundry toolbox name.")
    version: str = Field(
        max_length=64, description="Toolbox version whose MCP URL the agent version carries."
    )
    env: str = Field(max_length=256, description="The environment variable holding the URL.")
    resource: str | None = Field(
        default=None,
        max_length=253,
        description="The FoundryToolbox it comes from (spec.toolbox.name); unset for the "
        "toolbox of spec.tools.",
    )


class HostedAgentStatus(CrdModel):
    """Observed state of the hosted agent, written by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the operator last acted on."
    )
    agent_name: str | None = Field(
        default=None,
        max_length=63,
        description="The Foundry agent name in use (spec.agentName or metadata.name).",
    )
    phase: Phase | None = Field(
        default=None,
        description="Pending, Provisioning, Ready, Failed, Suspended or Deleting.",
    )
    latest_version: str | None = Field(
        default=None,
        max_length=64,
        description="Newest Foundry version created for the current spec.",
    )
    serving_version: str | None = Field(
        default=None,
        max_length=64,
        description="Foundry version the agent endpoint routes traffic to.",
    )
    version_status: str | None = Field(
        default=None,
        max_length=64,
        description="Foundry's status of latestVersion: creating, active, failed, ...",
    )
    spec_hash: str | None = Field(
        default=None,
        max_length=64,
        description="Hash of the current spec (secret values enter only as digests).",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready, Progressing and Degraded, following Kubernetes conventions; "
        "Paused (managementPolicy Paused) and Drifted (ObserveOnly).",
        json_schema_extra=k8s_extra(list_type="map", list_map_keys=["type"]),
    )
    last_error: LastError | None = Field(
        default=None, description="The most recent error, with a remediation."
    )
    endpoint: AgentEndpoint | None = Field(
        default=None,
        description="How to call the agent, from Foundry: set once the Foundry agent exists "
        "and belongs to this HostedAgent.",
    )
    identity: AgentIdentity | None = Field(
        default=None,
        description="The agent's instance identity in Microsoft Entra ID, when Foundry "
        "reports one.",
    )
    suspended: bool | None = Field(
        default=None,
        description="True while the operator holds the Foundry agent disabled because "
        "spec.suspend is true; it enables the agent again when spec.suspend is no longer "
        "true. An agent disabled outside the operator is AgentDisabled instead.",
    )
    endpoint_config_map_name: str | None = Field(
        default=None,
        max_length=253,
        description="The ConfigMap the operator wrote status.endpoint into "
        "(spec.endpointConfigMap).",
    )
    versions: list[VersionRecord] = Field(
        default_factory=list,
        max_length=STATUS_VERSION_HISTORY_MAX,
        description="Recent versions created by this HostedAgent, and those it adopted "
        "(adopted: true), newest first. Under ObserveOnly: every version of the agent.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    adopted_versions: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=ADOPTED_VERSIONS_MAX,
        description="Versions of the Foundry agent that existed before this HostedAgent "
        "adopted it (spec.adoptionPolicy Adopt), oldest first. They stay this HostedAgent's "
        "even if adoptionPolicy is set back to Never.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    traffic: list[TrafficShare] = Field(
        default_factory=list,
        max_length=16,
        description="How the agent endpoint splits traffic between versions, as Foundry last "
        "reported it.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    traffic_summary: str | None = Field(
        default=None,
        max_length=256,
        description='The split in one line for kubectl get, e.g. "3:90% 4:10%".',
    )
    rollout: RolloutStatus | None = Field(
        default=None, description="The progressive rollout in flight or last aborted."
    )
    probe: ProbeStatus | None = Field(default=None, description="The latest probe outcome.")
    toolbox: AgentToolbox | None = Field(
        default=None,
        description="The toolbox version the current spec uses (spec.toolbox or spec.tools).",
    )
    owned_toolbox: str | None = Field(
        default=None,
        max_length=63,
        description="The Foundry toolbox this HostedAgent created for spec.tools. It stays "
        "while older agent versions may use it, and is deleted with the HostedAgent "
        "(deletionPolicy Delete).",
    )
