"""``hotro audit verify``: was anything altered, and does the stream match the stores?

Three independent checks per service, each finding precise (service, notification id,
aggregate, version, what differs):

1. **Seals** (``seal.py``): the rows as stored now against the rows as sealed in
   ``HOTRO_SEALS`` — edited state, deleted row, duplicated row, moved/reordered row,
   inserted row; plus the continuity of the seal chain itself.
2. **Shape of the log** (no seals needed): per aggregate, versions 1..n without a gap and
   in notification order; no two rows with the same state bytes (a copied event).
3. **Store vs stream**: every event the service publishes (its outbox envelopes) is in
   ``HOTRO_EVENTS`` exactly once and equal; every message of the producer is in the store.

Rows stored after the newest seal, and events after the newest published one, are the
sealing/relay lag: reported as information, not as findings.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hotro.audit.progress import Tick, counting_reads
from hotro.cli_text import truncate
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.contracts.subjects import EVENTS_STREAM, producer_filter
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.seals import SEALS_STREAM, Row, Seal, SealedRow, chain, genesis, read_rows
from hotro.shared.seals import seal_subject as _seal_subject


@dataclass(frozen=True)
class Finding:
    service: str
    kind: str
    detail: str
    notification_id: int | None = None
    aggregate: str | None = None
    aggregate_id: uuid.UUID | None = None
    version: int | None = None
    complaint_id: uuid.UUID | None = None

    def line(self) -> str:
        where = [self.service]
        if self.notification_id is not None:
            where.append(f"notification {self.notification_id}")
        if self.aggregate_id is not None:
            where.append(f"{self.aggregate or 'aggregate'} {self.aggregate_id}"
                         + (f" v{self.version}" if self.version is not None else ""))
        return f"{self.kind.upper():<16} {' / '.join(where)}: {self.detail}"

    def as_json(self) -> dict[str, Any]:
        return {"service": self.service, "kind": self.kind, "detail": self.detail,
                "notification_id": self.notification_id, "aggregate": self.aggregate,
                "aggregate_id": str(self.aggregate_id) if self.aggregate_id else None,
                "version": self.version,
                "complaint_id": str(self.complaint_id) if self.complaint_id else None}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def extend(self, other: Report) -> None:
        self.findings.extend(other.findings)
        self.info.extend(other.info)

    def only(self, aggregate_ids: set[uuid.UUID], complaint_id: uuid.UUID) -> Report:
        keep = [f for f in self.findings
                if (f.aggregate_id is None and f.complaint_id is None)
                or f.aggregate_id in aggregate_ids or f.complaint_id == complaint_id]
        return Report(keep, list(self.info))


def _aggregate(topic: str) -> str:
    """``hotro.routing:Case.Opened`` -> ``Case``."""
    qual = topic.split(":", 1)[-1]
    return qual.rsplit(".", 1)[0] if "." in qual else qual


def _at(row: Row | SealedRow) -> str:
    return f"{_aggregate(row.topic)} {row.originator_id} v{row.version}"


def _finding(service: str, kind: str, row: Row | SealedRow, detail: str) -> Finding:
    return Finding(service, kind, detail, row.id, _aggregate(row.topic), row.originator_id,
                   row.version)


# ---- 1. seals ---------------------------------------------------------------------------

def check_seals(service: str, rows: list[Row], seals: list[Seal]) -> Report:
    report = Report()
    if not seals:
        report.info.append(f"{service}: no seal yet ({len(rows)} rows unsealed)")
        return report
    prev_last, prev_head = 0, genesis(service).hex()
    for seal in seals:
        if seal.after != prev_last or seal.prev != prev_head:
            report.findings.append(Finding(
                service, "seal-chain", f"seal {seal.number} does not continue the previous "
                f"one (after {seal.after}, expected {prev_last})"))
        if chain(bytes.fromhex(seal.prev), seal.rows).hex() != seal.head:
            report.findings.append(Finding(
                service, "seal-chain", f"seal {seal.number} head does not match its rows"))
        prev_last, prev_head = seal.last, seal.head
    last = seals[-1].last
    sealed = [r for s in seals for r in s.rows]
    sealed_by_id = {r.id: r for r in sealed}
    sealed_by_hash: dict[str, list[SealedRow]] = defaultdict(list)
    for r in sealed:
        sealed_by_hash[r.state_sha256].append(r)
    covered = [r for r in rows if r.id <= last]
    tail = [r for r in rows if r.id > last]
    db_by_id = {r.id: r for r in covered}
    db_by_pos = {(r.originator_id, r.version): r for r in rows}
    explained: set[int] = set()

    for s in sealed:
        d = db_by_id.get(s.id)
        if d is not None and (d.originator_id, d.version, d.topic, d.state_sha256) == \
                (s.originator_id, s.version, s.topic, s.state_sha256):
            continue
        if d is None:
            moved = db_by_pos.get((s.originator_id, s.version))
            if moved is not None and moved.state_sha256 == s.state_sha256:
                explained.add(moved.id)
                report.findings.append(_finding(
                    service, "reordered", s, f"sealed as notification {s.id}, "
                    f"now stored as notification {moved.id}"))
            else:
                report.findings.append(_finding(
                    service, "deleted", s, f"sealed {s.topic} is missing from the store"
                    + (" (its place holds other state)" if moved is not None else "")))
            continue
        elsewhere = [o for o in sealed_by_hash.get(d.state_sha256, ()) if o.id != s.id]
        if elsewhere:
            report.findings.append(_finding(
                service, "reordered", s, f"notification {s.id} now holds the event sealed "
                f"as notification {elsewhere[0].id} ({_at(elsewhere[0])})"))
            continue
        same_pos = (d.originator_id, d.version) == (s.originator_id, s.version)
        if same_pos and d.topic == s.topic:
            report.findings.append(_finding(
                service, "edited", s, f"state (payload) differs from the seal: sealed "
                f"sha256 {s.state_sha256[:16]}…, stored {d.state_sha256[:16]}…"))
            continue
        differs = [name for name, a, b in (
            ("aggregate", s.originator_id, d.originator_id), ("version", s.version, d.version),
            ("topic", s.topic, d.topic), ("state", s.state_sha256, d.state_sha256)) if a != b]
        report.findings.append(_finding(
            service, "edited", s, f"differs from the seal in {', '.join(differs)} "
            f"(now {_at(d)})"))

    for d in covered:
        if d.id in sealed_by_id or d.id in explained:
            continue
        copies = sealed_by_hash.get(d.state_sha256)
        if copies:
            report.findings.append(_finding(
                service, "duplicated", d, f"a copy of sealed notification {copies[0].id} "
                f"({_at(copies[0])}), inside the sealed range but never sealed"))
        else:
            report.findings.append(_finding(
                service, "inserted", d, f"inside the sealed range (≤ {last}) but never sealed"))
    for d in tail:
        copies = sealed_by_hash.get(d.state_sha256)
        if copies:
            report.findings.append(_finding(
                service, "duplicated", d, f"a copy of sealed notification {copies[0].id} "
                f"({_at(copies[0])}) stored after it"))
    if not report.findings and chain(genesis(service), covered).hex() != seals[-1].head:
        report.findings.append(Finding(service, "seal-chain",
                                       "the stored rows do not hash to the last seal"))
    if tail:
        report.info.append(f"{service}: {len(tail)} rows after the last seal "
                           f"(notification {last}) are not sealed yet")
    else:
        report.info.append(f"{service}: {len(covered)} rows sealed up to notification {last}")
    return report


# ---- 2. shape of the log ----------------------------------------------------------------

def check_shape(service: str, rows: list[Row]) -> Report:
    report = Report()
    by_aggregate: dict[uuid.UUID, list[Row]] = defaultdict(list)
    first_with_state: dict[str, Row] = {}
    for r in rows:
        by_aggregate[r.originator_id].append(r)
        seen = first_with_state.get(r.state_sha256)
        if seen is None:
            first_with_state[r.state_sha256] = r
        elif (seen.originator_id, seen.version) != (r.originator_id, r.version):
            report.findings.append(_finding(
                service, "duplicated", r, f"same stored state as notification {seen.id} "
                f"({_at(seen)})"))
    for aggregate_rows in by_aggregate.values():
        versions = sorted(r.version for r in aggregate_rows)
        expected = 1
        for v in versions:
            if v > expected:
                missing = f"v{expected}" + (f"–v{v - 1}" if v - 1 > expected else "")
                r = next(x for x in aggregate_rows if x.version == v)
                report.findings.append(_finding(
                    service, "deleted", r, f"{missing} of this aggregate is missing"))
            expected = v + 1
        in_log_order = [r.version for r in sorted(aggregate_rows, key=lambda x: x.id)]
        if in_log_order != sorted(in_log_order):
            for a, b in zip(sorted(aggregate_rows, key=lambda x: x.id),
                            sorted(aggregate_rows, key=lambda x: x.id)[1:], strict=False):
                if b.version < a.version:
                    report.findings.append(_finding(
                        service, "reordered", b, f"v{b.version} stored after v{a.version} "
                        f"(notification {a.id})"))
    return report


# ---- 3. store vs stream -----------------------------------------------------------------

def stored_envelopes(app: ServiceApplication, rows: Iterable[Row],
                     progress: Tick | None = None) -> tuple[dict[int, Envelope], Report]:
    """What the service publishes for each stored row (decoded like the relay does)."""
    from eventsourcing.persistence import Notification

    report = Report()
    out: dict[int, Envelope] = {}
    todo = list(rows)
    for n, r in enumerate(todo, start=1):
        if progress is not None and (n % 500 == 0 or n == len(todo)):
            progress(f"verify {app.name}: decoding", n, len(todo))
        try:
            note = Notification(id=r.id, originator_id=r.originator_id,
                                originator_version=r.version, topic=r.topic, state=r.state)
            event = app.mapper.to_domain_event(note)
            envelope = app.envelope_of(r.id, event)
        except Exception as exc:
            report.findings.append(_finding(app.name, "undecodable", r,
                                            f"cannot be read back: {type(exc).__name__}: "
                                            f"{truncate(str(exc), 120)}"))
            continue
        if envelope is not None:
            out[r.id] = envelope
    return out, report


def check_stream(service: str, stored: dict[int, Envelope],
                 published: list[tuple[int, bytes]]) -> Report:
    report = Report()
    in_stream: dict[int, list[tuple[int, Envelope]]] = defaultdict(list)
    for seq, data in published:
        try:
            envelope = Envelope.model_validate_json(data)
        except ValueError:
            report.findings.append(Finding(service, "stream-garbage",
                                           f"stream sequence {seq} is not an envelope"))
            continue
        in_stream[envelope.notification_id].append((seq, envelope))
    newest = max(in_stream, default=0)
    lag = 0
    for nid, envelope in sorted(stored.items()):
        copies = in_stream.get(nid, [])
        if not copies:
            if nid > newest:
                lag += 1
                continue
            report.findings.append(Finding(
                service, "not-published", f"{envelope.event_type} stored but not in "
                f"{EVENTS_STREAM}", nid, None, None, None, envelope.complaint_id))
            continue
        if len(copies) > 1:
            report.findings.append(Finding(
                service, "published-twice", f"{envelope.event_type} is {len(copies)} times in "
                f"{EVENTS_STREAM} (sequences {[s for s, _ in copies]})", nid,
                complaint_id=envelope.complaint_id))
        seq, sent = copies[0]
        differs = [name for name in ("event_id", "event_type", "schema_version",
                                     "complaint_id", "occurred_at", "actor", "correlation_id",
                                     "causation_id", "payload")
                   if getattr(sent, name) != getattr(envelope, name)]
        if differs:
            report.findings.append(Finding(
                service, "stream-differs", f"{envelope.event_type}: stream sequence {seq} "
                f"differs from the store in {', '.join(differs)}", nid,
                complaint_id=envelope.complaint_id))
    for nid, copies in sorted(in_stream.items()):
        if nid not in stored:
            seq, sent = copies[0]
            report.findings.append(Finding(
                service, "not-stored", f"{sent.event_type} (event {sent.event_id}) is in "
                f"{EVENTS_STREAM} (sequence {seq}) but no stored event of {service} maps to it",
                nid, complaint_id=sent.complaint_id))
    if lag:
        report.info.append(f"{service}: {lag} stored events after the newest published one "
                           f"(notification {newest}) are not published yet")
    return report


# ---- reading the streams ----------------------------------------------------------------

async def read_subject(js: Any, stream: str, subject: str, batch: int = 500,
                       progress: Tick | None = None,
                       label: str = "reading") -> list[tuple[int, bytes]]:
    """Every message on ``subject`` in ``stream``, in order (ephemeral, no acks)."""

    from nats.js import api as js_api

    info = await js.stream_info(stream, subjects_filter=subject)
    total = sum((info.state.subjects or {}).values()) if info.state.subjects else None
    sub = await js.pull_subscribe(subject, stream=stream, config=js_api.ConsumerConfig(
        ack_policy=js_api.AckPolicy.NONE, deliver_policy=js_api.DeliverPolicy.ALL,
        inactive_threshold=30.0))
    out: list[tuple[int, bytes]] = []
    try:
        while total is None or len(out) < total:
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except TimeoutError:
                break
            for m in msgs:
                out.append((m.metadata.sequence.stream, m.data))
            if progress is not None:
                progress(label, len(out), total)
    finally:
        await sub.unsubscribe()
    return out


async def read_seals(js: Any, service: str, progress: Tick | None = None) -> list[Seal]:
    from nats.js.errors import NotFoundError

    try:
        messages = await read_subject(js, SEALS_STREAM, _seal_subject(service),
                                      progress=progress, label=f"verify {service}: seals")
    except NotFoundError:
        return []
    return [Seal.from_json(data) for _, data in messages]


async def verify_service(app: ServiceApplication, js: Any,
                         progress: Tick | None = None) -> Report:
    """``progress`` (optional) hears how far each phase is: rows read, seals read, rows
    decoded, stream messages read."""
    import asyncio

    def rows_read() -> list[Row]:
        with counting_reads(app, progress, f"verify {app.name}: rows"):
            return list(read_rows(app))

    rows = await asyncio.to_thread(rows_read)
    report = Report()
    report.extend(check_seals(app.name, rows, await read_seals(js, app.name, progress)))
    report.extend(check_shape(app.name, rows))
    stored, decode = await asyncio.to_thread(stored_envelopes, app, rows, progress)
    report.extend(decode)
    published = await read_subject(js, EVENTS_STREAM, producer_filter(app.name),
                                   progress=progress, label=f"verify {app.name}: stream")
    report.extend(check_stream(app.name, stored, published))
    return _dedupe(report)


def _dedupe(report: Report) -> Report:
    """The shape check and the seal check can see the same damage: say it once."""
    seen: set[tuple[str, str, int | None]] = set()
    out = Report(info=report.info)
    for f in report.findings:
        key = (f.service, f.kind, f.notification_id)
        if key in seen:
            continue
        seen.add(key)
        out.findings.append(f)
    return out
