"""Env values from Secrets and ConfigMaps: resolved, rotated, awaited, and never leaked."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient

from foundry_devtools.local import OperatorProcess
from support import wait_for
from support.hagent import condition

pytestmark = pytest.mark.usefixtures("running_operator")


def secret(name: str, **data: str) -> str:
    return json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
    )


def agent(name: str, secret_name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "metadata": {"name": name},
            "spec": {
                "image": "myregistry.azurecr.io/agents/env:1",
                "env": [
                    {"name": "MODE", "value": "plain"},
                    {
                        "name": "API_KEY",
                        "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "api-key"}},
                    },
                ],
            },
        }
    )


def env_of(foundry: AIProjectClient, agent_name: str) -> list[str]:
    return [
        v["definition"]["environment_variables"]["API_KEY"]
        for v in sorted(foundry.agents.list_versions(agent_name), key=lambda v: int(v["version"]))
    ]


def test_missing_secret_waits_then_recovers_when_it_appears(
    kubectl: Any, namespace: str, foundry: AIProjectClient
) -> None:
    name = f"env-wait-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-n", namespace, "-f", "-", input=agent(name, "later"))
    ready = wait_for(
        lambda: (
            condition(kubectl, namespace, name, "Ready").get("reason") == "SecretNotFound"
            and condition(kubectl, namespace, name, "Ready")
        ),
        what="SecretNotFound",
    )
    assert ready["status"] == "False"
    assert "'later'" in ready["message"]

    kubectl("apply", "-n", namespace, "-f", "-", input=secret("later", **{"api-key": "k-1"}))
    kubectl(
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        f"hagent/{name}",
        "-n",
        namespace,
        timeout=70,
    )
    assert env_of(foundry, name) == ["k-1"]


def test_secret_rotation_rolls_exactly_one_new_version_and_values_never_leak(
    kubectl: Any,
    namespace: str,
    foundry: AIProjectClient,
    running_operator: OperatorProcess,
) -> None:
    name = f"env-rot-{uuid.uuid4().hex[:6]}"
    first = f"first-{uuid.uuid4().hex}"
    second = f"second-{uuid.uuid4().hex}"
    kubectl("apply", "-n", namespace, "-f", "-", input=secret("creds", **{"api-key": first}))
    kubectl("apply", "-n", namespace, "-f", "-", input=agent(name, "creds"))
    kubectl(
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        f"hagent/{name}",
        "-n",
        namespace,
        timeout=70,
    )

    # A change to another key of the same Secret reconciles but creates nothing.
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=secret("creds", **{"api-key": first, "unrelated": "x"}),
    )
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=secret("creds", **{"api-key": second, "unrelated": "x"}),
    )
    wait_for(
        lambda: (
            env_of(foundry, name) == [first, second]
            and condition(kubectl, namespace, name, "Ready").get("status") == "True"
        ),
        timeout=60,
        what="exactly one new version with the rotated value, Ready",
    )
    served = json.loads(kubectl("get", "hagent", name, "-n", namespace, "-o", "json").stdout)
    assert served["status"]["servingVersion"] == served["status"]["latestVersion"]

    everything = "\n".join(
        [
            running_operator.log_text(),
            kubectl("get", "hagent", name, "-n", namespace, "-o", "yaml").stdout,
            kubectl("get", "events", "-n", namespace, "-o", "yaml").stdout,
            kubectl("describe", "hagent", name, "-n", namespace).stdout,
        ]
    )
    for value in (first, second):
        assert value not in everything
