"""Every TLS connection the operator opens reads into a small buffer, and still carries
bodies much larger than that buffer."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import ssl
from pathlib import Path

import pytest

from foundry_devtools import certs
from foundry_operator import tls_buffer

BODY = bytes(range(256)) * 4096  # 1 MiB, 32 times the buffer


def _contexts(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca, ca_key = certs.new_ca("test-ca", days=1)
    leaf, key = certs.issue(ca, ca_key, "localhost", days=1, server=True, hosts=["127.0.0.1"])
    (tmp / "tls.crt").write_bytes(certs.cert_pem(leaf))
    (tmp / "tls.key").write_bytes(certs.key_pem(key))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp / "tls.crt", tmp / "tls.key")
    client = ssl.create_default_context(cadata=certs.cert_pem(ca).decode())
    return server, client


def test_a_connection_after_shrink_has_the_small_buffer_and_reads_a_large_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Restored after the test: the rest of the session keeps asyncio's own size.
    monkeypatch.setattr(asyncio.sslproto.SSLProtocol, "max_size", 256 * 1024)
    server_ctx, client_ctx = _contexts(tmp_path)
    tls_buffer.shrink()

    async def exchange() -> tuple[int, bytes]:
        async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(BODY)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        protocol = writer.transport._ssl_protocol  # type: ignore[attr-defined]
        received = await reader.read(-1)
        writer.close()
        server.close()
        await server.wait_closed()
        return len(protocol._ssl_buffer), received

    size, received = asyncio.run(exchange())
    assert size == tls_buffer.TLS_READ_BUFFER == 32 * 1024
    assert received == BODY
