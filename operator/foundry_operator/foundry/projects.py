"""One Foundry client and one credential per project object, shared by every HostedAgent
that uses it, replaced when the project changes and closed when it goes.

The FoundryProject reconciler is the only writer (it reads the Secret, so it alone knows a
rotated value); HostedAgent reconciles only look clients up. Each client has its own cap on
calls in flight (``spec.maxConcurrency``), so one busy project cannot starve another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import (
    CertificateCredential,
    ClientSecretCredential,
    WorkloadIdentityCredential,
)

from ..api.project import CredentialSource, FoundryProjectSpec
from ..reconcile.project import ProjectKey
from .client import FoundryClient

log = logging.getLogger("foundry_operator.projects")

# The scope Foundry's management API takes tokens for (what AIProjectClient asks for).
FOUNDRY_SCOPE = "https://ai.azure.com/.default"
FEDERATED_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"
CLOSE_GRACE_SECONDS = 5.0


class CredentialConfigError(ValueError):
    """The operator cannot build the credential a project asks for (the message says what
    to set, and carries no secret)."""


def build_credential(
    spec: FoundryProjectSpec,
    secret_value: str | None,
    *,
    environ: dict[str, str] | None = None,
) -> AsyncTokenCredential | None:
    """The credential a project's spec asks for; None means the operator's own."""
    env = dict(os.environ) if environ is None else environ
    credential = spec.credential
    options: dict[str, Any] = {}
    authority = credential.authority_host or env.get("AZURE_AUTHORITY_HOST")
    if authority:
        options["authority"] = authority
    if credential.source is CredentialSource.OPERATOR:
        return None
    if credential.source is CredentialSource.WORKLOAD_IDENTITY:
        token_file = env.get(FEDERATED_TOKEN_FILE)
        tenant = credential.tenant_id or env.get("AZURE_TENANT_ID")
        if not token_file:
            raise CredentialConfigError(
                f"the operator has no federated token (${FEDERATED_TOKEN_FILE} is unset): "
                "enable workload identity on its ServiceAccount (chart value "
                "azure.workloadIdentity.enabled) so that its token is projected"
            )
        if not tenant:
            raise CredentialConfigError(
                "no tenant for workload identity: set spec.credential.tenantId (or "
                "$AZURE_TENANT_ID on the operator)"
            )
        return WorkloadIdentityCredential(
            tenant_id=tenant,
            client_id=str(credential.client_id),
            token_file_path=token_file,
            **options,
        )
    if secret_value is None:
        raise CredentialConfigError("the credential's Secret value was not read")
    tenant, client = str(credential.tenant_id), str(credential.client_id)
    if credential.source is CredentialSource.CLIENT_SECRET:
        return ClientSecretCredential(tenant, client, secret_value, **options)
    return CertificateCredential(tenant, client, certificate_data=secret_value.encode(), **options)


@dataclass
class ProjectClient:
    key: ProjectKey
    fingerprint: str
    endpoint: str
    foundry: FoundryClient
    # None: the operator's own credential, which this entry must not close.
    credential: AsyncTokenCredential | None
    token_credential: AsyncTokenCredential


ClientFactory = Callable[[str, AsyncTokenCredential, int], FoundryClient]


class ProjectClients:
    def __init__(
        self,
        operator_credential: AsyncTokenCredential,
        factory: ClientFactory,
        *,
        default_concurrency: int,
    ) -> None:
        self._operator_credential = operator_credential
        self._factory = factory
        self._default_concurrency = default_concurrency
        self._clients: dict[ProjectKey, ProjectClient] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._retired: list[ProjectClient] = []

    def get(self, key: ProjectKey) -> ProjectClient | None:
        return self._clients.get(key)

    def ensure(
        self,
        key: ProjectKey,
        fingerprint: str,
        spec: FoundryProjectSpec,
        secret_value: str | None,
    ) -> tuple[ProjectClient, bool]:
        """The project's client, built anew when ``fingerprint`` changed (the old one is
        closed); True when it was built now. Raises CredentialConfigError."""
        current = self._clients.get(key)
        if current is not None and current.fingerprint == fingerprint:
            return current, False
        credential = build_credential(spec, secret_value)
        token_credential = credential or self._operator_credential
        foundry = self._factory(
            spec.endpoint, token_credential, spec.max_concurrency or self._default_concurrency
        )
        built = ProjectClient(
            key, fingerprint, spec.endpoint, foundry, credential, token_credential
        )
        self._clients[key] = built
        if current is not None:
            self._close_later(current)
        log.info("connected %s to %s (%s)", key.label, spec.endpoint, spec.credential.source)
        return built, True

    def drop(self, key: ProjectKey) -> None:
        """The project is gone: its client and credential are closed."""
        current = self._clients.pop(key, None)
        if current is not None:
            log.info("closed the client of %s", key.label)
            self._close_later(current)

    def _close_later(self, entry: ProjectClient) -> None:
        # A reconcile may still hold the old client for a call in flight: closing happens
        # on its own task, after a grace period, instead of under that call.
        self._retired.append(entry)

        async def later() -> None:
            await asyncio.sleep(CLOSE_GRACE_SECONDS)
            if entry in self._retired:
                self._retired.remove(entry)
                await _close(entry)

        task = asyncio.create_task(later())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        for task in list(self._closing):
            task.cancel()
        entries = [*self._retired, *self._clients.values()]
        self._retired, self._clients = [], {}
        for entry in entries:
            await _close(entry)


async def _close(entry: ProjectClient) -> None:
    with contextlib.suppress(Exception):
        await entry.foundry.close()
    if entry.credential is not None:
        with contextlib.suppress(Exception):
            await entry.credential.close()
