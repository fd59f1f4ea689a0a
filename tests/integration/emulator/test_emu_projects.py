"""Several projects in one emulator, and the Entra-style token endpoint that issues tokens
to service principals: what FoundryProject credentials are tested against.

Each test talks to the emulator with the unmodified SDK and azure-identity credentials, as
a user with a service principal would (the authority is the emulator's, from
AZURE_AUTHORITY_HOST in its env).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.aio import AIProjectClient as AsyncAIProjectClient
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import CertificateCredential, ClientSecretCredential, DefaultAzureCredential
from azure.identity import WorkloadIdentityCredential as SyncWorkloadIdentityCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from emu_helpers import client_env, hosted_definition

from foundry_devtools.emulator.process import EmulatorProcess

pytestmark = pytest.mark.integration

TENANT = "contoso"
SECRETS = {"app-alpha": "alpha-secret-value", "app-beta": "beta-secret-value"}
SUBJECT = "system:serviceaccount:platform:foundry-agent-operator"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess.start(
        tmp_path_factory.mktemp("emulator-projects"),
        config={
            "lifecycle": {"provisioning_seconds": 0.2},
            "auth": {
                "apps": [
                    {"client_id": c, "tenant_id": TENANT, "client_secret": s}
                    for c, s in SECRETS.items()
                ]
                + [{"client_id": "app-wi", "federated_subject": SUBJECT}]
            },
            "projects": [
                {"name": "alpha", "principals": ["app-alpha", "app-wi"]},
                {"name": "beta", "principals": ["app-beta"]},
            ],
        },
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def env(emulator: EmulatorProcess) -> Iterator[dict[str, str]]:
    with client_env(emulator) as applied:
        yield applied


def secret_credential(env: dict[str, str], client: str, secret: str) -> ClientSecretCredential:
    # MSAL (the sync credentials) would ask login.microsoftonline.com to validate an
    # authority it does not know; the async credentials, which the operator uses, do not.
    return ClientSecretCredential(
        TENANT,
        client,
        secret,
        authority=env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )


def test_each_project_has_its_own_state(emulator: EmulatorProcess, env: dict[str, str]) -> None:
    name = f"agent-{uuid.uuid4().hex[:6]}"
    credential = secret_credential(env, "app-alpha", SECRETS["app-alpha"])
    with AIProjectClient(endpoint=emulator.project_endpoint("alpha"), credential=credential) as c:
        c.agents.create_version(name, definition=hosted_definition())
        assert c.agents.get(name)["name"] == name
    admin = emulator.admin()
    assert [a["name"] for a in admin.state("alpha")["agents"]] == [name]
    assert admin.state("beta")["agents"] == []
    assert name not in [a["name"] for a in admin.state()["agents"]]


def test_a_token_for_one_project_is_refused_by_another(
    emulator: EmulatorProcess, env: dict[str, str]
) -> None:
    credential = secret_credential(env, "app-alpha", SECRETS["app-alpha"])
    with (
        AIProjectClient(endpoint=emulator.project_endpoint("beta"), credential=credential) as c,
        pytest.raises(HttpResponseError) as caught,
    ):
        c.agents.get("anything")
    assert caught.value.status_code == 403
    assert "app-alpha" in str(caught.value) and "beta" in str(caught.value)


def test_a_wrong_client_secret_gets_no_token(env: dict[str, str]) -> None:
    credential = secret_credential(env, "app-beta", "not-the-secret")
    with pytest.raises(ClientAuthenticationError) as caught:
        credential.get_token("https://ai.azure.com/.default")
    assert "AADSTS7000215" in str(caught.value)


def test_an_unknown_client_gets_no_token(env: dict[str, str]) -> None:
    credential = secret_credential(env, "app-nobody", "whatever")
    with pytest.raises(ClientAuthenticationError) as caught:
        credential.get_token("https://ai.azure.com/.default")
    assert "AADSTS700016" in str(caught.value)


def test_the_async_client_secret_credential_reaches_its_project(
    emulator: EmulatorProcess, env: dict[str, str]
) -> None:
    # aiohttp read SSL_CERT_FILE when this process imported it, before the emulator
    # existed: the CA is given explicitly (see test_emu_sdk_async).
    ca = str(emulator.ca_file)

    async def main() -> list[str]:
        async with (
            AsyncClientSecretCredential(
                TENANT, "app-beta", SECRETS["app-beta"], connection_verify=ca
            ) as credential,
            AsyncAIProjectClient(
                endpoint=emulator.project_endpoint("beta"),
                credential=credential,
                connection_verify=ca,
            ) as client,
        ):
            return [a["name"] async for a in client.agents.list()]

    assert asyncio.run(main()) == []


def _federated_token(path: Path, subject: str, audience: str) -> Path:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"sub": subject, "aud": [audience], "exp": int(time.time()) + 600}
    path.write_text(f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln")
    return path


def test_a_federated_service_account_token_is_exchanged(
    emulator: EmulatorProcess, env: dict[str, str], tmp_path: Path
) -> None:
    token_file = _federated_token(tmp_path / "token", SUBJECT, "api://AzureADTokenExchange")
    credential = SyncWorkloadIdentityCredential(
        tenant_id=TENANT,
        client_id="app-wi",
        token_file_path=str(token_file),
        authority=env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )
    with AIProjectClient(endpoint=emulator.project_endpoint("alpha"), credential=credential) as c:
        list(c.agents.list())
    stranger = _federated_token(
        tmp_path / "other", "system:serviceaccount:x:y", "api://AzureADTokenExchange"
    )
    refused = SyncWorkloadIdentityCredential(
        tenant_id=TENANT,
        client_id="app-wi",
        token_file_path=str(stranger),
        authority=env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )
    with pytest.raises(ClientAuthenticationError) as caught:
        refused.get_token("https://ai.azure.com/.default")
    assert "AADSTS700213" in str(caught.value)


def test_the_default_project_still_takes_the_managed_identity(
    emulator: EmulatorProcess, env: dict[str, str]
) -> None:
    with AIProjectClient(endpoint=emulator.endpoint, credential=DefaultAzureCredential()) as c:
        list(c.agents.list())
    # ...but not a project that names its principals.
    with (
        AIProjectClient(
            endpoint=emulator.project_endpoint("alpha"), credential=DefaultAzureCredential()
        ) as c,
        pytest.raises(HttpResponseError) as caught,
    ):
        c.agents.get("anything")
    assert caught.value.status_code == 403


def _certificate(tmp_path: Path) -> tuple[str, Path]:
    """A self-signed certificate: its PEM (to register) and a PEM file with its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app-cert")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    path = tmp_path / "app-cert.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + pem.encode()
    )
    return pem, path


def test_a_certificate_credential_is_accepted_only_with_the_registered_certificate(
    emulator: EmulatorProcess, env: dict[str, str], tmp_path: Path
) -> None:
    registered, key_file = _certificate(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = _certificate(tmp_path / "other")
    admin = emulator.admin()
    apps = admin.config()["auth"]["apps"]
    admin.patch_config(
        {"auth": {"apps": [*apps, {"client_id": "app-cert", "certificate_pem": registered}]}}
    )
    options = {"authority": env["AZURE_AUTHORITY_HOST"], "disable_instance_discovery": True}
    credential = CertificateCredential(TENANT, "app-cert", str(key_file), **options)
    assert credential.get_token("https://ai.azure.com/.default").token
    forged = CertificateCredential(TENANT, "app-cert", str(other_key), **options)
    with pytest.raises(ClientAuthenticationError) as caught:
        forged.get_token("https://ai.azure.com/.default")
    assert "AADSTS700027" in str(caught.value)


def test_default_azure_credential_takes_the_workload_identity_env(
    emulator: EmulatorProcess, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = _federated_token(tmp_path / "token", SUBJECT, "api://AzureADTokenExchange")
    # What AKS workload identity puts in a pod's environment.
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AZURE_CLIENT_ID", "app-wi")
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "WorkloadIdentityCredential")
    credential = DefaultAzureCredential(disable_instance_discovery=True)
    with AIProjectClient(endpoint=emulator.project_endpoint("alpha"), credential=credential) as c:
        list(c.agents.list())
