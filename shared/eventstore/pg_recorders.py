"""eventsourcing's PostgreSQL recorders, their write transaction without pipeline mode.

The library writes a service's events in psycopg's pipeline mode: the tracking row, the
table lock, a NOTIFY and the insert queued, then a sync. On a local server the round trips
that saves cost less than the pipeline's own machinery in Python: measured here
(``bench/pg_insert_bench.py``) the plain transaction below takes less client and
backend CPU per write.

The transaction is the library's, statement for statement, except:

* the lock is taken in one simple-query round trip (``SET LOCAL lock_timeout`` and
  ``LOCK TABLE … IN EXCLUSIVE MODE``: commit order stays notification order);
* no ``NOTIFY``: nothing here LISTENs (relays are woken by their own process's commits
  and poll otherwise), and every NOTIFY takes PostgreSQL's global notification-queue
  lock at commit, which serialises the commits of every service on the server.

Errors are translated by the datastore's ``get_connection`` as before (a duplicate
tracking row is still eventsourcing's ``IntegrityError``).
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
from psycopg.sql import SQL, Composed


class _PlainInsert(PostgresApplicationRecorder):
    @property
    def _lock_statement(self) -> Composed:
        return SQL("; ").join(self.lock_table_statements)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)  # the tracking row, if any
            if not stored_events:
                return None
            curs.execute(self._lock_statement, prepare=False)
            PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events,
                                                            **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)


class PlainApplicationRecorder(_PlainInsert):
    """An application's recorder (intake's, and any writer without tracking)."""


class PlainProcessRecorder(_PlainInsert, PostgresProcessRecorder):
    """A service's recorder: events and the tracking row of what caused them."""
