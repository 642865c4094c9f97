"""Data keys made while the shared key store (NATS KV) is unreachable.

Intake must go on accepting requests while NATS is down (issue 2: a broker outage loses
nothing and stops no counter). Sealing a new customer's contact needs a data key, and
the shared key store is NATS KV. So when it cannot be reached, intake makes the key
itself and keeps it in a small table of its own database (``pii_pending_keys``, shared
by its replicas, so two replicas sealing the same request agree on one key). Before the
relay publishes anything that may name a pending key, it moves every pending key to the
KV bucket (``flush_pending_keys``, ``PendingKeyFlush``): no consumer ever sees a sealed
value whose key it cannot fetch.

A pending key is the only copy of the key until it is flushed: it is deleted from the
table only after the KV holds it (or holds the erasure tombstone). ``hotro erase``
deletes a pending key as well as the KV copy.

A deleted key must not linger in the database file: on SQLite the row is overwritten
(``zeroblob``) before it is deleted, with ``PRAGMA secure_delete`` on (SQLite then zeroes
deleted content and freed pages). The old page images can still sit in the WAL file (and
PostgreSQL keeps dead tuples until a vacuum rewrites the table): ``compact_store`` is the
compaction step to run after an erasure (docs/security.md, "Data keys and erasure").
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hotro.shared.eventstore.pg_create_lock import CREATE_LOCK_KEY, LOCK_TRANSACTION
from hotro.shared.privacy.kv import KeyRingUnavailable
from hotro.shared.privacy.sealing import KeyRing

log = logging.getLogger(__name__)

TABLE = "pii_pending_keys"


class PendingKeys(Protocol):
    def get(self, key_id: str) -> bytes | None: ...

    def put_new(self, key_id: str, key: bytes | None = None) -> bytes:
        """Store ``key`` (default: a fresh one) for ``key_id`` unless one is stored; return
        the stored one."""

    def items(self) -> list[tuple[str, bytes]]: ...

    def delete(self, key_ids: Iterable[str]) -> None: ...


class MemoryPendingKeys:
    """For the in-memory store (tests)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> bytes | None:
        with self._lock:
            return self._keys.get(key_id)

    def put_new(self, key_id: str, key: bytes | None = None) -> bytes:
        with self._lock:
            return self._keys.setdefault(key_id, key or AESGCM.generate_key(bit_length=256))

    def items(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self._keys.items())

    def delete(self, key_ids: Iterable[str]) -> None:
        with self._lock:
            for key_id in key_ids:
                self._keys.pop(key_id, None)


class SqlPendingKeys:
    """The table in the service's own SQLite file or Postgres schema, reached through the
    eventsourcing datastore (same connection settings, same pool)."""

    def __init__(self, datastore: Any, *, postgres: bool) -> None:
        self.datastore = datastore
        self.postgres = postgres
        if postgres:
            from psycopg import sql

            self._table: Any = sql.Identifier(datastore.schema or "public", TABLE)
        self._create()

    def _sql(self, text: str) -> Any:
        if not self.postgres:
            return text.format(table=TABLE).replace("%s", "?")
        from psycopg import sql

        return sql.SQL(text).format(table=self._table)

    def _create(self) -> None:
        key_type = "BYTEA" if self.postgres else "BLOB"
        with self.datastore.transaction(commit=True) as cursor:
            if self.postgres:  # replicas starting together (pg_create_lock.py)
                cursor.execute(LOCK_TRANSACTION, (CREATE_LOCK_KEY,))
            cursor.execute(self._sql(
                "CREATE TABLE IF NOT EXISTS {table} (key_id TEXT PRIMARY KEY, "
                f"key {key_type} NOT NULL, created_at TEXT NOT NULL)"))

    def get(self, key_id: str) -> bytes | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql("SELECT key FROM {table} WHERE key_id = %s"), (key_id,))
            row = cursor.fetchone()
        if row is None:
            return None
        return bytes(row["key"] if isinstance(row, dict) else row[0])

    def _secure(self, cursor: Any) -> None:
        """SQLite: zero deleted content and freed pages on this connection."""
        if not self.postgres:
            cursor.execute("PRAGMA secure_delete = ON")

    def put_new(self, key_id: str, key: bytes | None = None) -> bytes:
        key = key or AESGCM.generate_key(bit_length=256)
        with self.datastore.transaction(commit=True) as cursor:
            self._secure(cursor)
            cursor.execute(self._sql(
                "INSERT INTO {table} (key_id, key, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (key_id) DO NOTHING"),
                (key_id, key, datetime.now(UTC).isoformat()))
        stored = self.get(key_id)
        assert stored is not None
        return stored

    def items(self) -> list[tuple[str, bytes]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql("SELECT key_id, key FROM {table} ORDER BY created_at"))
            rows = cursor.fetchall()
        return [(r["key_id"], bytes(r["key"])) if isinstance(r, dict)
                else (r[0], bytes(r[1])) for r in rows]

    def delete(self, key_ids: Iterable[str]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            self._secure(cursor)
            for key_id in key_ids:
                if not self.postgres:  # in place, same size: the key's bytes are overwritten
                    cursor.execute(self._sql(
                        "UPDATE {table} SET key = zeroblob(length(key)) WHERE key_id = %s"),
                        (key_id,))
                cursor.execute(self._sql("DELETE FROM {table} WHERE key_id = %s"), (key_id,))


def compact_store(store_url: str) -> str:
    """The compaction step after an erasure, for one service's store. Returns what it did.

    * SQLite: ``VACUUM`` (rebuilds the file: no free page or slack keeps old bytes) and
      ``PRAGMA wal_checkpoint(TRUNCATE)`` (the WAL, which holds old page images, is
      emptied to zero bytes). Run it with the service stopped or idle: a checkpoint
      cannot truncate under an open reader.
    * PostgreSQL: ``VACUUM (FULL)`` of the pending-keys table (rewritten into a new file,
      the old one unlinked) and ``CHECKPOINT`` when the role may (WAL segments are then
      recycled). WAL archives and base backups keep what they held: see
      docs/security.md, "Data keys and erasure"."""
    from hotro.shared.eventstore.persistence import persistence_env
    from hotro.shared.eventstore.pg_security import FACTORY_TOPIC, libpq_options

    env = persistence_env(store_url)
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.sqlite":
        import sqlite3

        path = env["SQLITE_DBNAME"]
        if not Path(path).is_file():
            return f"{path}: no store"
        con = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            con.execute("PRAGMA secure_delete = ON")
            con.execute("VACUUM")
            busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            con.close()
        if busy:
            raise RuntimeError(f"{path}: the WAL could not be truncated (a reader is open); "
                               "stop the service and run it again")
        return f"{path}: vacuumed, WAL truncated"
    if module == FACTORY_TOPIC:
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import make_conninfo

        schema = env.get("POSTGRES_SCHEMA", "public")
        conninfo = make_conninfo(
            host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
            dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None, **libpq_options(env))
        with psycopg.connect(conninfo, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass(%s)",
                                  (f'"{schema}".{TABLE}',)).fetchone()
            if exists is None or exists[0] is None:
                return f"{schema}: no {TABLE} table"
            conn.execute(sql.SQL("VACUUM (FULL) {}").format(sql.Identifier(schema, TABLE)))
            try:
                conn.execute("CHECKPOINT")
                checkpoint = "checkpoint done"
            except psycopg.errors.InsufficientPrivilege:
                checkpoint = "CHECKPOINT needs pg_checkpoint or a superuser: ask the DBA"
        return f"{schema}.{TABLE}: vacuumed (full); {checkpoint}"
    return f"{store_url}: nothing to compact (in-memory store)"


def pending_keys_for(recorder: Any) -> PendingKeys:
    from eventsourcing.postgres import PostgresRecorder
    from eventsourcing.sqlite import SQLiteRecorder

    if isinstance(recorder, PostgresRecorder):
        return SqlPendingKeys(recorder.datastore, postgres=True)
    if isinstance(recorder, SQLiteRecorder):
        return SqlPendingKeys(recorder.datastore, postgres=False)
    return MemoryPendingKeys()


class FallbackKeyRing:
    """The shared key ring, or — while it is unreachable — keys of our own (``pending``)."""

    def __init__(self, shared: KeyRing, pending: PendingKeys) -> None:
        self.shared = shared
        self.pending = pending
        #: keys this process took from (or put in) ``pending`` so far: what it sealed
        #: since the last flush needs one only if this moved (``PendingKeyFlush``)
        self.pending_uses = 0
        self._uses_lock = threading.Lock()

    def _from_pending(self, key: bytes) -> bytes:
        with self._uses_lock:
            self.pending_uses += 1
        return key

    def key(self, key_id: str) -> bytes | None:
        try:
            found = self.shared.key(key_id)
        except KeyRingUnavailable:
            found = None
            unavailable = True
        else:
            unavailable = False
        if found is not None:
            return found
        local = self.pending.get(key_id)
        if local is None:
            if unavailable:
                raise KeyRingUnavailable(f"the key of {key_id} cannot be fetched now")
            return None
        return self._from_pending(local)

    def create(self, key_id: str) -> bytes:
        local = self.pending.get(key_id)
        if local is not None:
            return self._from_pending(local)
        # The key is made here and offered to the store: a create that timed out may still
        # have landed there, so the key kept locally must be that same key — else data
        # sealed with a second key would be lost when the store's copy wins at the flush.
        key = AESGCM.generate_key(bit_length=256)
        offer = getattr(self.shared, "create_with", None)
        try:
            return offer(key_id, key) if offer is not None else self.shared.create(key_id)
        except KeyRingUnavailable:
            log.warning("data-key store unreachable: key of %s kept locally until the relay "
                        "moves it there", key_id, extra={"complaint_id": key_id})
            return self._from_pending(self.pending.put_new(key_id,
                                                           key if offer is not None else None))

    def destroy(self, key_id: str) -> None:
        self.shared.destroy(key_id)
        self.pending.delete([key_id])


class PendingKeyFlush:
    """The relay's ``before_publish`` for a service sealing with a ``FallbackKeyRing``.

    A page read from the store may hold another replica's events, sealed with keys that
    replica left pending in the shared table: it is always preceded by a flush. A page
    of this process's own events (taken from memory) needs one only if this process took
    a key from the table since its last flush; else every key its events name is in the
    key store already, and the table is not read."""

    def __init__(self, ring: FallbackKeyRing, js: Callable[[], Any]) -> None:
        self.ring = ring
        self.js = js
        self._flushed_at: int | None = None  # none yet: the first page always flushes

    async def __call__(self, own_page: bool) -> None:
        uses = self.ring.pending_uses
        if own_page and uses == self._flushed_at:
            return
        await flush_pending_keys(self.ring.pending, self.js())
        self._flushed_at = uses


async def flush_pending_keys(pending: PendingKeys, js: Any) -> int:
    """Move every pending key to the KV bucket. Raises (the relay retries) while NATS is
    unreachable. Returns how many keys were moved."""
    from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

    from hotro.shared.privacy.kv import bucket, lookup

    items = await asyncio.to_thread(pending.items)
    if not items:
        return 0
    kv = await bucket(js)
    done: list[str] = []
    for key_id, key in items:
        try:
            await kv.create(key_id, base64.b64encode(key))
        except (KeyWrongLastSequenceError, KeyNotFoundError):  # see kv.create_key
            existing = await lookup(kv, key_id)  # the leader's answer if a replica lags
            if existing.state == "absent":
                raise KeyRingUnavailable(f"the key store refused {key_id} but shows no "
                                         "key: kept pending, tried again later") from None
            if existing.state == "erased":
                log.info("pending key of %s dropped: erased meanwhile", key_id)
            elif existing.key != key:
                # Two replicas, one with NATS and one without, sealed the same request at
                # once: the KV's key wins (docs/audit.md, "Erasure").
                log.error("pending key of %s differs from the shared one; the shared one "
                          "is kept", key_id, extra={"complaint_id": key_id})
        done.append(key_id)
    await asyncio.to_thread(pending.delete, done)
    log.info("moved %d pending data key(s) to the key store", len(done))
    return len(done)
