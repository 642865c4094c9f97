"""PostgreSQL stores write through ``pg_recorders`` (no pipeline mode, no NOTIFY) with the
library's guarantees: a tracking row refuses its duplicate and the whole write with it,
and writers serialise on the table lock so notification ids commit in order."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    OperationalError,
    StoredEvent,
    Tracking,
)
from psycopg import sql

from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.pg_recorders import PlainApplicationRecorder, PlainProcessRecorder
from hotro.shared.eventstore.schema import ensure_store
from tests.support.postgres import PG_BASE, PostgresSchemas
from tests.support.waiting import eventually


@pytest.fixture
def store(pg_schemas: PostgresSchemas) -> Iterator[tuple[str, Any]]:
    url = pg_schemas.url("plain")
    ensure_store(url)
    factory: Any = InfrastructureFactory.construct(env=persistence_env(url))
    recorder = factory.process_recorder()
    try:
        yield url, recorder
    finally:
        factory.close()


def events(n: int) -> list[StoredEvent]:
    return [StoredEvent(originator_id=uuid.uuid4(), originator_version=1,
                        topic="tests:Happened", state=b'{"n":%d}' % i) for i in range(n)]


def test_a_postgres_store_URL_gives_the_plain_recorders(pg_schemas: PostgresSchemas) -> None:
    url = pg_schemas.url("kinds")
    ensure_store(url)
    factory: Any = InfrastructureFactory.construct(env=persistence_env(url))
    try:
        assert isinstance(factory.process_recorder(), PlainProcessRecorder)
        assert isinstance(factory.application_recorder(), PlainApplicationRecorder)
    finally:
        factory.close()


def test_events_are_stored_with_their_tracking_row_and_numbered_in_order(
        store: tuple[str, Any]) -> None:
    _, recorder = store
    first = recorder.insert_events(events(2), tracking=Tracking("intake", 7))
    second = recorder.insert_events(events(3), tracking=Tracking("intake", 8))
    assert len(first) == 2 and len(second) == 3
    assert list(first) + list(second) == sorted([*first, *second])
    stored = recorder.select_notifications(start=None, limit=10)
    assert [n.id for n in stored] == [*first, *second]
    assert recorder.max_tracking_id("intake") == 8


@pytest.mark.parametrize("n", [1, 5, PlainProcessRecorder.VALUES_ROWS,
                               PlainProcessRecorder.VALUES_ROWS + 1])
def test_a_write_stores_its_events_in_the_order_given_under_the_ids_returned(
        store: tuple[str, Any], n: int) -> None:
    """One row of parameters per event up to ``VALUES_ROWS``, the library's array form
    beyond: either way each id returned is its own event's."""
    _, recorder = store
    given = events(n)
    ids = recorder.insert_events(given, tracking=Tracking("notify", 1))
    stored = recorder.select_notifications(start=None, limit=n + 1)
    assert [note.id for note in stored] == list(ids) == sorted(ids)
    assert [(note.originator_id, note.state) for note in stored] == \
        [(e.originator_id, e.state) for e in given]


def test_a_tracking_row_twice_refuses_the_whole_second_write(store: tuple[str, Any]) -> None:
    _, recorder = store
    recorder.insert_events(events(1), tracking=Tracking("routing", 3))
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(2), tracking=Tracking("routing", 3))
    assert len(recorder.select_notifications(start=None, limit=10)) == 1


def test_a_tracking_row_alone_is_stored(store: tuple[str, Any]) -> None:
    _, recorder = store
    assert recorder.insert_events([], tracking=Tracking("sla", 11)) is None
    assert recorder.max_tracking_id("sla") == 11
    with pytest.raises(IntegrityError):
        recorder.insert_events([], tracking=Tracking("sla", 11))


def _waiting_on_a_lock(url: str) -> bool:
    schema = url.split("schema=")[1]
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT l.granted AND n.nspname = %s", (schema,)).fetchone()
        return bool(row and row[0])


def test_a_writer_waits_for_the_table_lock_held_by_another(store: tuple[str, Any]) -> None:
    url, recorder = store
    schema = url.split("schema=")[1]
    holder = psycopg.connect(PG_BASE)
    holder.execute(sql.SQL("LOCK TABLE {}.stored_events IN EXCLUSIVE MODE").format(
        sql.Identifier(schema)))
    done: list[Any] = []
    writer = threading.Thread(target=lambda: done.append(recorder.insert_events(events(1))))
    writer.start()
    try:
        asyncio.run(eventually(lambda: _waiting_on_a_lock(url), timeout=10,
                               message="the writer waiting on the table lock"))
        assert done == []  # still waiting: it takes the lock before it inserts
    finally:
        holder.rollback()
        holder.close()
        writer.join(timeout=10)
    assert len(done) == 1 and len(done[0]) == 1


def test_a_writer_gives_up_after_the_lock_timeout(pg_schemas: PostgresSchemas) -> None:
    url = pg_schemas.url("timeout") + "&lock_timeout=1"
    ensure_store(url)
    factory: Any = InfrastructureFactory.construct(env=persistence_env(url))
    recorder = factory.application_recorder()
    schema = url.split("schema=")[1].split("&")[0]
    holder = psycopg.connect(PG_BASE)
    try:
        holder.execute(sql.SQL("LOCK TABLE {}.stored_events IN EXCLUSIVE MODE").format(
            sql.Identifier(schema)))
        with pytest.raises(OperationalError, match="lock timeout"):
            recorder.insert_events.__wrapped__(recorder, events(1))  # one try, no retries
    finally:
        holder.rollback()
        holder.close()
        factory.close()
