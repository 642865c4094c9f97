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
    PendingKeyFlush,
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


async def test_a_page_of_its_own_events_reads_the_table_only_after_a_pending_key(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    app = _app(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    pending = pending_keys_for(app.recorder)
    reads = 0
    read_items = pending.items

    def counted() -> list[tuple[str, bytes]]:
        nonlocal reads
        reads += 1
        return read_items()

    pending.items = counted  # type: ignore[method-assign]
    nc = await nats.connect(provisioned.url)
    shared = NatsKeyRing(timeout_s=5)
    connected = _Disconnected()
    ring = FallbackKeyRing(shared, pending)
    flush = PendingKeyFlush(ring, nc.jetstream)
    try:
        await shared.attach(nc.jetstream(), connected)
        connected.up = True
        await flush(True)  # the first page: whatever an earlier run left is moved
        assert reads == 1
        await asyncio.to_thread(seal_with, ring, "c-1", {"name": "Nguyễn Văn An"})
        await flush(True)  # its key went to the key store: nothing pending of ours
        assert reads == 1

        connected.up = False
        sealed = await asyncio.to_thread(seal_with, ring, "c-2", {"name": "Lê Thị Bình"})
        connected.up = True
        await flush(True)  # sealed with a pending key: moved before the page goes out
        assert reads == 2 and read_items() == []
        assert await asyncio.to_thread(reveal, sealed, shared) == {"name": "Lê Thị Bình"}
        await flush(True)
        assert reads == 2

        other = FallbackKeyRing(shared, pending)  # another replica, NATS away for it
        connected.up = False
        await asyncio.to_thread(seal_with, other, "c-3", {"name": "Trần Văn Cường"})
        connected.up = True
        await flush(True)  # our own events name none of its keys
        assert reads == 2
        await flush(False)  # a page from the store may hold its events: always moved
        assert reads == 3 and read_items() == []
        assert await asyncio.to_thread(shared.key, "c-3") is not None
    finally:
        shared.detach()
        await nc.close()
        app.close()


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and needle in p.read_bytes())


def test_a_deleted_pending_key_leaves_no_byte_in_the_sqlite_files(tmp_path: Path) -> None:
    """Where SQLite is built without secure delete (Debian's is built with it), a plain
    DELETE leaves the key in the page's free space — in the database file and in the WAL.
    The pending-key table overwrites and deletes securely; the compaction step
    (``compact_store``: VACUUM, WAL checkpoint TRUNCATE) leaves no old page image."""
    import sqlite3

    from hotro.shared.privacy.pending import compact_store

    url = f"sqlite:///{tmp_path / 'intake.sqlite'}"
    app = _app(url)
    pending = pending_keys_for(app.recorder)
    keys = {f"c-{i}": pending.put_new(f"c-{i}") for i in range(20)}
    con = sqlite3.connect(tmp_path / "intake.sqlite")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the keys are in the database file now
    con.close()
    assert _files_holding(tmp_path, keys["c-3"]) == ["intake.sqlite"]

    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=True) as cursor:  # the control: an insecure delete
        cursor.execute("PRAGMA secure_delete = OFF")
        cursor.execute("DELETE FROM pii_pending_keys WHERE key_id = ?", ("c-3",))
    with datastore.transaction(commit=True) as cursor:
        cursor.execute("PRAGMA secure_delete = OFF")  # as if SQLite had been built so
    pending.delete(["c-5"])
    app.close()  # the last connection checkpoints the WAL into the file
    assert _files_holding(tmp_path, keys["c-3"]) == ["intake.sqlite"]  # lingers
    assert _files_holding(tmp_path, keys["c-5"]) == []  # overwritten, deleted securely

    assert compact_store(url).endswith("WAL truncated")
    assert _files_holding(tmp_path, keys["c-3"]) == []  # VACUUM rebuilt the file
    assert _files_holding(tmp_path, keys["c-7"]) == ["intake.sqlite"]  # kept: not deleted


@pytest.mark.postgres
def test_the_compaction_step_on_postgresql_rewrites_the_pending_key_table(
        pg_schemas: PostgresSchemas) -> None:
    """PostgreSQL has no secure delete: a deleted row stays in the table's file until a
    vacuum. ``compact_store`` rewrites the table (VACUUM FULL) and checkpoints when the
    role may; WAL archives and backups are outside (docs/security.md)."""
    from hotro.shared.privacy.pending import compact_store

    url = pg_schemas.url("intake")
    app = _app(url)
    try:
        pending = pending_keys_for(app.recorder)
        pending.put_new("c-1")
        pending.delete(["c-1"])
        result = compact_store(url)
        assert "vacuumed (full)" in result and pending.items() == []
    finally:
        app.close()
