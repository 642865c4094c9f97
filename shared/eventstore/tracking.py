"""Was this exact upstream position processed? (Not "was anything at or after it?")

eventsourcing 9.5's ``has_tracking_id`` answers ``max(position) >= id`` even with
multi-row tracking. Partitions deliver one producer's events in parallel, so position 9
of a slow partition routinely arrives after position 36 of a fast one: asking the library
would ack 9 as a duplicate and lose it. We ask for the row itself; the multi-row table's
primary key (upstream, position) still refuses a true duplicate with IntegrityError.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg import sql


def has_exact_tracking(recorder: Any, upstream: str, position: int) -> bool:
    if isinstance(recorder, PostgresTrackingRecorder):
        if recorder.datastore.single_row_tracking:
            raise RuntimeError("single-row tracking loses out-of-order events; "
                               "set SINGLE_ROW_TRACKING=n")
        query = sql.SQL("SELECT 1 FROM {}.{} WHERE application_name = %s "
                        "AND notification_id = %s").format(
            sql.Identifier(recorder.datastore.schema),
            sql.Identifier(recorder.tracking_table_name))
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(query, (upstream, position))
            return curs.fetchone() is not None
    if isinstance(recorder, SQLiteTrackingRecorder):
        if recorder.datastore.single_row_tracking:
            raise RuntimeError("single-row tracking loses out-of-order events; "
                               "set SINGLE_ROW_TRACKING=n")
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1 FROM tracking WHERE application_name = ? "
                           "AND notification_id = ?", (upstream, position))
            return cursor.fetchone() is not None
    # The in-memory recorder (tests only) keeps single-row semantics: feed it in order.
    return bool(recorder.has_tracking_id(upstream, position))
