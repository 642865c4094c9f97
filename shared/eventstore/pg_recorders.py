"""eventsourcing's PostgreSQL recorders, their write transaction without pipeline mode.

The library writes a service's events in psycopg's pipeline mode: the tracking row, the
table lock, a NOTIFY and the insert queued, then a sync. On a local server the round trips
that saves cost less than the pipeline's own machinery in Python: measured here
(``bench/pg_insert_bench.py``) the plain transaction below takes less client and
backend CPU per write.

The transaction is the library's, in the same order, except:

* the lock is taken in one simple-query round trip (``SET LOCAL lock_timeout`` and
  ``LOCK TABLE … IN EXCLUSIVE MODE``: commit order stays notification order);
* no ``NOTIFY``: nothing here LISTENs (relays are woken by their own process's commits
  and poll otherwise), and every NOTIFY takes PostgreSQL's global notification-queue
  lock at commit, which serialises the commits of every service on the server;
* up to ``VALUES_ROWS`` events are inserted as rows of plain parameters rather than one
  array of a composite type, and our statements are rendered to bytes once.

Errors are translated by the datastore's ``get_connection`` as before (a duplicate
tracking row is still eventsourcing's ``IntegrityError``).

Their tables are created under one advisory lock (``pg_create_lock.py``): replicas
starting together on a fresh schema would otherwise race in ``CREATE … IF NOT EXISTS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg import Connection
from psycopg.sql import SQL, Composable, Identifier

from hotro.shared.eventstore.pg_create_lock import creating


class _PlainInsert(PostgresApplicationRecorder):
    #: a write of more events than this (a bulk load) goes as the library's one array
    VALUES_ROWS = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rendered: dict[object, bytes] = {}

    def create_table(self) -> None:
        with creating(self.datastore):
            super().create_table()

    def _render(self, key: object, statement: Composable, conn: Connection[Any]) -> bytes:
        """``statement`` as bytes, rendered once: psycopg renders a ``Composed`` again at
        every execute (quoting each identifier)."""
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._rendered[key] = statement.as_bytes(conn)
        return rendered

    def _values_statement(self, rows: int) -> Composable:
        return SQL("INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
                   "VALUES {} RETURNING notification_id").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name),
            SQL(", ").join([SQL("(%s, %s, %s, %s)")] * rows))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)  # the tracking row, if any
            if not stored_events:
                return None
            curs.execute(self._render("lock", SQL("; ").join(self.lock_table_statements),
                                      conn), prepare=False)
            rows = len(stored_events)
            if rows > self.VALUES_ROWS:
                PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events,
                                                                **kwargs)
            else:
                # one row of plain parameters per event, not an array of a composite
                # type: psycopg dumps those arrays in Python, these in C
                curs.execute(self._render(rows, self._values_statement(rows), conn),
                             [v for e in stored_events for v in (
                                 e.originator_id, e.originator_version, e.topic, e.state)],
                             prepare=True)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)


class PlainApplicationRecorder(_PlainInsert):
    """An application's recorder (intake's, and any writer without tracking)."""


class PlainProcessRecorder(_PlainInsert, PostgresProcessRecorder):
    """A service's recorder: events and the tracking row of what caused them."""
