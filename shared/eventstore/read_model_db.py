"""Where a read model keeps its rows: on disk, not in the process's memory.

Every read model is rebuilt from its service's own log when the process starts (a
``LogFollower``), so its rows are a disposable cache of the log. Held in Python dicts they
grew with every case (about 1.2–1.9 KB per complaint per service in the 30-minute soak,
docs/operations.md "Soak"). Here each model gets a private SQLite database that SQLite
deletes itself when the connection closes (the empty file name): pages beyond a small
cache spill to a temporary file, so a process's resident memory stays flat however many
cases its store holds. Nothing durable lives here — the log stays the only truth — and
nothing is shared between processes or replicas (each follows the log on its own, as
before).

Thread-safe: one connection behind a lock (HTTP handlers and workers call in from
threads). Callers group a catch-up's writes in ``batch()`` (one transaction, not one
per event), and a rebuild from the start of the log in ``bulk()`` (the secondary indexes
built once at the end instead of kept up to date row by row)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: page cache per read model: what stays resident however large the model grows. Small on
#: purpose: a service has up to six models, and pages beyond it are read back from the
#: kernel's file cache (a system call, not a disk read) — fast enough for these queries
DEFAULT_CACHE_KIB = 512

Params = Sequence[Any] | dict[str, Any]

#: a plain secondary index: only speed depends on it, so a bulk load may build it last
#: (a UNIQUE index is a constraint an upsert relies on: never deferred)
_SECONDARY_INDEX = re.compile(r"^\s*CREATE\s+INDEX\s+(\w+)\s", re.IGNORECASE)


class ReadModelDb:
    def __init__(self, schema: str, *, cache_kib: int = DEFAULT_CACHE_KIB) -> None:
        """``schema``: the model's ``CREATE TABLE``/``CREATE INDEX`` statements."""
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        for pragma in (f"cache_size=-{int(cache_kib)}", "journal_mode=MEMORY",
                       "synchronous=OFF", "temp_store=FILE"):
            self._conn.execute(f"PRAGMA {pragma}")
        self._conn.executescript(schema)
        self._indexes = {m.group(1): statement.strip()
                         for statement in schema.split(";")
                         if (m := _SECONDARY_INDEX.match(statement))}

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Many writes at once (a rebuild from the start of the log): inside one
        transaction, with the secondary indexes dropped first and built again at the end
        — once, over the finished tables, instead of one update per row written. Other
        threads wait meanwhile (the lock is held throughout)."""
        with self._lock, self.batch():
            for name in self._indexes:
                self._conn.execute(f"DROP INDEX IF EXISTS {name}")
            try:
                yield
            finally:
                for statement in self._indexes.values():
                    self._conn.execute(statement.replace("CREATE INDEX",
                                                         "CREATE INDEX IF NOT EXISTS", 1))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for everything inside (nested batches join the outer one);
        rolled back if it raises."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def rows(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
