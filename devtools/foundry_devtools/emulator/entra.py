"""An Entra-style token endpoint: the client-credentials flows azure-identity uses.

``POST /{tenant}/oauth2/v2.0/token`` on the HTTPS listener, so that ``AZURE_AUTHORITY_HOST``
(or a credential's ``authority``) pointed at the emulator makes an unmodified
``ClientSecretCredential``, ``CertificateCredential``, ``WorkloadIdentityCredential`` or
``DefaultAzureCredential`` (through EnvironmentCredential) get tokens from it. The app
registrations it knows are ``auth.apps`` in the config. The tokens carry the client ID as
their subject, which a project's ``principals`` list checks (403 for anyone else).

What is checked, and what is not: a client secret must match; a certificate-signed
assertion must verify against the registered certificate; a federated token (a Kubernetes
ServiceAccount token) must name the registered subject and audience and not be expired, but
its signature is not checked (the emulator does not fetch the cluster's keys).

``GET /{tenant}/v2.0/.well-known/openid-configuration`` is served for MSAL (the sync
credentials), which discovers the token endpoint there when instance discovery is off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import time
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .config import AppRegistration

if TYPE_CHECKING:
    from .server import Emulator

TOKEN_PATH: Final = "/{tenant:[^/_][^/]*}/oauth2/v2.0/token"
OPENID_PATH: Final = "/{tenant:[^/_][^/]*}/v2.0/.well-known/openid-configuration"
ENTRA_OPERATIONS: Final = frozenset({"entra_token", "entra_openid"})
JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenRefused(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise TokenRefused(400, "invalid_client", "AADSTS50027: the client assertion is not a JWT.")
    try:
        header, payload = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise TokenRefused(
            400, "invalid_client", "AADSTS50027: the client assertion is not a JWT."
        ) from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise TokenRefused(400, "invalid_client", "AADSTS50027: the client assertion is not a JWT.")
    return header, payload, f"{parts[0]}.{parts[1]}".encode(), signature


def _audiences(payload: dict[str, Any]) -> list[str]:
    aud = payload.get("aud")
    return [str(a) for a in aud] if isinstance(aud, list) else [str(aud)]


def _not_expired(payload: dict[str, Any]) -> None:
    try:
        expires = float(payload.get("exp", 0))
    except (TypeError, ValueError):
        expires = 0.0
    if expires <= time.time():
        raise TokenRefused(400, "invalid_client", "AADSTS700024: the client assertion has expired.")


def verify_certificate_assertion(app: AppRegistration, assertion: str) -> None:
    """A client assertion signed with the registered certificate's key (RS256 or PS256)."""
    header, payload, signed, signature = _jwt(assertion)
    assert app.certificate_pem is not None
    certificate = x509.load_pem_x509_certificate(app.certificate_pem.encode())
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TokenRefused(400, "invalid_client", "AADSTS700027: only RSA certificates are known.")
    scheme: padding.AsymmetricPadding
    if header.get("alg") == "PS256":
        scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    elif header.get("alg") == "RS256":
        scheme = padding.PKCS1v15()
    else:
        raise TokenRefused(400, "invalid_client", "AADSTS700027: unsupported assertion algorithm.")
    try:
        key.verify(signature, signed, scheme, hashes.SHA256())
    except InvalidSignature as exc:
        raise TokenRefused(
            401,
            "invalid_client",
            "AADSTS700027: the client assertion's signature does not match the registered "
            "certificate.",
        ) from exc
    if payload.get("sub") != app.client_id:
        raise TokenRefused(400, "invalid_client", "AADSTS700021: the assertion's sub is wrong.")
    _not_expired(payload)


def verify_federated_assertion(app: AppRegistration, assertion: str) -> None:
    """A federated token (e.g. a ServiceAccount token): subject and audience as registered."""
    _, payload, _, _ = _jwt(assertion)
    if payload.get("sub") != app.federated_subject:
        raise TokenRefused(
            400,
            "invalid_client",
            f"AADSTS700213: no matching federated identity record found for presented "
            f"assertion subject '{payload.get('sub')}'.",
        )
    if app.federated_audience not in _audiences(payload):
        raise TokenRefused(
            400,
            "invalid_client",
            f"AADSTS700212: no matching federated identity record found for presented "
            f"assertion audience; expected '{app.federated_audience}'.",
        )
    _not_expired(payload)


def authenticate_client(
    apps: list[AppRegistration], tenant: str, form: dict[str, str]
) -> AppRegistration:
    """The app registration the client-credentials request proves to be (or TokenRefused)."""
    if form.get("grant_type") != "client_credentials":
        raise TokenRefused(
            400, "unsupported_grant_type", "AADSTS70003: only client_credentials is supported."
        )
    client_id = form.get("client_id", "")
    app = next(
        (a for a in apps if a.client_id == client_id and a.tenant_id in (None, tenant)), None
    )
    if app is None:
        raise TokenRefused(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
            f"directory '{tenant}'.",
        )
    if "client_secret" in form:
        if app.client_secret is None or not hmac.compare_digest(
            form["client_secret"], app.client_secret
        ):
            raise TokenRefused(
                401,
                "invalid_client",
                f"AADSTS7000215: Invalid client secret provided for app '{client_id}'.",
            )
        return app
    assertion = form.get("client_assertion")
    if assertion and form.get("client_assertion_type") == JWT_BEARER:
        header, _, _, _ = _jwt(assertion)
        if app.certificate_pem is not None and ("x5t" in header or "x5t#S256" in header):
            verify_certificate_assertion(app, assertion)
        elif app.federated_subject is not None:
            verify_federated_assertion(app, assertion)
        else:
            raise TokenRefused(
                401, "invalid_client", f"AADSTS700027: app '{client_id}' takes no assertions."
            )
        return app
    raise TokenRefused(
        400, "invalid_client", "AADSTS7000218: a client_secret or client_assertion is required."
    )


def _scope_resource(scope: str) -> str | None:
    for item in scope.split():
        if item.endswith("/.default"):
            return item[: -len("/.default")]
    return None


class EntraEndpoint:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def token(self, request: web.Request) -> web.StreamResponse:
        emulator = self.emulator
        decision = emulator.faults.decide("token")
        if decision.delay_seconds > 0:
            await asyncio.sleep(decision.delay_seconds)
        if decision.status is not None:
            emulator.stats.record("token", decision.status)
            return _oauth_error(decision.status, "temporarily_unavailable", decision.message or "")
        form = {k: str(v) for k, v in (await request.post()).items()}
        try:
            app = authenticate_client(emulator.config.auth.apps, request.match_info["tenant"], form)
            resource = _scope_resource(form.get("scope", ""))
            if resource is None:
                raise TokenRefused(
                    400, "invalid_scope", "AADSTS1002012: the scope must end with /.default."
                )
        except TokenRefused as refused:
            emulator.stats.record("token", refused.status)
            return _oauth_error(refused.status, refused.error, refused.description)
        lifetime = emulator.config.auth.token_lifetime_seconds
        token, _ = emulator.issuer.issue(resource, lifetime, app.client_id)
        emulator.stats.record("token", 200)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            }
        )

    async def openid_configuration(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        base = f"{request.scheme}://{request.host}/{tenant}"
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                ],
            }
        )


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description, "error_codes": []}, status=status
    )
