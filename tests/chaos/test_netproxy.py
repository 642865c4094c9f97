"""The chaos suite's network-delay proxy against a real TCP echo server: what it is told
to inject (latency both ways, a stall, a server that is gone) is what a client sees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.chaos.netproxy import DelayProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[DelayProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = DelayProxy("127.0.0.1", port, name="echo").start()
    try:
        yield proxy
    finally:
        proxy.stop()
        server.close()
        await server.wait_closed()


async def _round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      payload: bytes, timeout: float = 5.0) -> float:
    began = time.monotonic()
    writer.write(payload)
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(len(payload)), timeout) == payload
    return time.monotonic() - began


async def test_latency_both_ways_then_none(proxy: DelayProxy) -> None:
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        assert await _round_trip(reader, writer, b"ping") < 0.2
        proxy.delay_s = 0.3
        assert await _round_trip(reader, writer, b"slow") >= 0.6  # 0.3 s each way
        proxy.clear()
        assert await _round_trip(reader, writer, b"fast") < 0.2
    finally:
        writer.close()


async def test_a_stall_carries_nothing_until_the_link_flows_again(proxy: DelayProxy) -> None:
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        proxy.stall()
        writer.write(b"held")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(4), 0.5)
        proxy.flow()
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
    finally:
        writer.close()


async def test_a_server_that_is_gone_closes_the_clients_connection() -> None:
    unused = DelayProxy("127.0.0.1", 1)
    unused.stop()  # never started: its port is free, nobody listens there
    gone = DelayProxy("127.0.0.1", unused.port, name="gone").start()
    try:
        reader, writer = await asyncio.open_connection(gone.host, gone.port)
        assert await asyncio.wait_for(reader.read(10), 5) == b""
        writer.close()
    finally:
        gone.stop()
