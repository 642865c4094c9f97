"""Data keys made while NATS is away: kept in the service's own database (SQLite and
PostgreSQL), agreed on by replicas, moved to the NATS KV before anything is published,
and dropped when the complaint was erased meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from eventsourcing.application import Application

from hotro.natsbin import NatsServerProcess
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.privacy.kv import KeyRingUnavailable, NatsKeyRing, bucket, destroy_key
from hotro.shared.privacy.pending import (
    FallbackKeyRing,
    PendingKeys,
    flush_pending_keys,
    pending_keys_for,
)
from hotro.shared.privacy.sealing import reveal, seal_with
from tests.support.postgres import PostgresSchemas


def _app(url: str) -> Application[uuid.UUID]:
    ensure_store(url)
    return Application(env=persistence_env(url))


@pytest.fixture(params=["sqlite", "postgres"])
def two_replicas(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> Iterator[tuple[PendingKeys, PendingKeys]]:
    """The pending-key tables of two replicas of one service (one database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'intake.sqlite'}"
    else:
        schemas: PostgresSchemas = request.getfixturevalue("pg_schemas")
        url = schemas.url("intake")
    apps = [_app(url), _app(url)]  # kept referenced: a collected app closes its pool
    yield pending_keys_for(apps[0].recorder), pending_keys_for(apps[1].recorder)
    for app in apps:
        app.close()


def test_replicas_sealing_one_request_agree_on_one_pending_key(
        two_replicas: tuple[PendingKeys, PendingKeys]) -> None:
    a, b = two_replicas
    key = a.put_new("c-1")
    assert b.put_new("c-1") == key  # the second replica finds the first one's key
    assert b.get("c-1") == key and a.get("c-2") is None
    a.put_new("c-2")
    assert [k for k, _ in b.items()] == ["c-1", "c-2"]
    b.delete(["c-1"])
    assert a.get("c-1") is None and [k for k, _ in a.items()] == ["c-2"]


class _Disconnected:
    """``NatsKeyRing``'s connection check, switched by the test."""

    def __init__(self) -> None:
        self.up = False

    def __call__(self) -> bool:
        return self.up


async def test_keys_made_while_nats_is_away_reach_the_key_store_before_publishing(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    app = _app(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    pending = pending_keys_for(app.recorder)
    nc = await nats.connect(provisioned.url)
    shared = NatsKeyRing(timeout_s=5)
    connected = _Disconnected()
    ring = FallbackKeyRing(shared, pending)
    try:
        await shared.attach(nc.jetstream(), connected)
        with pytest.raises(KeyRingUnavailable):  # fails at once, no 5 s wait
            await asyncio.to_thread(shared.key, "c-1")

        sealed = await asyncio.to_thread(seal_with, ring, "c-1", {"name": "Nguyễn Văn An"})
        erased = await asyncio.to_thread(seal_with, ring, "c-2", {"name": "Lê Thị Bình"})
        assert [k for k, _ in pending.items()] == ["c-1", "c-2"]
        assert await asyncio.to_thread(reveal, sealed, ring) == {"name": "Nguyễn Văn An"}

        connected.up = True
        kv = await bucket(nc.jetstream())
        await destroy_key(kv, "c-2")  # erased before its key was moved: stays erased
        assert await flush_pending_keys(pending, nc.jetstream()) == 2
        assert pending.items() == []
        # the sealed value opens with the key store alone (what notify has)
        assert await asyncio.to_thread(reveal, sealed, shared) == {"name": "Nguyễn Văn An"}
        assert await asyncio.to_thread(reveal, erased, ring) is None
        assert await flush_pending_keys(pending, nc.jetstream()) == 0
    finally:
        shared.detach()
        await nc.close()
        app.close()
