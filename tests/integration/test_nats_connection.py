"""The hang pitfall (faststream issue 2632): once nats-py's connection is closed for good
a pull loop can freeze the event loop, so the service must exit and let its supervisor
restart it. Closing ourselves (shutdown) must not count as fatal."""

from __future__ import annotations

import asyncio

from hotro.natsbin import NatsServerProcess
from hotro.shared.messaging.connection import NatsConnection
from tests.support.waiting import eventually


async def test_a_connection_closed_for_good_is_fatal(nats_server: NatsServerProcess) -> None:
    fatal = asyncio.Event()
    conn = NatsConnection([nats_server.url], "test:fatal", on_fatal=fatal.set)
    client = await conn.connect()
    assert conn.connected.is_set()
    await client.close()  # what nats-py does itself when it gives up reconnecting
    await eventually(fatal.is_set, timeout=10, message="on_fatal called")


async def test_our_own_shutdown_is_not_fatal(nats_server: NatsServerProcess) -> None:
    fatal = asyncio.Event()
    conn = NatsConnection([nats_server.url], "test:shutdown", on_fatal=fatal.set)
    await conn.connect()
    await conn.close()  # nats-py runs closed_cb inside close()
    assert conn.client is not None and conn.client.is_closed
    assert not fatal.is_set()


async def test_a_broker_restart_reconnects_instead_of_exiting(
        nats_server: NatsServerProcess) -> None:
    fatal = asyncio.Event()
    conn = NatsConnection([nats_server.url], "test:restart", on_fatal=fatal.set)
    await conn.connect()
    try:
        nats_server.stop()
        await eventually(lambda: not conn.connected.is_set(), timeout=10,
                         message="disconnect noticed")
        nats_server.start()
        await eventually(conn.connected.is_set, timeout=20, message="reconnected")
        assert not fatal.is_set()
    finally:
        await conn.close()
