"""``LeaseKeeper.stalled``: a round that fails, or never ends, for a TTL is reported."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotro.shared.messaging.leases import LeaseKeeper
from tests.support.waiting import eventually


class KV:
    _name = "hotro_leases"

    def __init__(self) -> None:
        self.mode = "ok"
        self.revision = 0

    async def put(self, key: str, value: bytes) -> int:
        if self.mode == "refuse":
            raise RuntimeError("insufficient resources")
        if self.mode == "hang":
            await asyncio.Event().wait()
        self.revision += 1
        return self.revision

    async def create(self, key: str, value: bytes) -> int:
        return await self.put(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        return await self.put(key, value)


def keeper(kv: KV) -> LeaseKeeper:
    js: Any = None
    return LeaseKeeper(js, kv, "notify", "notify-1", 4, ttl_s=0.3,  # type: ignore[arg-type]
                       consume_partitions=False)


async def test_refused_writes_are_reported_after_a_ttl_and_cleared_by_a_good_round() -> None:
    kv = KV()
    keeping = keeper(kv)
    await keeping._round()
    assert keeping.stalled() is None
    kv.mode = "refuse"
    with pytest.raises(RuntimeError):
        await keeping._round()
    assert keeping.stalled() is None  # one failed round is not yet a stall
    why = await eventually(keeping.stalled, timeout=3, message="stall reported")
    assert "insufficient resources" in why
    kv.mode = "ok"
    await keeping._round()
    assert keeping.stalled() is None


async def test_a_round_that_never_ends_is_reported_too() -> None:
    kv = KV()
    keeping = keeper(kv)
    await keeping._round()
    kv.mode = "hang"
    stuck = asyncio.create_task(keeping._round())
    try:
        why = await eventually(keeping.stalled, timeout=3, message="stall reported")
        assert "still in flight" in why
    finally:
        stuck.cancel()
