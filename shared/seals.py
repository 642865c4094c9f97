"""Seals: tamper evidence for a service's notification log, anchored outside its database.

A per-service hash chain over the stored rows, exactly as they are in the database
(state bytes included, so a row sealed while its personal data was readable still
verifies after the key is destroyed)::

    h_0 = sha256("hotro-seal/" || service)
    h_n = sha256(h_{n-1} || id || originator id || version || len(topic) || topic
                 || len(state) || state)                (integers as 8-byte big-endian)

The ``SealKeeper`` (run by the relay-lease holder of each service) appends seals to the
JetStream stream ``HOTRO_SEALS`` (subject ``hotro.seal.<service>``; deny_delete,
deny_purge; ``Nats-Msg-Id = <service>:seal:<last id>``). A seal covers the rows after
the previous seal: it lists each row (id, aggregate, version, topic, sha256 of the state)
and the chain head before and after, so verification can say precisely which row was
edited, deleted, duplicated or moved — and an edit of the database alone can never make
the chain match the stream again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.log import read_log
from hotro.shared.messaging.provision import PII_KEYS_BUCKET, SEALS_ROOT, SEALS_STREAM
from hotro.shared.runtime.periodic import run_every

__all__ = ["PII_KEYS_BUCKET", "SEALS_STREAM", "Row", "Seal", "SealKeeper", "SealedRow",
           "chain", "genesis", "make_seal", "read_rows", "seal_subject"]

log = logging.getLogger(__name__)

#: JetStream's "wrong last sequence" (Nats-Expected-Last-Subject-Sequence not met)
WRONG_LAST_SEQUENCE = 10071


def seal_subject(service: str) -> str:
    return f"{SEALS_ROOT}.{service}"


def seal_msg_id(service: str, last_id: int) -> str:
    return f"{service}:seal:{last_id}"


def genesis(service: str) -> bytes:
    return hashlib.sha256(f"hotro-seal/{service}".encode()).digest()


@dataclass(frozen=True)
class Row:
    """One stored event, as the database holds it."""

    id: int
    originator_id: uuid.UUID
    version: int
    topic: str
    state: bytes = field(repr=False)

    @property
    def state_sha256(self) -> str:
        return hashlib.sha256(self.state).hexdigest()


@dataclass(frozen=True)
class SealedRow:
    id: int
    originator_id: uuid.UUID
    version: int
    topic: str
    state_sha256: str

    def as_list(self) -> list[Any]:
        return [self.id, str(self.originator_id), self.version, self.topic, self.state_sha256]

    @classmethod
    def from_list(cls, item: list[Any]) -> SealedRow:
        return cls(int(item[0]), uuid.UUID(item[1]), int(item[2]), str(item[3]), str(item[4]))


def link(previous: bytes, row: Row | SealedRow, state: bytes | None = None) -> bytes:
    """One step of the chain. For a ``SealedRow`` (no state bytes) the state's own hash is
    chained instead — see ``link_hashed``; both agree because we chain the state hash."""
    digest = row.state_sha256 if state is None else hashlib.sha256(state).hexdigest()
    topic = row.topic.encode()
    h = hashlib.sha256()
    h.update(previous)
    h.update(row.id.to_bytes(8, "big"))
    h.update(row.originator_id.bytes)
    h.update(row.version.to_bytes(8, "big"))
    h.update(len(topic).to_bytes(8, "big"))
    h.update(topic)
    h.update(bytes.fromhex(digest))
    return h.digest()


def chain(previous: bytes, rows: Iterable[Row | SealedRow]) -> bytes:
    head = previous
    for row in rows:
        head = link(head, row)
    return head


@dataclass(frozen=True)
class Seal:
    service: str
    number: int
    after: int          # last id covered by the previous seal (0 for the first)
    last: int           # last id covered by this seal
    prev: str           # chain head before (hex)
    head: str           # chain head after (hex)
    rows: tuple[SealedRow, ...]
    sealed_at: str

    def to_json(self) -> bytes:
        return json.dumps({
            "service": self.service, "number": self.number, "after": self.after,
            "last": self.last, "prev": self.prev, "head": self.head,
            "rows": [r.as_list() for r in self.rows], "sealed_at": self.sealed_at,
        }, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Seal:
        d = json.loads(data)
        return cls(service=d["service"], number=int(d["number"]), after=int(d["after"]),
                   last=int(d["last"]), prev=d["prev"], head=d["head"],
                   rows=tuple(SealedRow.from_list(r) for r in d["rows"]),
                   sealed_at=d["sealed_at"])


def read_rows(app: ServiceApplication, after: int = 0, upto: int | None = None,
              page: int = 1000) -> Iterator[Row]:
    """The notification log as stored (no decoding: the state bytes as they are)."""
    for n in read_log(app.recorder, after=after, upto=upto, page=page):
        yield Row(n.id, uuid.UUID(str(n.originator_id)), n.originator_version, n.topic,
                  bytes(n.state))


def make_seal(service: str, number: int, after: int, prev: bytes, rows: list[Row],
              now: datetime) -> Seal:
    sealed = tuple(SealedRow(r.id, r.originator_id, r.version, r.topic, r.state_sha256)
                   for r in rows)
    return Seal(service=service, number=number, after=after, last=rows[-1].id,
                prev=prev.hex(), head=chain(prev, sealed).hex(), rows=sealed,
                sealed_at=now.astimezone(UTC).isoformat())


class SealKeeper:
    """Background job: seal what the service stored since the last seal.

    Resumes from the stream (the newest seal on ``hotro.seal.<service>``), so it keeps no
    state and a replica that takes over the relay lease continues the same chain."""

    def __init__(self, app: ServiceApplication, js: Callable[[], Any],
                 is_leader: Callable[[], bool], *, period_s: float = 1.0,
                 batch: int = 500, clock: Callable[[], datetime] | None = None) -> None:
        self.app = app
        self._js = js
        self.is_leader = is_leader
        self.period_s = period_s
        self.batch = batch
        self.clock = clock or (lambda: datetime.now(UTC))
        self.last: Seal | None = None
        #: stream sequence of ``last`` (0: no seal yet): the next seal is published only
        #: if it is still the newest on the subject, so a keeper that lost its lease
        #: without noticing (stopped, partitioned) can never fork the chain
        self.last_seq = 0
        self._resumed = False

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(self.period_s, lambda: self._seal_all(stop), stop,
                        what=f"{self.app.name}: sealing")

    async def _seal_all(self, stop: asyncio.Event) -> None:
        if not self.is_leader() or self._js() is None:
            self._resumed = False
            return
        try:
            while await self.step() and not stop.is_set():
                pass
        except Exception:
            self._resumed = False  # resume from the stream next time
            raise

    async def resume(self) -> None:
        from nats.js.errors import NotFoundError

        js = self._js()
        try:
            msg = await js.get_last_msg(SEALS_STREAM, seal_subject(self.app.name))
        except NotFoundError:
            self.last, self.last_seq = None, 0
        else:
            self.last, self.last_seq = Seal.from_json(msg.data or b""), int(msg.seq or 0)
        self._resumed = True

    async def step(self) -> int:
        """Publish at most one seal. Returns how many rows it covered."""
        if not self._resumed:
            await self.resume()
        after = self.last.last if self.last else 0
        prev = bytes.fromhex(self.last.head) if self.last else genesis(self.app.name)
        rows = await asyncio.to_thread(
            lambda: list(_take(read_rows(self.app, after, page=self.batch), self.batch)))
        if not rows:
            return 0
        seal = make_seal(self.app.name, (self.last.number + 1) if self.last else 1, after,
                         prev, rows, self.clock())
        js = self._js()
        from nats.js.errors import APIError

        try:
            ack = await js.publish(
                seal_subject(self.app.name), seal.to_json(), timeout=5, stream=SEALS_STREAM,
                headers={"Nats-Msg-Id": seal_msg_id(self.app.name, seal.last),
                         "Nats-Expected-Last-Subject-Sequence": str(self.last_seq)})
        except APIError as exc:
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise
            # another keeper sealed meanwhile (we lost the relay lease while stopped):
            # continue its chain, never fork it
            log.warning("%s: the seal chain moved on without us; resuming from the stream",
                        self.app.name)
            self._resumed = False
            return 0
        self.last, self.last_seq = seal, int(ack.seq)
        return len(rows)


def _take(rows: Iterator[Row], n: int) -> Iterator[Row]:
    for i, row in enumerate(rows):
        if i >= n:
            return
        yield row

