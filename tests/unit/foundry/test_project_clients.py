"""One client per project: built from the spec's credential, replaced on change, closed
when the project goes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.identity.aio import ClientSecretCredential, WorkloadIdentityCredential

from foundry_operator.api.project import FoundryProjectSpec
from foundry_operator.foundry.client import credential_rejected
from foundry_operator.foundry.projects import (
    CredentialConfigError,
    ProjectClients,
    build_credential,
)
from foundry_operator.reconcile.project import ProjectKey

ENDPOINT = "https://acct.services.ai.azure.com/api/projects/p"


def spec(credential: dict[str, Any] | None = None, **extra: Any) -> FoundryProjectSpec:
    body: dict[str, Any] = {"endpoint": ENDPOINT, **extra}
    if credential is not None:
        body["credential"] = credential
    return FoundryProjectSpec.model_validate(body)


def test_the_operators_own_identity_builds_no_credential() -> None:
    assert build_credential(spec(), None, environ={}) is None


def test_a_client_secret_builds_a_client_secret_credential() -> None:
    credential = build_credential(
        spec(
            {"source": "ClientSecret", "tenantId": "t", "clientId": "c", "secretRef": {"name": "s"}}
        ),
        "value",
        environ={"AZURE_AUTHORITY_HOST": "https://login.example"},
    )
    assert isinstance(credential, ClientSecretCredential)
    asyncio.run(credential.close())


def test_workload_identity_needs_the_projected_token() -> None:
    wi = spec({"source": "WorkloadIdentity", "clientId": "c", "tenantId": "t"})
    with pytest.raises(CredentialConfigError, match="AZURE_FEDERATED_TOKEN_FILE"):
        build_credential(wi, None, environ={})
    credential = build_credential(wi, None, environ={"AZURE_FEDERATED_TOKEN_FILE": "/t"})
    assert isinstance(credential, WorkloadIdentityCredential)
    asyncio.run(credential.close())
    no_tenant = spec({"source": "WorkloadIdentity", "clientId": "c"})
    with pytest.raises(CredentialConfigError, match="tenant"):
        build_credential(no_tenant, None, environ={"AZURE_FEDERATED_TOKEN_FILE": "/t"})


@pytest.mark.parametrize(
    ("status", "rejected"),
    [
        (None, False),
        (400, True),
        (401, True),
        (403, True),
        (408, False),
        (429, False),
        (500, False),
    ],
)
def test_only_a_4xx_from_the_identity_provider_rejects_the_credential(
    status: int | None, rejected: bool
) -> None:
    assert credential_rejected(status) is rejected


class FakeClient:
    def __init__(self, endpoint: str, cap: int) -> None:
        self.endpoint, self.cap, self.closed = endpoint, cap, False

    async def close(self) -> None:
        self.closed = True


def test_clients_are_shared_replaced_on_change_and_closed() -> None:
    async def main() -> None:
        made: list[FakeClient] = []

        def factory(endpoint: str, credential: Any, cap: int) -> Any:
            made.append(FakeClient(endpoint, cap))
            return made[-1]

        clients = ProjectClients(object(), factory, default_concurrency=16)  # type: ignore[arg-type]
        key = ProjectKey("FoundryProject", "a", "p")
        first, built = clients.ensure(key, "f1", spec(maxConcurrency=4), None)
        assert built and made[0].cap == 4
        same, built = clients.ensure(key, "f1", spec(maxConcurrency=4), None)
        assert same is first and not built
        replaced, built = clients.ensure(key, "f2", spec(), None)
        assert built and replaced is not first and made[1].cap == 16
        assert clients.get(key) is replaced
        clients.drop(key)
        assert clients.get(key) is None
        await clients.close()
        assert made[0].closed and made[1].closed

    asyncio.run(main())
