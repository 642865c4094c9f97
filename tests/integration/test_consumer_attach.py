"""A partition consumer that starts while its durable consumer does not answer (a broker
outage, a cluster electing a new leader) keeps trying to attach instead of dying: the
replica still holds the partition's lease, so a dead consumer task would stall the
partition for good (seen on a 3-node cluster when the stream leader was killed)."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import nats

from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from hotro.shared.messaging.consumer import PartitionConsumer
from hotro.shared.observability.metrics import ServiceMetrics
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.waiting import eventually


async def test_consumer_attaches_once_its_durable_exists(nats_server: NatsServerProcess
                                                         ) -> None:
    metrics = ServiceMetrics("routing")
    app: Any = SimpleNamespace(name="routing")
    consumer = PartitionConsumer(app, None, 0, metrics, batch=1,  # type: ignore[arg-type]
                                 handle=lambda envelope: True)
    nc = await nats.connect(nats_server.url)
    stop = asyncio.Event()
    try:
        consumer.js = nc.jetstream(timeout=2)
        task = asyncio.create_task(consumer.run(stop))
        await asyncio.sleep(1.5)  # not provisioned yet: attaching fails, and is retried
        assert not task.done()
        await provision_all(nats_server.url, partitions=TEST_PARTITIONS,
                            lease_ttl_s=TEST_LEASE_TTL_S, max_deliver=5, ack_wait_s=3.0)
        # an undecodable message on partition 0: dead-lettered once the consumer runs
        await consumer.js.publish(f"hotro.evt.intake.ComplaintReceived.0.{uuid.uuid4()}",
                                  b"not an envelope")

        def dead_lettered() -> bool:
            value = metrics.registry.get_sample_value(
                "hotro_dead_letters_total", {"service": "routing", "reason": "undecodable"})
            return bool(value)

        await eventually(dead_lettered, timeout=30, message="the consumer attached and ran")
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    finally:
        stop.set()
        await nc.close()
