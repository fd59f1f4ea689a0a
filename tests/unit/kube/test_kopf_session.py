"""kopf's session to the API server: the same credentials as its own, a cap on connections."""

from __future__ import annotations

import asyncio

import kopf

from foundry_operator.handlers import capped_session, watch_streams


def test_kopf_session_carries_the_token_and_caps_connections() -> None:
    info = kopf.ConnectionInfo(server="https://127.0.0.1:6443", token="t0ken", insecure=True)

    async def build() -> tuple[int, str | None, str]:
        context = capped_session(info, 12)
        session = context.aiohttp_session
        try:
            assert session.connector is not None
            return session.connector.limit, session.headers.get("Authorization"), context.server
        finally:
            await session.close()

    limit, authorization, server = asyncio.run(build())
    assert limit == 12
    assert authorization == "Bearer t0ken"
    assert server == "https://127.0.0.1:6443"


def test_each_watch_stream_gets_a_connection_beyond_the_cap() -> None:
    # HostedAgents, FoundryToolboxes and FoundryProjects per namespace; cluster-wide also
    # ClusterFoundryProjects. A stream short would take one of the cap's request connections.
    assert watch_streams([]) == 4
    assert watch_streams(["a"]) == 3
    assert watch_streams(["a", "b"]) == 6
