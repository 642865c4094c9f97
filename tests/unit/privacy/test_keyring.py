"""The synchronous key-ring facade over NATS KV (worker threads -> the runtime's loop),
against a real nats-server; and the data-dir secret of the keyed hashes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats
import pytest

from hotro.natsbin import NatsServerProcess
from hotro.shared.privacy.kv import KeyRingUnavailable, NatsKeyRing, keyring_job
from hotro.shared.privacy.sealing import KeyDestroyed, reveal, seal_with
from hotro.shared.privacy.secrets import ensure_secret_file


async def test_worker_threads_create_open_and_destroy_keys_through_the_loop(
        provisioned: NatsServerProcess) -> None:
    nc = await nats.connect(provisioned.url)
    ring = NatsKeyRing(timeout_s=5)
    try:
        await ring.attach(nc.jetstream())
        sealed = await asyncio.to_thread(seal_with, ring, "c-1", {"name": "Lan"})
        assert "Lan" not in str(sealed)
        assert await asyncio.to_thread(ring.create, "c-1") == \
            await asyncio.to_thread(ring.key, "c-1")  # create is idempotent
        assert await asyncio.to_thread(reveal, sealed, ring) == {"name": "Lan"}

        await asyncio.to_thread(ring.destroy, "c-1")
        assert await asyncio.to_thread(ring.key, "c-1") is None
        assert await asyncio.to_thread(reveal, sealed, ring) is None
        with pytest.raises(KeyDestroyed):  # the tombstone: never re-created
            await asyncio.to_thread(ring.create, "c-1")
        await asyncio.to_thread(ring.destroy, "c-1")  # twice: harmless

        with pytest.raises(RuntimeError, match="worker thread"):
            ring.key("c-1")  # from the loop's own thread it would deadlock: refused
    finally:
        ring.detach()
        await nc.close()


async def test_a_call_before_the_runtime_attached_waits_then_says_unavailable(
        provisioned: NatsServerProcess) -> None:
    ring = NatsKeyRing(timeout_s=0.2)
    with pytest.raises(KeyRingUnavailable):
        await asyncio.to_thread(ring.key, "c-2")

    class Runtime:
        js: Any = None

    nc = await nats.connect(provisioned.url)
    Runtime.js = nc.jetstream()
    stop = asyncio.Event()
    slow = NatsKeyRing(timeout_s=5)
    waiting = asyncio.ensure_future(asyncio.to_thread(slow.create, "c-2"))
    job = asyncio.ensure_future(keyring_job(Runtime, slow)(stop))  # attaches meanwhile
    try:
        assert len(await waiting) == 32
    finally:
        stop.set()
        await job
        await nc.close()
    with pytest.raises(KeyRingUnavailable):  # detached when the runtime stops
        await asyncio.to_thread(NatsKeyRing(timeout_s=0.1).key, "c-2")


def test_the_hash_secret_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first = ensure_secret_file(tmp_path)
    assert len(first) >= 32 and ensure_secret_file(tmp_path) == first
    assert (tmp_path / "pii-hash.secret").stat().st_mode & 0o077 == 0


def test_the_key_cache_forgets_keys_not_used_within_its_ttl() -> None:
    """Every customer has a key: a cache that kept each one grew with the cases."""
    from hotro.shared.privacy.sealing import CachedKeyRing, MemoryKeyRing

    now = [0.0]
    cached = CachedKeyRing(MemoryKeyRing(), ttl_s=10, monotonic=lambda: now[0])
    for n in range(100):
        cached.create(f"customer-{n}")
    assert cached.cached() == 100
    now[0] = 10.5  # the old ones expired; the next remembered key sweeps them
    fresh = cached.create("customer-new")
    assert cached.cached() == 1
    assert cached.key("customer-new") == fresh
    assert cached.key("customer-3") is not None  # still readable from the inner ring
