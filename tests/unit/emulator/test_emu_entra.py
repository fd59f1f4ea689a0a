"""The emulator's Entra-style token endpoint: which client-credentials requests it takes."""

from __future__ import annotations

import base64
import datetime
import json
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from foundry_devtools.emulator.config import AppRegistration
from foundry_devtools.emulator.entra import JWT_BEARER, TokenRefused, authenticate_client

SUBJECT = "system:serviceaccount:platform:operator"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    signed = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = sign(signed.encode()) if sign else b"sig"
    return f"{signed}.{b64(signature)}"


def certificate() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


def form(client: str, **fields: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client, **fields}


def assertion_form(client: str, token: str) -> dict[str, str]:
    return form(client, client_assertion=token, client_assertion_type=JWT_BEARER)


def refusal(apps: list[AppRegistration], body: dict[str, str], tenant: str = "t") -> TokenRefused:
    with pytest.raises(TokenRefused) as caught:
        authenticate_client(apps, tenant, body)
    return caught.value


def test_a_client_secret_must_match_and_the_tenant_too() -> None:
    apps = [AppRegistration(client_id="a", tenant_id="t", client_secret="s3cret")]
    assert authenticate_client(apps, "t", form("a", client_secret="s3cret")).client_id == "a"
    assert refusal(apps, form("a", client_secret="wrong")).status == 401
    assert "AADSTS700016" in refusal(apps, form("a", client_secret="s3cret"), "u").description
    assert "AADSTS700016" in refusal(apps, form("b", client_secret="s3cret")).description
    assert refusal(apps, {"client_id": "a"}).error == "unsupported_grant_type"
    assert "AADSTS7000218" in refusal(apps, form("a")).description


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_a_certificate_assertion_must_be_signed_by_the_registered_key(alg: str) -> None:
    key, pem = certificate()
    other, _ = certificate()
    apps = [AppRegistration(client_id="a", certificate_pem=pem)]
    scheme = (
        padding.PKCS1v15()
        if alg == "RS256"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    )
    claims = {"sub": "a", "aud": "https://x/t/oauth2/v2.0/token", "exp": time.time() + 60}
    header = {"alg": alg, "x5t": "thumb"}

    def signer(k: rsa.RSAPrivateKey) -> Any:
        return lambda data: k.sign(data, scheme, hashes.SHA256())

    good = jwt(header, claims, signer(key))
    assert authenticate_client(apps, "t", assertion_form("a", good)).client_id == "a"
    forged = jwt(header, claims, signer(other))
    assert refusal(apps, assertion_form("a", forged)).status == 401
    expired = jwt(header, {**claims, "exp": time.time() - 1}, signer(key))
    assert "AADSTS700024" in refusal(apps, assertion_form("a", expired)).description


def test_a_federated_token_must_name_the_trusted_subject_and_audience() -> None:
    apps = [AppRegistration(client_id="wi", federated_subject=SUBJECT)]
    claims = {"sub": SUBJECT, "aud": ["api://AzureADTokenExchange"], "exp": time.time() + 60}
    ok = jwt({"alg": "RS256"}, claims)
    assert authenticate_client(apps, "any", assertion_form("wi", ok)).client_id == "wi"
    stranger = jwt({"alg": "RS256"}, {**claims, "sub": "system:serviceaccount:x:y"})
    assert "AADSTS700213" in refusal(apps, assertion_form("wi", stranger)).description
    wrong_audience = jwt({"alg": "RS256"}, {**claims, "aud": "kubernetes"})
    assert "AADSTS700212" in refusal(apps, assertion_form("wi", wrong_audience)).description
    assert "not a JWT" in refusal(apps, assertion_form("wi", "garbage")).description
