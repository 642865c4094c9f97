"""A lease is acted on only while the bucket cannot have expired it: a renewal stuck in
flight (a cluster electing a leader, a request waiting for its timeout) must not keep it
valid while another replica takes it over. Found by the chaos suite: after a NATS outage
two notify replicas both "held" the same partitions for seconds and sent the same emails."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hotro.shared.messaging.leases import VALID_FOR, LeaseKeeper


class StuckKV:
    """Creates succeed; every renewal hangs (until cancelled)."""

    _name = "hotro_leases"

    def __init__(self) -> None:
        self.revision = 0

    async def put(self, key: str, value: bytes) -> int:
        self.revision += 1
        return self.revision

    async def create(self, key: str, value: bytes) -> int:
        return await self.put(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_lease_stops_being_held_before_the_bucket_can_expire_it() -> None:
    kv: Any = StuckKV()
    keeper = LeaseKeeper(None, kv, "notify", "notify-1", 4, ttl_s=1.0,  # type: ignore[arg-type]
                         consume_partitions=False)
    await keeper.tick()
    assert keeper.holds_relay()
    acquired = time.monotonic()
    renewal = asyncio.create_task(keeper.tick())  # hangs in update()
    try:
        while keeper.holds_relay():
            await asyncio.sleep(0.01)
        gave_up_after = time.monotonic() - acquired
        assert gave_up_after < 1.0 * VALID_FOR + 0.1  # well before the key's TTL ends
        assert not renewal.done(), "the renewal is still in flight: validity is by time"
        assert keeper.relay_key in keeper.held  # not released: a late success keeps it
    finally:
        renewal.cancel()
