"""Provisioning lifecycle, failure rules and injected faults, seen through the real SDK."""

from __future__ import annotations

import time

import pytest
from azure.ai.projects import AIProjectClient
from azure.core.exceptions import HttpResponseError
from emu_helpers import hosted_definition

from foundry_devtools.emulator.admin import AdminClient
from support import wait_for

pytestmark = pytest.mark.integration


def test_a_new_version_is_creating_then_active(project: AIProjectClient, agent_name: str) -> None:
    assert (
        project.agents.create_version(agent_name, definition=hosted_definition()).status
        == "creating"
    )
    wait_for(
        lambda: project.agents.get_version(agent_name, "1").status == "active",
        timeout=10,
        what="active",
    )


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ("acr.azurecr.io/agents/does-not-exist:1", "image_pull_failed"),
        ("acr.azurecr.io/acr-image-not-found/x:1", "AcrImageNotFound"),
        ("acr.azurecr.io/unauthorized-pull/x:1", "UnauthorizedAcrPull"),
        ("acr.azurecr.io/bad-pull-credentials/x:1", "InvalidAcrPullCredentials"),
        ("registry.invalid/agents/x:1", "RegistryNotFound"),
        ("acr.azurecr.io/image-pull-backoff/x:1", "ImagePullBackOff"),
    ],
)
def test_default_failure_rules_fail_the_version_with_a_readable_error(
    project: AIProjectClient, agent_name: str, image: str, code: str
) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition(image))
    version = wait_for(
        lambda: (v := project.agents.get_version(agent_name, "1")).status == "failed" and v,
        timeout=10,
        what="failed version",
    )
    assert version["error"]["code"] == code
    assert version["error"]["message"]


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ("acr.azurecr.io/invalid-container-image:1", "InvalidContainerImage"),
        ("acr.azurecr.io/no-capability-host/x:1", "CapabilityHostNotFound"),
    ],
)
def test_synchronous_failure_rules_refuse_the_create(
    project: AIProjectClient, agent_name: str, image: str, code: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        project.agents.create_version(agent_name, definition=hosted_definition(image))
    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == code


def test_failure_rules_can_be_added_at_runtime(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    rule = admin.add_failure_rule(
        "ProtocolVersionNotSupported",
        match=f"*{agent_name}*",
        message="no such protocol",
        delay_seconds=0,
    )
    try:
        project.agents.create_version(
            agent_name, definition=hosted_definition(f"acr.azurecr.io/{agent_name}:1")
        )
        version = project.agents.get_version(agent_name, "1")
        assert version.status == "failed"
        assert version["error"] == {
            "code": "ProtocolVersionNotSupported",
            "message": "no such protocol",
        }
        admin.add_failure_rule(
            "UnauthorizedAcrPull",
            regex=f"{agent_name}:2$",
            mode="http_error",
            http_status=403,
            rule_id=f"{agent_name}-sync",
        )
        with pytest.raises(HttpResponseError) as caught:
            project.agents.create_version(
                agent_name, definition=hosted_definition(f"acr.azurecr.io/{agent_name}:2")
            )
        assert caught.value.status_code == 403
    finally:
        admin.remove_failure_rule(rule)
        admin.remove_failure_rule(f"{agent_name}-sync")


def test_the_provisioning_delay_is_changeable_at_runtime(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    admin.set_provisioning_delay(0)
    try:
        project.agents.create_version(agent_name, definition=hosted_definition())
        assert project.agents.get_version(agent_name, "1").status == "active"
    finally:
        admin.set_provisioning_delay(0.5)


def test_the_admin_api_can_force_a_version_status(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    admin.set_version_status(
        agent_name, "1", "failed", {"code": "AcrImageNotFound", "message": "gone"}
    )
    version = project.agents.get_version(agent_name, "1")
    assert (version.status, version["error"]["code"]) == ("failed", "AcrImageNotFound")


def test_throttled_calls_are_retried_after_retry_after(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    before = admin.stats()
    admin.inject_throttling(retry_after=1, operations=["get_agent"], count=2)
    started = time.monotonic()
    assert project.agents.get(agent_name).name == agent_name
    elapsed = time.monotonic() - started
    after = admin.stats()
    assert after.count("get_agent", 429) - before.count("get_agent", 429) == 2
    assert after.count("get_agent", 200) - before.count("get_agent", 200) == 1
    assert elapsed >= 1.9, "the SDK should wait Retry-After (1 s) before each retry"


def test_even_a_post_is_retried_when_the_answer_carries_retry_after(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    before = admin.stats()
    admin.inject_throttling(retry_after=1, operations=["create_version"], count=1)
    version = project.agents.create_version(agent_name, definition=hosted_definition())
    assert version.version == "1", "the throttled attempt must not have created a version"
    assert admin.stats().count("create_version", 429) - before.count("create_version", 429) == 1


def test_server_errors_and_dropped_connections_are_retried(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    before = admin.stats()
    admin.inject_status(503, operations=["get_version"], count=1)
    admin.inject_drop(operations=["get_version"], count=1)
    assert project.agents.get_version(agent_name, "1").version == "1"
    after = admin.stats()
    delta = {
        s: after.count("get_version", s) - before.count("get_version", s)
        for s in ("503", "dropped", "200")
    }
    assert delta == {"503": 1, "dropped": 1, "200": 1}


def test_persistent_errors_surface_with_their_code(
    project: AIProjectClient, admin: AdminClient, agent_name: str
) -> None:
    before = admin.stats()
    admin.inject_status(500, operations=["list_agents"], code="server_error")
    with pytest.raises(HttpResponseError) as caught:
        list(project.agents.list())
    assert caught.value.status_code == 500
    assert caught.value.error is not None and caught.value.error.code == "server_error"
    attempts = admin.stats().count("list_agents", 500) - before.count("list_agents", 500)
    assert attempts == 4, "azure-core makes 1 attempt plus 3 status retries"


def test_latency_is_injected(project: AIProjectClient, admin: AdminClient, agent_name: str) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    admin.inject_latency(300, operations=["get_agent"], count=1)
    started = time.monotonic()
    project.agents.get(agent_name)
    assert time.monotonic() - started >= 0.3


def test_stats_count_operations_by_sdk_name_and_reset(
    admin: AdminClient, project: AIProjectClient, agent_name: str
) -> None:
    project.agents.create_version(agent_name, definition=hosted_definition())
    project.agents.get(agent_name)
    project.agents.enable(agent_name)
    stats = admin.stats()
    for operation in ("create_version", "get_agent", "enable", "token"):
        assert stats.count(operation) >= 1, operation
    admin.reset(state=False, stats=True)
    assert admin.stats().total == 0
    assert project.agents.get(agent_name).name == agent_name  # state kept
