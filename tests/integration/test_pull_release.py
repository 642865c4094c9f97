"""A partition consumer waits for messages with long pull requests (cheap when idle), yet
a stop neither waits for the request in flight nor strands a message the server sent to
it: what arrives for an interrupted request is handed back at once, not after ack_wait
(with one message in flight per partition, that would stall the partition that long)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from hotro.shared.contracts.subjects import EVENTS_STREAM, durable_name
from hotro.shared.messaging.consumer import PartitionConsumer
from hotro.shared.messaging.pull import fetch_unless, release
from hotro.shared.observability.metrics import ServiceMetrics
from tests.chaos.netproxy import DelayProxy
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.waiting import eventually

#: long enough that a message waiting for it could not pass for a prompt hand-back
ACK_WAIT_S = 60.0
DURABLE = durable_name("routing", 0)


@pytest.fixture
async def nc(nats_server: NatsServerProcess) -> AsyncIterator[Client]:
    await provision_all(nats_server.url, partitions=TEST_PARTITIONS,
                        lease_ttl_s=TEST_LEASE_TTL_S, max_deliver=5, ack_wait_s=ACK_WAIT_S)
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


async def waiting_requests(js: JetStreamContext) -> int:
    return (await js.consumer_info(EVENTS_STREAM, DURABLE)).num_waiting or 0


async def publish_on_partition_0(js: JetStreamContext) -> None:
    await js.publish(f"hotro.evt.intake.ComplaintReceived.0.{uuid.uuid4()}", b"{}")


async def test_a_stop_does_not_wait_for_the_pull_request_in_flight(nc: Client) -> None:
    js = nc.jetstream(timeout=2)
    app: Any = SimpleNamespace(name="routing")
    consumer = PartitionConsumer(app, js, 0, ServiceMetrics("routing"), fetch_timeout_s=60,
                                 handle=lambda envelope: True)
    stop = asyncio.Event()
    task = asyncio.ensure_future(consumer.run(stop))
    try:
        await eventually(lambda: waiting_requests(js), timeout=10,
                         message="the consumer's pull request waits on the server")
        stop.set()
        await asyncio.wait_for(task, timeout=5)  # not the request's 60 s
    finally:
        stop.set()
        task.cancel()


async def test_a_message_sent_to_an_interrupted_request_is_handed_back_at_once(
        nc: Client) -> None:
    js = nc.jetstream(timeout=2)
    sub = await js.pull_subscribe_bind(durable=DURABLE, stream=EVENTS_STREAM)
    stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fetching = asyncio.ensure_future(fetch_unless(stopped, sub, 1, 60))
    await eventually(lambda: waiting_requests(js), timeout=10,
                     message="the pull request waits on the server")
    stopped.set_result(None)
    assert await fetching is None
    # The request outlives the interrupted fetch on the server: it takes the next message.
    await publish_on_partition_0(js)

    async def sent_to_the_old_request() -> bool:
        info = await js.consumer_info(EVENTS_STREAM, DURABLE)
        return (info.num_ack_pending or 0) == 1

    await eventually(sent_to_the_old_request, timeout=10,
                     message="the server sent the message to the interrupted request")

    assert await release(sub) == 1

    successor = await js.pull_subscribe_bind(durable=DURABLE, stream=EVENTS_STREAM)
    try:
        msgs = await successor.fetch(1, timeout=10)
        assert len(msgs) == 1
        assert msgs[0].metadata.num_delivered == 2
        await msgs[0].ack()
    finally:
        await successor.unsubscribe()


async def test_releasing_an_idle_subscription_hands_back_nothing(nc: Client) -> None:
    js = nc.jetstream(timeout=2)
    sub = await js.pull_subscribe_bind(durable=DURABLE, stream=EVENTS_STREAM)
    assert await release(sub) == 0
    await publish_on_partition_0(js)
    successor = await js.pull_subscribe_bind(durable=DURABLE, stream=EVENTS_STREAM)
    try:
        msgs = await successor.fetch(1, timeout=10)
        assert msgs[0].metadata.num_delivered == 1
        await msgs[0].ack()
    finally:
        await successor.unsubscribe()


async def test_a_release_while_the_broker_is_away_does_not_wait_for_it(
        nats_server: NatsServerProcess, nc: Client) -> None:
    """The server forgot the request with the lost connection: nothing to hand back, and
    a stop must not wait for a round trip that cannot happen."""
    js = nc.jetstream(timeout=2)
    sub = await js.pull_subscribe_bind(durable=DURABLE, stream=EVENTS_STREAM)
    nats_server.stop()
    await eventually(lambda: not nc.is_connected, timeout=10, message="the client notices")
    assert await asyncio.wait_for(release(sub), timeout=1) == 0


async def test_a_release_during_a_network_stall_leaves_the_connection_working(
        nats_server: NatsServerProcess, nc: Client) -> None:
    """The release gives up after its timeout while the link carries nothing; once the
    link flows again the same connection must work (nats-py's ``flush`` with a timeout
    broke its read loop there until the next reconnect, minutes later)."""
    host, port = nats_server.url.removeprefix("nats://").split(":")
    proxy = DelayProxy(host, int(port), name="nats").start()
    client = await nats.connect(f"nats://{proxy.host}:{proxy.port}")
    try:
        js = client.jetstream(timeout=2)
        sub = await js.pull_subscribe_bind(durable=DURABLE, stream=EVENTS_STREAM)
        await asyncio.to_thread(proxy.stall)
        with pytest.raises(asyncio.TimeoutError):
            await release(sub)
        await asyncio.to_thread(proxy.flow)
        info = await js.account_info()  # within js's 2 s: the connection still works
        assert info.streams >= 1
    finally:
        await client.close()
        await asyncio.to_thread(proxy.stop)
