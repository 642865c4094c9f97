"""The relay publishes on commit, not on its poll: with a 30 s safety-net interval, an
event stored by this process is on the stream within a second."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import nats

from hotro.natsbin import NatsServerProcess
from hotro.shared.contracts.subjects import EVENTS_STREAM, producer_filter
from hotro.shared.messaging.relay import HDR_NOTIFICATION_ID
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.test_pipeline import COMPLAINT
from tests.support.system import running_system
from tests.support.waiting import eventually

SAFETY_NET_S = 30.0


async def _last_published(url: str) -> int:
    nc = await nats.connect(url)
    try:
        msg = await nc.jetstream().get_msg(EVENTS_STREAM, subject=producer_filter("intake"),
                                           direct=True)
        return int((msg.headers or {})[HDR_NOTIFICATION_ID])
    finally:
        await nc.close()


async def test_a_commit_wakes_the_relay_long_before_its_safety_net(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S, services=("intake",),
                              settings_extra={"intake": {"relay_idle_s": SAFETY_NET_S}},
                              ) as system:
        relay = system.runtime("intake").relay
        assert relay is not None and relay.idle_s == SAFETY_NET_S
        store = system.application("intake")

        async def submit() -> None:
            async with system.client("intake") as client:
                r = await client.post("/api/complaints", json=COMPLAINT,
                                      headers={"Idempotency-Key": str(uuid.uuid4())})
                assert r.status_code == 201, r.text

        await submit()  # the relay's first pages, then it goes idle
        await eventually(lambda: relay.position == store.max_notification_id(),
                         message="relay caught up")
        before = await _last_published(provisioned.url)
        for _ in range(3):  # each commit is published by its own wake-up
            await submit()
            end: int = store.max_notification_id()
            committed = time.monotonic()

            def published(end: int = end) -> bool:
                return relay.position == end

            await eventually(published, timeout=SAFETY_NET_S, interval=0.01,
                             message="relay published the new events")
            assert time.monotonic() - committed < 1.0, "the relay waited for its poll"
        # on the stream, not only counted: (internal events after it are not published)
        assert before < await _last_published(provisioned.url) <= store.max_notification_id()
