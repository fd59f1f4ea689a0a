"""The operator's own requests to the API server: plain JSON over one aiohttp session.

kopf watches HostedAgents and holds the finalizer; everything else the operator sends (status
patches, Events, Secret and ConfigMap reads, the metadata-only watch of those, the leader
Lease) goes through this client, on the event loop, with no generated models and no thread
pool: the body is ours and a reconcile reads one or two fields back.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp

from .config import Connection, Credentials, forget_exec_credentials

JSON: Final = "application/json"
MERGE_PATCH: Final = "application/merge-patch+json"


class KubeError(Exception):
    """An answer of 400 or above (or a transport failure, with status 0)."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        self.status = status
        self.reason = reason
        self.message = message
        text = f"HTTP {status} {reason}"
        super().__init__(f"{text}: {message}" if message else text)


def _ssl_context(
    conn: Connection, creds: Credentials, scratch: Callable[[], Path]
) -> ssl.SSLContext | bool:
    if not conn.server.startswith("https"):
        return False
    context = ssl.create_default_context(cadata=conn.ca_pem.decode() if conn.ca_pem else None)
    if conn.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if creds.cert_pem and creds.key_pem:
        # The ssl module loads client certificates from files only: a private directory,
        # removed when the client closes.
        cert, key = scratch() / "client.crt", scratch() / "client.key"
        for path, data in ((cert, creds.cert_pem), (key, creds.key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        context.load_cert_chain(cert, key)
    return context


class KubeClient:
    def __init__(self, conn: Connection, *, timeout: float = 30.0, connections: int = 64) -> None:
        self.conn = conn
        self._timeout = timeout
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._creds: Credentials | None = None
        # Made only for client certificates: the root filesystem may be read-only.
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="foundry-operator-kube-")
        return Path(self._scratch.name)

    async def _ensure(self) -> tuple[aiohttp.ClientSession, Credentials]:
        creds = await self.conn.credentials()
        if self._session is not None and creds == self._creds:
            return self._session, creds
        if self._session is not None and (
            creds.cert_pem != (self._creds.cert_pem if self._creds else None)
        ):
            await self._session.close()
            self._session = None
        if self._session is None:
            connector = aiohttp.TCPConnector(
                ssl=_ssl_context(self.conn, creds, self._scratch_dir),
                limit=self._connections,
            )
            self._session = aiohttp.ClientSession(connector=connector)
        self._creds = creds
        return self._session, creds

    def _headers(self, creds: Credentials, accept: str, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "foundry-agent-operator"}
        if content_type:
            headers["Content-Type"] = content_type
        auth = creds.authorization()
        if auth:
            headers["Authorization"] = auth
        return headers

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = JSON,
        query: Mapping[str, str] | None = None,
        accept: str = JSON,
        time_limit: float | None = None,
    ) -> dict[str, Any]:
        """The decoded JSON answer; KubeError for any answer of 400 or more."""
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        for attempt in (1, 2):
            session, creds = await self._ensure()
            try:
                async with session.request(
                    method,
                    self.conn.server + path,
                    params=dict(query or {}),
                    data=data,
                    headers=self._headers(creds, accept, content_type if data else None),
                    timeout=aiohttp.ClientTimeout(total=time_limit or self._timeout),
                ) as response:
                    raw = await response.read()
                    if response.status == 401 and attempt == 1 and self._renewable():
                        forget_exec_credentials()
                        continue
                    if response.status >= 400:
                        raise KubeError(response.status, response.reason or "", _message(raw))
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise KubeError(0, type(exc).__name__, str(exc)) from None
            decoded = json.loads(raw) if raw else {}
            return decoded if isinstance(decoded, dict) else {}
        raise AssertionError("unreachable")

    async def stream(
        self, path: str, query: Mapping[str, str], *, accept: str = JSON, time_limit: float = 330.0
    ) -> AsyncIterator[dict[str, Any]]:
        """One decoded JSON object per line of a watch answer, until the server ends it."""
        session, creds = await self._ensure()
        try:
            async with session.get(
                self.conn.server + path,
                params=dict(query),
                headers=self._headers(creds, accept, None),
                timeout=aiohttp.ClientTimeout(total=time_limit, sock_connect=10),
            ) as response:
                if response.status >= 400:
                    if response.status == 401 and self._renewable():
                        forget_exec_credentials()
                    raise KubeError(
                        response.status, response.reason or "", _message(await response.read())
                    )
                async for line in response.content:
                    if line.strip():
                        yield json.loads(line)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KubeError(0, type(exc).__name__, str(exc)) from None

    def _renewable(self) -> bool:
        return self.conn.exec_plugin is not None or self.conn.token_file is not None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def _message(raw: bytes) -> str:
    """The Status message the API server sends with an error, if any."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    return str(doc.get("message", "")) if isinstance(doc, dict) else ""
