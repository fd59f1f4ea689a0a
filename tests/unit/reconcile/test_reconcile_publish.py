"""status.endpoint/identity and the endpoint ConfigMap: what they hold, and when to write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from foundry_operator.api.spec import HostedAgentSpec
from foundry_operator.api.status import (
    AgentEndpoint,
    AgentIdentity,
    EndpointHeader,
    HostedAgentStatus,
    Phase,
)
from foundry_operator.reconcile.desired import desired_version
from foundry_operator.reconcile.errors import Failure, Reason
from foundry_operator.reconcile.observed import AgentInfo, EndpointFacts, Identity
from foundry_operator.reconcile.publish import (
    FIXED_KEYS,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NOTHING,
    ObservedConfigMap,
    Owner,
    Step,
    configmap_body,
    configmap_data,
    configmap_patch,
    configmap_step,
    conflict_message,
    endpoint_status,
    header_key,
    identity_status,
    observe_configmap,
    owned_by,
    seen,
    stale_configmap,
)
from foundry_operator.reconcile.report import Report, build_status, status_patch

pytestmark = pytest.mark.unit

BASE = "https://acct.services.ai.azure.com/api/projects/p/agents/chat/endpoint/protocols/openai"
FEATURES = "WorkflowAgents=V1Preview,ModelRouterControls=V1Preview"
FACTS = EndpointFacts(
    base_url=BASE,
    api_version="v1",
    token_scope="https://ai.azure.com/.default",
    headers=(("Foundry-Features", FEATURES),),
)
AGENT = AgentInfo(
    "chat",
    routing={"1": 100},
    identity=Identity(principal_id="p-1", client_id="c-1"),
    protocols=("responses",),
)
OWNER = Owner("chat", "uid-1")


def endpoint() -> AgentEndpoint:
    return endpoint_status(FACTS, AGENT, ["responses"])


def test_endpoint_status_says_everything_a_client_sends() -> None:
    doc = endpoint().model_dump(mode="json", by_alias=True)
    assert doc == {
        "baseURL": BASE,
        "apiVersion": "v1",
        "tokenScope": "https://ai.azure.com/.default",
        "headers": [{"name": "Foundry-Features", "value": FEATURES}],
        "protocols": ["responses"],
    }


def test_protocols_are_foundrys_word_and_the_specs_only_when_foundry_says_none() -> None:
    silent = AgentInfo("chat")
    assert endpoint_status(FACTS, silent, ["responses", "a2a"]).protocols == ["a2a", "responses"]
    told = AgentInfo("chat", protocols=("invocations", "responses"))
    assert endpoint_status(FACTS, told, ["responses"]).protocols == ["invocations", "responses"]


def test_identity_only_when_foundry_gives_one() -> None:
    assert identity_status(AGENT) == AgentIdentity(principal_id="p-1", client_id="c-1")
    assert identity_status(AgentInfo("chat")) is None
    assert identity_status(AgentInfo("chat", identity=Identity())) is None


def test_status_keeps_the_endpoint_when_foundry_was_not_looked_at_and_clears_it_when_not_ours() -> (
    None
):
    now = datetime.now(UTC)
    looked = seen(FACTS, AGENT, ["responses"], suspended=False)
    first = build_status(
        HostedAgentStatus(), Report(Phase.READY, "chat", seen=looked), generation=1, now=now
    )
    assert first.endpoint == endpoint() and first.identity is not None
    assert first.suspended is None
    kept = build_status(first, Report(Phase.PROVISIONING, "chat"), generation=1, now=now)
    assert kept.endpoint == first.endpoint and kept.identity == first.identity
    conflict = Failure(Reason.AGENT_NAME_CONFLICT, "AgentNameConflict", "taken")
    gone = build_status(
        first, Report(Phase.FAILED, "chat", failure=conflict, seen=NOTHING), generation=1, now=now
    )
    assert gone.endpoint is None and gone.identity is None
    patch = status_patch(gone)
    assert patch["endpoint"] is None and patch["identity"] is None  # cleared by the merge patch


def test_status_carries_the_configmap_record_over() -> None:
    previous = HostedAgentStatus(endpoint_config_map_name="chat-endpoint")
    status = build_status(
        previous, Report(Phase.READY, "chat"), generation=1, now=datetime.now(UTC)
    )
    assert status.endpoint_config_map_name == "chat-endpoint"
    assert status_patch(status)["endpointConfigMapName"] == "chat-endpoint"


def test_configmap_holds_the_documented_keys_and_no_secret() -> None:
    data = configmap_data("chat", endpoint())
    assert data == {
        "OPENAI_BASE_URL": BASE,
        "OPENAI_API_VERSION": "v1",
        "FOUNDRY_AGENT_NAME": "chat",
        "FOUNDRY_TOKEN_SCOPE": "https://ai.azure.com/.default",
        "FOUNDRY_AGENT_PROTOCOLS": "responses",
        "OPENAI_CUSTOM_HEADERS": f"Foundry-Features: {FEATURES}",
        "FOUNDRY_FEATURES": FEATURES,
    }
    for value in data.values():
        assert "Bearer" not in value and "token" not in value.lower().replace(
            "https://ai.azure.com/.default", ""
        )


def test_every_key_is_documented_in_kubectl_explain() -> None:
    description = HostedAgentSpec.model_json_schema(by_alias=True)["$defs"]["EndpointConfigMap"][
        "properties"
    ]["name"]["description"]
    for key in (*FIXED_KEYS, header_key("Foundry-Features")):
        assert key in description, key


def test_header_keys_are_environment_variable_names() -> None:
    assert header_key("Foundry-Features") == "FOUNDRY_FEATURES"
    assert header_key("x-ms-user-isolation-key") == "X_MS_USER_ISOLATION_KEY"
    assert header_key("1st.header") == "_1ST_HEADER"


def test_a_header_never_replaces_a_fixed_key() -> None:
    headers = [*endpoint().headers, EndpointHeader(name="openai-base-url", value="x")]
    odd = endpoint().model_copy(update={"headers": headers})
    assert configmap_data("chat", odd)["OPENAI_BASE_URL"] == BASE


def ours(data: dict[str, str], **extra: object) -> ObservedConfigMap:
    return ObservedConfigMap(
        uid="cm-1",
        resource_version="7",
        data=data,
        labels={MANAGED_BY_LABEL: MANAGED_BY},
        controller=("HostedAgent", "chat", "uid-1"),
        **extra,  # type: ignore[arg-type]
    )


def test_configmap_steps() -> None:
    data = configmap_data("chat", endpoint())
    assert configmap_step(None, OWNER, data) is Step.CREATE
    assert configmap_step(ours(data), OWNER, data) is Step.KEEP  # no churn
    assert configmap_step(ours({**data, "OPENAI_API_VERSION": "v0"}), OWNER, data) is Step.UPDATE
    assert configmap_step(ours({**data, "EXTRA": "1"}), OWNER, data) is Step.UPDATE
    assert configmap_step(ours(data, has_binary_data=True), OWNER, data) is Step.UPDATE
    unlabelled = ObservedConfigMap("cm-1", "7", data, controller=("HostedAgent", "chat", "uid-1"))
    assert configmap_step(unlabelled, OWNER, data) is Step.UPDATE


@pytest.mark.parametrize(
    ("controller", "says"),
    [
        (None, "no controlling owner"),
        (("Deployment", "web", "u-9"), "controlled by Deployment 'web'"),
        (("HostedAgent", "other", "u-9"), "controlled by HostedAgent 'other'"),
        (("HostedAgent", "chat", "uid-0"), "an earlier HostedAgent named 'chat'"),
    ],
)
def test_a_configmap_this_hostedagent_does_not_own_is_a_conflict(
    controller: tuple[str, str, str] | None, says: str
) -> None:
    data = configmap_data("chat", endpoint())
    theirs = ObservedConfigMap("cm-1", "7", data, controller=controller)
    assert not owned_by(theirs, OWNER)
    assert configmap_step(theirs, OWNER, data) is Step.CONFLICT
    message = conflict_message("chat-endpoint", theirs, OWNER)
    assert says in message and "nothing in it was changed" in message


def test_create_body_is_owned_by_the_hostedagent_as_its_controller() -> None:
    data = configmap_data("chat", endpoint())
    body = configmap_body("chat-endpoint", OWNER, data)
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "name": "chat",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert body["metadata"]["labels"] == {MANAGED_BY_LABEL: MANAGED_BY}
    assert body["data"] == data
    # What the API server answers reads back as ours, with that data: the next look keeps it.
    served = {**body, "metadata": {**body["metadata"], "uid": "cm-1", "resourceVersion": "1"}}
    assert configmap_step(observe_configmap(served), OWNER, data) is Step.KEEP


def test_patch_sets_exactly_the_data_under_the_version_read() -> None:
    data = configmap_data("chat", endpoint())
    existing = ours({"OPENAI_BASE_URL": "old", "EXTRA": "x"}, has_binary_data=True)
    patch = configmap_patch(existing, data)
    assert patch["metadata"]["resourceVersion"] == "7"
    assert patch["data"] == {"EXTRA": None, **data}
    assert patch["binaryData"] is None


def test_a_removed_or_renamed_field_leaves_a_stale_configmap_to_delete() -> None:
    assert stale_configmap("a", None) == "a"
    assert stale_configmap("a", "b") == "a"
    assert stale_configmap("a", "a") is None
    assert stale_configmap(None, "b") is None


def test_suspend_and_the_configmap_never_change_the_spec_hash() -> None:
    base = {"image": "myregistry.azurecr.io/agents/chat:1"}
    plain = desired_version(HostedAgentSpec.model_validate(base))
    extended = desired_version(
        HostedAgentSpec.model_validate(
            {**base, "suspend": True, "endpointConfigMap": {"name": "chat-endpoint"}}
        )
    )
    assert plain.spec_hash == extended.spec_hash
    assert plain.definition == extended.definition
