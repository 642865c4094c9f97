"""``hotro replay SERVICE``: rebuild a service's read models from its log and compare.

Each read model is rebuilt into a *fresh* instance of the service's own class (routing
``CaseQueues``, notify ``DispatchLog``, sla ``ClockBoard``; intake's request view) by
reading the whole notification log, then compared field by field with the "live" state:

* by default the live state is the aggregates themselves (each loaded from the store at
  its current version) — a second, independent derivation of the same rows;
* a caller holding the running service's in-memory model (tests, an ops endpoint) passes
  its rows as ``live`` and gets the same comparison against it.

Output is deterministic: rows sorted by key, a sha256 over their canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hotro.audit.progress import Tick, counting_reads
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.log import read_events, read_log


@dataclass
class ReplayResult:
    service: str
    model: str
    events_read: int
    seconds: float
    rows: dict[str, dict[str, Any]]
    differences: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return digest(self.rows)

    @property
    def rate(self) -> float:
        return self.events_read / self.seconds if self.seconds > 0 else float("inf")

    def lines(self) -> Iterator[str]:
        verdict = "identical" if not self.differences else \
            f"{len(self.differences)} difference(s)"
        yield (f"{self.service}/{self.model}: {len(self.rows)} rows from {self.events_read} "
               f"events, sha256 {self.digest[:16]}…, {verdict}")
        for d in self.differences:
            yield f"  {d}"


def canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda i: str(i[0]))}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value  # enums
    return value


def digest(rows: dict[str, dict[str, Any]]) -> str:
    text = json.dumps(canonical(rows), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def compare(rebuilt: dict[str, dict[str, Any]], live: dict[str, dict[str, Any]],
            label: str = "live") -> list[str]:
    out: list[str] = []
    a, b = canonical(rebuilt), canonical(live)
    for key in sorted(set(a) | set(b)):
        if key not in b:
            out.append(f"{key}: in the rebuilt model only")
        elif key not in a:
            out.append(f"{key}: in the {label} model only")
        else:
            for name in sorted(set(a[key]) | set(b[key])):
                if a[key].get(name) != b[key].get(name):
                    out.append(f"{key}.{name}: rebuilt {a[key].get(name)!r} != "
                               f"{label} {b[key].get(name)!r}")
    return out


def _timed(build: Callable[[], tuple[int, dict[str, dict[str, Any]]]]
           ) -> tuple[int, float, dict[str, dict[str, Any]]]:
    t0 = time.perf_counter()
    read, rows = build()
    return read, time.perf_counter() - t0, rows


def _events_of_topics(app: ServiceApplication, topics: list[str],
                      page: int = 1000) -> Iterator[Any]:
    yield from read_events(app, topics=topics, page=page)


# ---- routing: case queues ---------------------------------------------------------------

def routing_rows_rebuilt(app: Any) -> tuple[int, dict[str, dict[str, Any]]]:
    from hotro.services.routing.views import CaseQueues

    queues = CaseQueues(app)
    read = queues.refresh()  # as the service rebuilds it at start
    return read, {r["complaint_id"]: r for r in queues.list()}


def routing_rows_from_aggregates(app: Any) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for opened in _events_of_topics(app, ["hotro.routing:Case.Opened"]):
        case = app.repository.get(opened.originator_id)
        departments: list[str] = []
        for r in case.referrals:
            if r["department"] not in departments:
                departments.append(r["department"])
        ended = case.state.value in ("closed", "refused", "withdrawn")
        deadlines = {k: {"status": d["status"], "last_day": d["last_day"],
                         "due_at": d["due_at"]} for k, d in case.deadlines.items()}
        rows[str(case.complaint_id)] = {
            "complaint_id": str(case.complaint_id), "reference": case.reference,
            "kind": case.kind, "channel": case.channel, "product": case.product,
            "category": case.category, "received_at": case.received_at.isoformat(),
            "state": case.state.value,
            "department": case.referrals[-1]["department"] if case.referrals else None,
            "departments": departments,
            "triage_rule": case.triage["rule_id"] if case.triage else None,
            "sla_status": None if ended else case.sla_status,
            "deadlines": deadlines,
            "updated_at": case.timeline[-1]["at"].isoformat(),
            "follow_up": case.follow_up_pending,
            "reply_undelivered": case.reply_undelivered is not None,
        }
    return rows


# ---- notify: delivery log ---------------------------------------------------------------

_NO_HISTORY = ("history",)


def notify_rows_rebuilt(app: Any) -> tuple[int, dict[str, dict[str, Any]]]:
    from hotro.services.notify.views import DispatchLog

    log = DispatchLog(app)
    read = log.catch_up()  # as the service rebuilds it at start
    rows = {r["id"]: r for r in log.entries(limit=10**9)}
    return read, rows


def notify_rows_from_aggregates(app: Any) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for requested in _events_of_topics(app, ["hotro.notify:Dispatch.Requested"]):
        d = app.repository.get(requested.originator_id)
        rows[str(d.id)] = {
            "id": str(d.id), "complaint_id": str(d.complaint_id), "reference": d.reference,
            "purpose": d.purpose, "method": d.method, "to": d.recipient,
            "internal": d.internal, "message_id": d.message_id, "status": d.status,
            "requested_at": d.created_on.isoformat(), "attempts": d.attempts,
            "proof": d.proof, "sent_at": d.sent_at, "recorded_by": d.recorded_by,
            "summary": d.summary,
            "letter": f"/api/letters/{d.id}.pdf" if d.letter_file else None,
            "last_error": d.last_error,
        }
    return rows


# ---- sla: open clocks -------------------------------------------------------------------

def _clock_row(row: Any) -> dict[str, Any]:
    return {"clock_id": str(row.clock_id), "complaint_id": str(row.complaint_id),
            "reference": row.reference, "kind": row.kind, "status": row.status,
            "last_day": row.last_day.isoformat(), "due_at": row.due_at.isoformat(),
            "approached": row.approached, "calendar_version": row.calendar_version,
            "counted": row.counted}


def sla_rows_rebuilt(app: Any) -> tuple[int, dict[str, dict[str, Any]]]:
    from hotro.services.sla.views import ClockBoard

    board = ClockBoard(app)
    read = board.refresh()
    return read, {str(r.clock_id): _clock_row(r) for r in board.open_clocks()}


def sla_rows_live(board: Any) -> dict[str, dict[str, Any]]:
    board.refresh()
    return {str(r.clock_id): _clock_row(r) for r in board.open_clocks()}


def sla_rows_from_aggregates(app: Any) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for started in _events_of_topics(app, ["hotro.sla:Clock.Set"]):
        c = app.repository.get(started.originator_id)
        if not c.is_open:
            continue
        rows[str(c.id)] = {
            "clock_id": str(c.id), "complaint_id": str(c.complaint_id),
            "reference": c.reference, "kind": c.kind, "status": c.status,
            "last_day": c.last_day, "due_at": datetime.fromisoformat(c.due_at).isoformat(),
            "approached": c.approached, "calendar_version": c.calendar_version,
            "counted": c.counted}
    return rows


# ---- intake: requests view --------------------------------------------------------------

def intake_rows_rebuilt(app: Any) -> tuple[int, dict[str, dict[str, Any]]]:
    """Reference, channel, open/closed, information rounds and bounces per request."""
    rows: dict[str, dict[str, Any]] = {}
    read = 0
    for n in read_log(app.recorder):
        read += 1
        if not n.topic.startswith("hotro.intake:Request."):
            continue
        e = app.mapper.to_domain_event(n)
        key = str(e.originator_id)
        name = type(e).__name__
        if name == "Received":
            rows[key] = {"id": key, "reference": e.reference, "kind": e.kind,
                         "channel": e.channel, "received_at": e.received_at,
                         "closed": False, "info": 0, "bounces": 0, "calls": 0,
                         "erased": False}
        elif key in rows:
            row = rows[key]
            if name == "InfoProvided":
                row["info"] += 1
            elif name == "DeliveryBounced":
                row["bounces"] += 1
            elif name == "CallLinked":
                row["calls"] += 1
            elif name == "Closed":
                row["closed"] = True
            elif name == "Reopened":
                row["closed"] = False
            elif name == "Erased":
                row["erased"] = True
    return read, rows


def intake_rows_from_aggregates(app: Any) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for received in _events_of_topics(app, ["hotro.intake:Request.Received"]):
        r = app.repository.get(received.originator_id)
        rows[str(r.id)] = {"id": str(r.id), "reference": r.reference, "kind": r.kind,
                           "channel": r.channel, "received_at": r.received_at,
                           "closed": r.closed, "info": len(r.info), "bounces": len(r.bounces),
                           "calls": len(r.calls), "erased": bool(getattr(r, "erased", False))}
    return rows


MODELS: dict[str, tuple[str, Callable[[Any], tuple[int, dict[str, dict[str, Any]]]],
                        Callable[[Any], dict[str, dict[str, Any]]]]] = {
    "routing": ("case-queues", routing_rows_rebuilt, routing_rows_from_aggregates),
    "notify": ("delivery-log", notify_rows_rebuilt, notify_rows_from_aggregates),
    "sla": ("open-clocks", sla_rows_rebuilt, sla_rows_from_aggregates),
    "intake": ("requests", intake_rows_rebuilt, intake_rows_from_aggregates),
}


def replay(app: ServiceApplication, live: dict[str, dict[str, Any]] | None = None,
           *, compare_history: bool = False, progress: Tick | None = None) -> ReplayResult:
    """``progress`` (optional) hears the log position reached while rebuilding and while
    deriving the rows from the aggregates."""
    model, rebuild, from_aggregates = MODELS[app.name]
    with counting_reads(app, progress, f"replay {app.name}: rebuilding {model}"):
        read, seconds, rows = _timed(lambda: rebuild(app))
    if app.name == "notify" and not compare_history and live is None:
        rows_cmp = {k: {n: v for n, v in r.items() if n not in _NO_HISTORY}
                    for k, r in rows.items()}
    else:
        rows_cmp = rows
    if live is not None:
        reference = live
    else:
        with counting_reads(app, progress, f"replay {app.name}: loading aggregates"):
            reference = from_aggregates(app)
    label = "live" if live is not None else "aggregate"
    return ReplayResult(app.name, model, read, seconds, rows,
                        compare(rows_cmp, reference, label))
