"""A poison message goes to the dead-letter subject with its reason, is counted, and never
blocks the partition (real nats-server)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import nats

from hotro.natsbin import NatsServerProcess
from hotro.shared.contracts.subjects import DLQ_STREAM, EVENTS_STREAM, event_subject
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.test_pipeline import COMPLAINT
from tests.support.system import running_system
from tests.support.waiting import eventually


async def test_poison_message_is_dead_lettered_and_the_partition_moves_on(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S,
                              services=("intake", "routing")) as system:
        nc = await nats.connect(provisioned.url)
        js = nc.jetstream()
        poison_for = uuid.uuid4()
        # Same partition as the complaint we submit next: it must not be blocked.
        subject = event_subject("intake", "ComplaintReceived", poison_for, TEST_PARTITIONS)
        await js.publish(subject, b'{"not": "an envelope"}',
                         headers={"Nats-Msg-Id": "poison-1"})

        async def dead_letters() -> list[dict[str, str]]:
            info = await js.stream_info(DLQ_STREAM)
            if not info.state.messages:
                return []
            msg = await js.get_msg(DLQ_STREAM, seq=info.state.first_seq)
            return [dict(msg.headers or {})]

        letters = await eventually(dead_letters, timeout=30, message="a dead letter")
        assert letters[0]["Hotro-Dead-Letter-Reason"] == "undecodable"
        assert letters[0]["Hotro-Original-Subject"] == subject
        metrics = system.runtime("routing").metrics.render().decode()
        assert 'hotro_dead_letters_total{reason="undecodable",service="routing"} 1.0' in metrics

        async with system.client("intake") as client:
            r = await client.post("/api/complaints", json=COMPLAINT)
        assert r.status_code == 201
        complaint_id = uuid.UUID(r.json()["id"])
        routing = system.application("routing")
        await eventually(lambda: routing._find(complaint_id), message="next complaint handled")
        consumers = [await js.consumer_info(EVENTS_STREAM, f"routing-p{p}")
                     for p in range(TEST_PARTITIONS)]
        assert all(c.num_ack_pending == 0 for c in consumers)
        await nc.close()


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S,
                              services=("intake", "routing")) as system:
        routing = system.application("routing")
        attempts: list[int] = []
        original = routing._on_received

        def broken(env, payload, pe):  # type: ignore[no-untyped-def]
            attempts.append(1)
            raise ConnectionError("database unreachable")

        routing._on_received = broken
        async with system.client("intake") as client:
            r = await client.post("/api/complaints", json=COMPLAINT)
        assert r.status_code == 201
        nc = await nats.connect(provisioned.url)
        js = nc.jetstream()

        async def dead_lettered() -> bool:
            return bool((await js.stream_info(DLQ_STREAM)).state.messages)

        await eventually(dead_lettered, timeout=60, message="dead letter after max_deliver")
        msg = await js.get_msg(DLQ_STREAM, seq=1)
        assert msg.headers is not None and msg.data is not None
        assert msg.headers["Hotro-Dead-Letter-Reason"] == "max_deliveries"
        assert "database unreachable" in msg.headers["Hotro-Dead-Letter-Detail"]
        assert json.loads(msg.data)["event_type"] == "ComplaintReceived"
        assert len(attempts) == 5  # provisioned max_deliver
        routing._on_received = original
        await nc.close()
