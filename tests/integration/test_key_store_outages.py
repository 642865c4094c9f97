"""Reading data keys when the key store is not all there, against a real nats-server:
a replica that has not caught up (its direct get says "not found") is never read as an
erasure — the stream leader is asked; a key that is nowhere is "missing", not erased;
NATS stopped (no responders, no answer) is "unavailable"; and the service's key ring
attaches again by itself once NATS is back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from hotro.shared.messaging.connection import NatsConnection
from hotro.shared.privacy.kv import (
    KeyMissing,
    KeyRingUnavailable,
    NatsKeyRing,
    bucket,
    create_key,
    destroy_key,
    get_key,
    keyring_job,
    lookup,
)
from hotro.shared.privacy.sealing import CachedKeyRing
from tests.support.waiting import eventually


class _LaggingReplica:
    """The JetStream context as seen through a replica that has none of the bucket's
    messages yet: every *direct* get answers "not found"; the leader's API answers."""

    def __init__(self, js: Any) -> None:
        self._js = js
        self.direct_gets = 0
        self.leader_gets = 0

    async def get_msg(self, stream: str, *args: Any, direct: bool = False, **kw: Any) -> Any:
        if direct:
            self.direct_gets += 1
            raise NotFoundError
        self.leader_gets += 1
        return await self._js.get_msg(stream, *args, direct=False, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)


async def test_not_found_on_a_lagging_replica_is_asked_of_the_leader(
        provisioned: NatsServerProcess) -> None:
    nc = await nats.connect(provisioned.url)
    try:
        kv = await bucket(nc.jetstream(timeout=5))
        live = await create_key(kv, "c-live")
        await create_key(kv, "c-erased")
        await destroy_key(kv, "c-erased")
        lagging = _LaggingReplica(kv._js)
        kv._js = lagging

        assert await get_key(kv, "c-live") == live  # a live customer, not "erased"
        assert lagging.direct_gets == 1 and lagging.leader_gets == 1
        assert await get_key(kv, "c-erased") is None  # the tombstone, from the leader
        assert await create_key(kv, "c-live") == live  # create's read-back too
        with pytest.raises(KeyMissing):  # nowhere, even on the leader: not erased
            await get_key(kv, "c-never")
        assert (await lookup(kv, "c-never")).state == "absent"
    finally:
        await nc.close()


async def test_a_missing_key_reaches_the_service_as_unavailable_and_is_not_cached(
        provisioned: NatsServerProcess) -> None:
    nc = await nats.connect(provisioned.url)
    ring = NatsKeyRing(timeout_s=5)
    cached = CachedKeyRing(ring, ttl_s=60)
    try:
        await ring.attach(nc.jetstream(timeout=5))
        with pytest.raises(KeyRingUnavailable):
            await asyncio.to_thread(cached.key, "c-1")
        kv = await bucket(nc.jetstream())
        key = await create_key(kv, "c-1")  # moved from intake's pending table meanwhile
        assert await asyncio.to_thread(cached.key, "c-1") == key
    finally:
        ring.detach()
        await nc.close()


async def test_no_responders_for_the_bucket_is_unavailable_not_erased(
        provisioned: NatsServerProcess) -> None:
    """The bucket's stream gone (or without a leader): a direct get has no responders."""
    nc = await nats.connect(provisioned.url)
    ring = NatsKeyRing(timeout_s=5)
    try:
        js = nc.jetstream(timeout=2)
        await ring.attach(js)
        await js.delete_stream("KV_hotro_pii_keys")
        with pytest.raises(KeyRingUnavailable) as raised:
            await asyncio.to_thread(ring.key, "c-1")
        assert not isinstance(raised.value, KeyMissing)
        with pytest.raises(KeyRingUnavailable):  # a create: no stream answers the publish
            await asyncio.to_thread(ring.create, "c-1")  # (intake then keeps it pending)
    finally:
        ring.detach()
        await nc.close()


class _Runtime:
    """What ``keyring_job`` reads of a service runtime: its JetStream and connection."""

    def __init__(self, conn: NatsConnection, js: Any) -> None:
        self.conn = conn
        self.js = js


async def _provisioned_server(tmp_path: Path) -> NatsServerProcess:
    server = NatsServerProcess(store_dir=tmp_path / "nats", log_file=tmp_path / "nats.log")
    server.start()
    await provision_all(server.url, partitions=1, lease_ttl_s=2.0, max_deliver=5,
                        ack_wait_s=3.0)
    return server


async def test_the_ring_says_unavailable_while_nats_is_down_and_reattaches_after(
        tmp_path: Path) -> None:
    server = await _provisioned_server(tmp_path)
    conn = NatsConnection([server.url], "keys-test", on_fatal=lambda: None)
    stop = asyncio.Event()
    job: asyncio.Future[None] | None = None
    try:
        nc = await conn.connect()
        runtime = _Runtime(conn, nc.jetstream(timeout=2))
        key = await create_key(await bucket(runtime.js), "c-1")
        ring = NatsKeyRing(timeout_s=3)
        job = asyncio.ensure_future(keyring_job(runtime, ring)(stop))
        assert await asyncio.to_thread(ring.key, "c-1") == key

        server.kill9()
        await eventually(lambda: not conn.connected.is_set(), timeout=10,
                         message="the client to notice the outage")
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(KeyRingUnavailable):
            await asyncio.to_thread(ring.key, "c-1")
        assert loop.time() - began < 1.0  # at once: never "erased", never a long hang

        server.start()  # same port, same store
        await eventually(lambda: asyncio.to_thread(_key_or_none, ring, "c-1"), timeout=20,
                         message="the key readable again after the restart")
        assert await asyncio.to_thread(ring.key, "c-1") == key
    finally:
        stop.set()
        if job is not None:
            await job
        await conn.close()
        server.stop()


async def test_the_ring_attaches_once_the_bucket_answers_when_it_did_not_at_start(
        tmp_path: Path) -> None:
    """The runtime connected, then NATS went away before the key ring bound its bucket:
    the job keeps trying instead of leaving the ring unattached for good."""
    server = await _provisioned_server(tmp_path)
    conn = NatsConnection([server.url], "keys-test", on_fatal=lambda: None)
    stop = asyncio.Event()
    job: asyncio.Future[None] | None = None
    try:
        nc = await conn.connect()
        runtime = _Runtime(conn, nc.jetstream(timeout=1))
        key = await create_key(await bucket(runtime.js), "c-2")
        server.kill9()
        await eventually(lambda: not conn.connected.is_set(), timeout=10,
                         message="the client to notice the outage")
        ring = NatsKeyRing(timeout_s=1)
        job = asyncio.ensure_future(keyring_job(runtime, ring)(stop))
        with pytest.raises(KeyRingUnavailable):
            await asyncio.to_thread(ring.key, "c-2")
        server.start()
        await eventually(lambda: asyncio.to_thread(_key_or_none, ring, "c-2"), timeout=20,
                         message="the ring attached after NATS came back")
        assert await asyncio.to_thread(ring.key, "c-2") == key
    finally:
        stop.set()
        if job is not None:
            await job
        await conn.close()
        server.stop()


def _key_or_none(ring: NatsKeyRing, key_id: str) -> bytes | None:
    try:
        return ring.key(key_id)
    except KeyRingUnavailable:
        return None


class _AnswerLost:
    """The key bucket as seen when a create lands but its acknowledgement is lost (a
    publish timing out during a leader election): the outcome is unknown to the caller."""

    def __init__(self, kv: Any) -> None:
        self._kv = kv

    async def create(self, key: str, value: bytes) -> int:
        await self._kv.create(key, value)
        raise nats.errors.TimeoutError

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)


async def test_a_create_whose_answer_is_lost_keeps_the_same_key_pending(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    """Intake seals with the key kept pending; the store got that same key: the flush
    finds them equal, and the sealed contact opens with the store's key alone."""
    from eventsourcing.application import Application

    from hotro.shared.eventstore.persistence import persistence_env
    from hotro.shared.eventstore.schema import ensure_store
    from hotro.shared.privacy.pending import FallbackKeyRing, flush_pending_keys, pending_keys_for
    from hotro.shared.privacy.sealing import reveal, seal_with

    url = f"sqlite:///{tmp_path / 'intake.sqlite'}"
    ensure_store(url)
    app: Application[Any] = Application(env=persistence_env(url))
    pending = pending_keys_for(app.recorder)
    nc = await nats.connect(provisioned.url)
    shared = NatsKeyRing(timeout_s=5)
    try:
        js = nc.jetstream(timeout=5)
        await shared.attach(js)
        real = shared._kv
        shared._kv = _AnswerLost(real)
        ring = FallbackKeyRing(CachedKeyRing(shared), pending)
        sealed = await asyncio.to_thread(seal_with, ring, "c-lost", {"name": "Phạm Thị Dung"})
        [(kept_id, kept)] = pending.items()
        assert kept_id == "c-lost" and await get_key(real, "c-lost") == kept
        shared._kv = real
        assert await flush_pending_keys(pending, js) == 1
        assert await asyncio.to_thread(reveal, sealed, shared) == {"name": "Phạm Thị Dung"}
    finally:
        shared.detach()
        await nc.close()
        app.close()
