"""Replicas of a service started together on a fresh PostgreSQL schema all start: their
``CREATE … IF NOT EXISTS`` run one after another under one advisory lock, where on their
own the second would fail on ``pg_type``'s unique index or with "tuple concurrently
updated" (two replicas started at once by ``bench/scaleout_bench.py``: one exited)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory

from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.pg_create_lock import CREATE_LOCK_KEY, LOCK_SESSION
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.privacy.pending import TABLE, SqlPendingKeys
from tests.support.postgres import PG_BASE, PostgresSchemas
from tests.support.waiting import eventually

REPLICAS = 4


def at_once(starts: list[Callable[[], Any]]) -> list[str]:
    """Each of ``starts`` in a thread of its own, released together; the errors raised."""
    barrier = threading.Barrier(len(starts))
    errors: list[str] = []

    def one(start: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            start()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=one, args=(start,)) for start in starts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def factories(url: str, n: int = REPLICAS) -> list[Any]:
    ensure_store(url)
    return [InfrastructureFactory.construct(env=persistence_env(url)) for _ in range(n)]


def tables(schema: str) -> set[str]:
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                            (schema,)).fetchall()
    return {r[0] for r in rows}


def test_replicas_creating_one_fresh_store_at_once_all_start(
        pg_schemas: PostgresSchemas) -> None:
    for round_ in range(3):  # the race lost every time without the lock; a few rounds
        url = pg_schemas.url(f"together{round_}")
        made = factories(url)
        try:
            errors = at_once([f.process_recorder for f in made])
        finally:
            for f in made:
                f.close()
        assert errors == []
        assert {"stored_events", "notification_tracking"} <= tables(url.split("schema=")[1])


def test_pending_keys_tables_are_created_once_by_replicas_starting_together(
        pg_schemas: PostgresSchemas) -> None:
    for round_ in range(3):
        url = pg_schemas.url(f"keys{round_}")
        made = factories(url)
        try:
            errors = at_once([partial(SqlPendingKeys, f.datastore, postgres=True)
                              for f in made])
        finally:
            for f in made:
                f.close()
        assert errors == []
        assert TABLE in tables(url.split("schema=")[1])


def _waiting_on_the_create_lock() -> bool:
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s", (CREATE_LOCK_KEY,)
        ).fetchone()
    return bool(row and row[0])


def test_a_store_waits_for_the_create_lock_before_creating_its_tables(
        pg_schemas: PostgresSchemas) -> None:
    url = pg_schemas.url("waits")
    schema = url.split("schema=")[1]
    (factory,) = factories(url, 1)
    holder = psycopg.connect(PG_BASE, autocommit=True)
    holder.execute(LOCK_SESSION, (CREATE_LOCK_KEY,))
    done: list[Any] = []
    creator = threading.Thread(target=lambda: done.append(factory.process_recorder()))
    creator.start()
    try:
        asyncio.run(eventually(_waiting_on_the_create_lock, timeout=10,
                               message="the store waiting on the create lock"))
        assert done == []
        assert "stored_events" not in tables(schema)
    finally:
        holder.close()  # the session ends: its advisory lock with it
        creator.join(timeout=30)
        factory.close()
    assert len(done) == 1
    assert "stored_events" in tables(schema)
