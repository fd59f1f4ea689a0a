"""The read buffer asyncio gives every TLS connection, sized for what a connection reads.

asyncio's ``SSLProtocol`` allocates (and zero-fills) a 256 KiB buffer per connection for the
encrypted bytes it takes from the socket. The operator keeps about fifty connections open
under load (kopf's watches and requests, its own Kubernetes client, the Foundry pool), so
those buffers alone held about 13 MB of resident memory, most of it never read into: a TLS
record carries at most 16 KiB, and the buffer only bounds one ``recv_into`` call. 32 KiB
still takes two full records per call.
"""

from __future__ import annotations

import asyncio.sslproto
from typing import Final

TLS_READ_BUFFER: Final = 32 * 1024


def shrink() -> None:
    """Size the buffer of every TLS connection opened from now on. Idempotent."""
    # A class attribute in CPython 3.11 to 3.13: should a later Python drop it, the test
    # that opens a connection and measures its buffer fails instead of this doing nothing.
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER
