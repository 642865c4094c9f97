"""One PostgreSQL advisory lock around every ``CREATE … IF NOT EXISTS`` of a store.

PostgreSQL does not make ``CREATE TABLE IF NOT EXISTS`` (nor ``CREATE TYPE``) safe under
concurrency: when two sessions create the same table at once, both see it missing and
the second fails on ``pg_type``'s unique index ("duplicate key value violates unique
constraint pg_type_typname_nsp_index") or with "tuple concurrently updated". Replicas of
a service started together on a fresh schema did exactly that, and one of them exited at
start (found by ``bench/scaleout_bench.py``). Creations therefore take this lock first,
so the second creator waits and then finds everything there.

The key is one for the whole database: creations are few, short and only at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: an advisory lock key of our own ("hotro" in ASCII)
CREATE_LOCK_KEY = 0x686F74726F

LOCK_SESSION = "SELECT pg_advisory_lock(%s)"
UNLOCK_SESSION = "SELECT pg_advisory_unlock(%s)"
#: held until the end of the transaction it is taken in
LOCK_TRANSACTION = "SELECT pg_advisory_xact_lock(%s)"


@contextmanager
def creating(datastore: Any) -> Iterator[None]:
    """Hold the lock (on a connection of ``datastore``'s pool, in autocommit) while the
    caller creates tables in other transactions of its own."""
    with datastore.get_connection() as conn:
        conn.execute(LOCK_SESSION, (CREATE_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute(UNLOCK_SESSION, (CREATE_LOCK_KEY,))
