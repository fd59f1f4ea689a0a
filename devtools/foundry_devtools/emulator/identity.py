"""Tokens: issued the App Service managed-identity way, checked on every project call.

Why App Service: with ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` set, an unmodified
``DefaultAzureCredential`` asks that URL for a token over plain http on loopback, which is
all the emulator needs to serve (foundry-api.md, section 7).

Tokens are opaque to clients but self-contained for the emulator: an HMAC over the audience
and expiry, keyed by a secret kept in the state directory. A restarted emulator therefore
still accepts the tokens clients cached before the restart, and needs no token table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .persistence import atomic_write

TOKEN_PREFIX = "femu1"


@dataclass(frozen=True)
class Secrets:
    identity_header: str
    signing_key: bytes


def load_or_create_secrets(directory: Path) -> Secrets:
    path = directory / "secrets.json"
    if path.exists():
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Secrets(raw["identity_header"], base64.b64decode(raw["signing_key"]))
    created = Secrets(secrets.token_urlsafe(24), secrets.token_bytes(32))
    data = {
        "identity_header": created.identity_header,
        "signing_key": base64.b64encode(created.signing_key).decode(),
    }
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data).encode())
    os.chmod(path, 0o600)
    return created


@dataclass(frozen=True)
class TokenClaims:
    audience: str
    expires_on: int
    # Who the token was issued to (a client ID, or "managed-identity"); None for tokens
    # issued before subjects existed, which only unrestricted projects accept.
    subject: str | None = None


def normalize_audience(resource: str) -> str:
    """``https://ai.azure.com/.default`` and ``https://ai.azure.com/`` name one audience."""
    value = resource.strip()
    if value.endswith("/.default"):
        value = value[: -len("/.default")]
    return value.rstrip("/")


class TokenIssuer:
    def __init__(self, signing_key: bytes) -> None:
        self._key = signing_key

    def issue(
        self, resource: str, lifetime_seconds: int, subject: str | None = None
    ) -> tuple[str, int]:
        expires_on = int(time.time()) + lifetime_seconds
        claims: dict[str, object] = {
            "aud": normalize_audience(resource),
            "exp": expires_on,
            "jti": secrets.token_hex(8),
        }
        if subject is not None:
            claims["sub"] = subject
        payload = json.dumps(claims, separators=(",", ":")).encode()
        body = _b64(payload)
        return f"{TOKEN_PREFIX}.{body}.{self._sign(body)}", expires_on

    def verify(self, token: str) -> TokenClaims | None:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        if not hmac.compare_digest(parts[2], self._sign(parts[1])):
            return None
        try:
            payload = json.loads(_unb64(parts[1]))
            sub = payload.get("sub")
            claims = TokenClaims(
                str(payload["aud"]), int(payload["exp"]), str(sub) if sub is not None else None
            )
        except (ValueError, KeyError, TypeError):
            return None
        if claims.expires_on <= time.time():
            return None
        return claims

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
