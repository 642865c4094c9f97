"""Our own HTTP clients (the gateway, the console's upstream clients) drop an idle
connection to a service before the service may close it: reusing one the server is
closing loses the request (the end-to-end bench saw ``ReadError('')``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest

from hotro.gateway import build_gateway
from hotro.services.console.upstream import ANONYMOUS, Upstreams
from hotro.shared.runtime.keep_alive import CLIENT_KEEPALIVE_EXPIRY_S, MIN_KEEP_ALIVE_S
from hotro.shared.settings import ServiceSettings


class CountingServer:
    """HTTP/1.1 with keep-alive that never closes first, counting its connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while (await reader.readuntil(b"\r\n\r\n")):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def upstream() -> AsyncIterator[CountingServer]:
    counting = CountingServer()
    counting.server = await asyncio.start_server(counting._serve, "127.0.0.1", 0)
    try:
        yield counting
    finally:
        counting.server.close()
        await counting.server.wait_closed()


async def _reuse_then_expire(call: Callable[[], Awaitable[None]],
                             upstream: CountingServer) -> None:
    await call()
    await call()
    assert upstream.connections == 1  # kept alive between two quick requests
    # idle past the clients' expiry (the stimulus, not a synchronisation)
    await asyncio.sleep(CLIENT_KEEPALIVE_EXPIRY_S + 0.5)
    await call()
    assert upstream.connections == 2  # the idle one was dropped by the client, not reused


def test_no_service_may_close_idle_connections_before_our_clients_drop_them() -> None:
    assert MIN_KEEP_ALIVE_S > CLIENT_KEEPALIVE_EXPIRY_S
    with pytest.raises(ValueError, match="greater than or equal to 3"):
        ServiceSettings(nats_url="nats://n:4222", store_url="sqlite:///x.sqlite",
                        http_keep_alive_s=2)


async def test_the_gateway_drops_an_idle_upstream_connection(upstream: CountingServer) -> None:
    gateway = build_gateway({"routing": upstream.url})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                 base_url="http://gateway") as client:

        async def call() -> None:
            assert (await client.get("/api/cases")).status_code == 200

        await _reuse_then_expire(call, upstream)


async def test_the_console_drops_an_idle_upstream_connection(upstream: CountingServer) -> None:
    upstreams = Upstreams({"routing": upstream.url}, keys=None,
                          clock=lambda: datetime.now(UTC))
    try:
        async def call() -> None:
            await upstreams.get_json("routing", "/api/cases", ANONYMOUS)

        await _reuse_then_expire(call, upstream)
    finally:
        await upstreams.aclose()
