"""Read model: one summary row per case, kept by following routing's own log.

Everything here comes from routing's stored events — including the SLA statuses, which
routing records as ``DeadlineRecorded`` when sla reports them — so the model can be
rebuilt at any time by reading the log from the start.

The rows live in a private on-disk database (``ReadModelDb``), not in Python dicts: held
in memory they grew routing's resident size by about 1.6 KB per complaint in the soak
(and the queue page kept a sorted copy of all of them). On disk only a small page cache
stays resident; indexes on the queue order (urgency, then receipt) let a page of the
console's queue read its rows without sorting every case."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hotro.services.routing.domain.case import Case, settle_deadlines, sla_status
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.follower import LogFollower
from hotro.shared.eventstore.read_model_db import ReadModelDb

#: Sort order of the queues: overdue first, then approaching, then the rest; ended last.
_URGENCY = {"breached": 0, "approaching": 1, "on_track": 2, None: 3}

_STATE_AFTER = {
    "AnalysisStarted": "analysing", "InfoRequested": "awaiting_customer_info",
    "InfoProvided": "analysing", "InfoRequestLapsed": "analysing",
    "ResolvedBySupport": "resolved_by_support",
    "ReferredToDepartment": "referred_to_department",
    "DepartmentResponded": "department_responded", "ReplyRequested": "reply_due",
    "ReplySent": "replied", "ReplyUndelivered": "reply_due", "Closed": "closed",
    "Refused": "refused", "Withdrawn": "withdrawn", "Reopened": "analysing",
    "FilingReviewOpened": "awaiting_filing_review", "LateFilingAccepted": "analysing",
    "LateFilingFound": "awaiting_filing_review",
}
_ENDED = frozenset({"closed", "refused", "withdrawn"})
#: queue rows (an alias: inside CaseQueues, ``list`` names its method)
Rows = list[dict[str, Any]]
Attributes = list[list[str | None]]
Departments = dict[int, list[str]]

# ``seq`` is the order cases were opened in the log: the last tie-breaker of the queue
# order (as the insertion order of the dict the rows were once kept in). ``received_us``:
# microseconds since the epoch, for the backlog's day buckets in exact integer arithmetic.
# The ``(x, urgency, received_at)`` indexes serve a filtered page in queue order (an index
# entry ends with ``seq``, the rowid), and its count from the index alone.
_SCHEMA = """
CREATE TABLE cases (
    seq INTEGER PRIMARY KEY,
    case_id BLOB NOT NULL UNIQUE,
    complaint_id TEXT NOT NULL UNIQUE,
    reference TEXT, kind TEXT, channel TEXT, product TEXT, category TEXT,
    received_at TEXT NOT NULL, received_us INTEGER NOT NULL,
    state TEXT NOT NULL, department TEXT, triage_rule TEXT,
    sla_status TEXT, urgency INTEGER NOT NULL, follow_up INTEGER NOT NULL,
    reply_undelivered INTEGER NOT NULL, updated_at TEXT NOT NULL, deadlines TEXT NOT NULL);
CREATE INDEX cases_queue ON cases (urgency, received_at);
CREATE INDEX cases_by_state ON cases (state, urgency, received_at);
CREATE INDEX cases_by_channel ON cases (channel, urgency, received_at);
CREATE INDEX cases_by_product ON cases (product, urgency, received_at);
CREATE INDEX cases_by_department ON cases (department, urgency, received_at);
CREATE INDEX cases_by_follow_up ON cases (follow_up, urgency, received_at);
CREATE INDEX cases_by_reply_undelivered ON cases (reply_undelivered, urgency, received_at);
CREATE INDEX cases_counts ON cases (state, channel, received_us);
CREATE TABLE case_departments (
    case_seq INTEGER NOT NULL, position INTEGER NOT NULL, department TEXT NOT NULL,
    PRIMARY KEY (case_seq, position)) WITHOUT ROWID;
CREATE INDEX case_departments_by_department ON case_departments (department, case_seq);
CREATE TABLE case_actors (
    actor TEXT NOT NULL, case_seq INTEGER NOT NULL,
    PRIMARY KEY (actor, case_seq)) WITHOUT ROWID;
"""

_OPENED_COLUMNS = ("case_id", "complaint_id", "reference", "kind", "channel", "product",
                   "category", "received_at", "received_us", "state", "department",
                   "triage_rule", "sla_status", "urgency", "follow_up", "reply_undelivered",
                   "updated_at", "deadlines")
# A case opens once; should a second Opened ever come, the row starts afresh in its place
# rather than failing every catch-up from there on.
_OPEN = (f"INSERT INTO cases ({', '.join(_OPENED_COLUMNS)}) "
         f"VALUES ({', '.join('?' for _ in _OPENED_COLUMNS)}) ON CONFLICT (case_id) DO UPDATE "
         f"SET {', '.join(f'{c} = excluded.{c}' for c in _OPENED_COLUMNS[1:])} RETURNING seq")
_ROW_COLUMNS = ("seq, complaint_id, reference, kind, channel, product, category, "
                "received_at, state, department, triage_rule, sla_status, deadlines, "
                "follow_up, reply_undelivered, updated_at")
#: the columns an event after Opened may change
_CHANGING = ("updated_at", "state", "department", "follow_up", "reply_undelivered",
             "triage_rule", "deadlines", "sla_status", "urgency")
_QUEUE_ORDER = "ORDER BY urgency, received_at, seq"
#: rows a catch-up holds changed in memory before it writes them (bounds its memory)
_PENDING_ROWS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: the backlog's buckets: whole days since receipt, from and below (a receipt later
#: than ``now`` counts as 0-2 days)
_BACKLOG = {"0-2": (None, 3), "3-5": (3, 6), "6-10": (6, 11), ">10": (11, None)}
# Cases by state and channel with their age buckets, in one pass over ``cases_counts``.
# Whole days since receipt >= d exactly when now - received is at least d days
# (timedelta.days floors): compared in integer microseconds, no rounding at an edge.
_DAY_US = 86_400_000_000


def _age_between(low: int | None, high: int | None) -> str:
    return " AND ".join([*([f":now - received_us >= {low * _DAY_US}"] if low else []),
                         *([f":now - received_us < {high * _DAY_US}"] if high else [])])


_COUNTS = ("SELECT state, channel, COUNT(*), "
           + ", ".join(f"SUM({_age_between(*bounds)})" for bounds in _BACKLOG.values())
           + " FROM cases GROUP BY state, channel ORDER BY MIN(seq)")


@dataclass
class _PendingRow:
    """A case's row while a catch-up applies events to it: ``stored`` as the table has
    it (``_CHANGING`` columns), ``current`` with the events applied so far (its
    ``deadlines`` decoded)."""

    seq: int
    stored: dict[str, Any]
    current: dict[str, Any]


class CaseQueues:
    """Kept up to date by ``refresh`` (the service's worker calls it periodically; every
    ``list`` calls it too, so a reader never sees less than what was stored before)."""

    def __init__(self, app: ServiceApplication) -> None:
        self.app = app
        self._db = ReadModelDb(_SCHEMA)
        self._lock = threading.Lock()
        self._pending: dict[bytes, _PendingRow] = {}
        self._actors: set[tuple[str, int]] = set()
        self.follower = LogFollower(app, self._apply, flush=self._write_pending)

    def refresh(self) -> int:
        """Apply what was stored since; returns how many events were read."""
        with self._lock:
            # what a failed catch-up left behind: its transaction was rolled back
            self._pending.clear()
            self._actors.clear()
            return self.follower.catch_up_into(self._db)

    def close(self) -> None:
        self._db.close()

    # ---- following the log ----------------------------------------------------------

    def _apply(self, stored: object) -> None:
        if not isinstance(stored, Case.Event):
            return
        event: Any = stored
        case_id = event.originator_id.bytes
        if type(event).__name__ == "Opened":
            row = self._open(event)
        else:
            found = self._pending.get(case_id) or self._read(case_id)
            if found is None:
                return
            row = found
            self._change(row, event)
        self._pending[case_id] = row
        trace = getattr(event, "trace", None) or {}
        if trace.get("actor_id") and trace.get("actor_kind") in ("staff", "department"):
            self._actors.add((trace["actor_id"], row.seq))
        if len(self._pending) >= _PENDING_ROWS:
            self._write_pending()

    def _read(self, case_id: bytes) -> _PendingRow | None:
        found = self._db.one(f"SELECT seq, {', '.join(_CHANGING)} FROM cases "
                             "WHERE case_id = ?", (case_id,))
        if found is None:
            return None
        stored = {c: found[c] for c in _CHANGING}
        return _PendingRow(found["seq"], stored, dict(stored, deadlines=json.loads(
            found["deadlines"])))

    def _open(self, event: Any) -> _PendingRow:
        values = dict(zip(_OPENED_COLUMNS, (
            event.originator_id.bytes, str(event.complaint_id), event.reference, event.kind,
            event.channel, event.product, event.category, event.received_at.isoformat(),
            (event.received_at - _EPOCH) // _MICROSECOND, "new", None, None, "on_track",
            _URGENCY["on_track"], 0, 0, event.timestamp.isoformat(), "{}"), strict=True))
        seq = self._db.scalar(_OPEN, tuple(values.values()))
        self._db.execute("DELETE FROM case_departments WHERE case_seq = ?", (seq,))
        stored = {c: values[c] for c in _CHANGING}
        return _PendingRow(seq, stored, dict(stored, deadlines={}))

    def _change(self, row: _PendingRow, event: Any) -> None:
        """Apply ``event`` to the case's row as this catch-up has it so far."""
        name = type(event).__name__
        current = row.current
        state = _STATE_AFTER.get(name, current["state"])
        deadlines: dict[str, Any] = current["deadlines"]
        current.update(updated_at=event.timestamp.isoformat(), state=state)
        if name == "ReferredToDepartment":
            current["department"] = event.department
            self._note_department(row.seq, event.department)
        elif name in ("FollowUpReceived", "Reopened", "FollowUpDismissed"):
            current["follow_up"] = int(name == "FollowUpReceived")
        if name in ("ReplyUndelivered", "ReplyRequested", "ReplySent"):
            current["reply_undelivered"] = int(name == "ReplyUndelivered")
        elif name == "TriageApplied":
            current["triage_rule"] = event.rule_id
        elif name == "DeadlineRecorded":
            deadlines[event.clock] = {"status": event.status, "last_day": event.last_day,
                                      "due_at": event.due_at}
        settle_deadlines(deadlines, name)
        status = None if state in _ENDED else sla_status(deadlines)
        current.update(sla_status=status, urgency=_URGENCY[status])

    def _write_pending(self) -> None:
        """Write the rows this catch-up changed: one UPDATE per case (not per event),
        of only the columns that differ from the table — each indexed column set costs
        its indexes a rewrite."""
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in self._pending.values():
            current = dict(row.current, deadlines=json.dumps(row.current["deadlines"]))
            changed = tuple(c for c in _CHANGING if current[c] != row.stored[c])
            if changed:
                updates.setdefault(changed, []).append(
                    (*(current[c] for c in changed), row.seq))
        for columns, rows in updates.items():
            self._db.executemany(f"UPDATE cases SET {', '.join(f'{c} = ?' for c in columns)}"
                                 " WHERE seq = ?", rows)
        if self._actors:
            self._db.executemany("INSERT OR IGNORE INTO case_actors (actor, case_seq) "
                                 "VALUES (?, ?)", sorted(self._actors))
        self._pending.clear()
        self._actors.clear()

    def _note_department(self, seq: int, department: str) -> None:
        """Append ``department`` to the case's referrals unless it is there already."""
        if self._db.one("SELECT 1 FROM case_departments WHERE department = ? AND "
                        "case_seq = ?", (department, seq)) is None:
            self._db.execute("INSERT INTO case_departments (case_seq, position, department) "
                             "SELECT ?, COUNT(*), ? FROM case_departments WHERE case_seq = ?",
                             (seq, department, seq))

    # ---- reading --------------------------------------------------------------------

    def list(self, *, state: str | None = None, channel: str | None = None,
             department: str | None = None, sla: str | None = None,
             referred_to: str | None = None) -> list[dict[str, Any]]:
        """Rows matching every filter given, overdue first, then oldest first.
        ``department``: currently referred to it; ``referred_to``: ever referred to it."""
        self.refresh()
        where, params = _filters(state=state, channel=channel, department=department,
                                 sla=sla, referred_to=referred_to)
        with self._db.batch():
            return self._rows(f"SELECT {_ROW_COLUMNS} FROM cases c {where} {_QUEUE_ORDER}",
                              params)

    def page(self, *, offset: int, limit: int, state: str | None = None,
             channel: str | None = None, product: str | None = None,
             department: str | None = None, sla: str | None = None,
             referred_to: str | None = None, actor: str | None = None,
             complaint_ids: frozenset[str] | None = None,
             follow_up: bool | None = None,
             reply_undelivered: bool | None = None) -> tuple[int, Rows]:
        """(how many rows match, the rows ``offset``..``offset+limit``) in queue order
        (overdue first, then approaching, then oldest first)."""
        self.refresh()
        where, params = _filters(state=state, channel=channel, product=product,
                                 department=department, sla=sla, referred_to=referred_to,
                                 actor=actor, complaint_ids=complaint_ids,
                                 follow_up=follow_up, reply_undelivered=reply_undelivered)
        with self._db.batch():  # the count and the rows from the same state
            total: int = self._db.scalar(f"SELECT COUNT(*) FROM cases c {where}", params)
            found = self._rows(f"SELECT {_ROW_COLUMNS} FROM cases c {where} {_QUEUE_ORDER} "
                               "LIMIT ? OFFSET ?", [*params, limit, offset])
        return total, found

    def attributes(self) -> Attributes:
        """[complaint id, kind, channel, product, department] of every case, compactly:
        the department is the last one it was referred to, else ``support`` (as in
        ``hotro report compliance``)."""
        self.refresh()
        rows = self._db.rows(
            "SELECT complaint_id, kind, channel, product, COALESCE((SELECT department "
            "FROM case_departments d WHERE d.case_seq = c.seq ORDER BY position DESC "
            "LIMIT 1), 'support') FROM cases c ORDER BY seq")
        return [list(r) for r in rows]

    def stats(self, now: datetime) -> dict[str, Any]:
        """Open cases by state, channel and age (calendar days since receipt)."""
        self.refresh()
        by_state: dict[str, int] = {}
        by_channel: dict[str, int] = {}
        backlog = dict.fromkeys(_BACKLOG, 0)
        # groups in the order their first case was opened: the keys come out in the
        # order the cases were, as when counted case by case
        for state, channel, n, *ages in self._db.rows(
                _COUNTS, {"now": (now - _EPOCH) // _MICROSECOND}):
            by_state[state] = by_state.get(state, 0) + n
            if state not in _ENDED:
                by_channel[channel] = by_channel.get(channel, 0) + n
                for bucket, count in zip(_BACKLOG, ages, strict=True):
                    backlog[bucket] += count
        return {"by_state": by_state, "open_by_channel": by_channel, "backlog": backlog}

    def _rows(self, sql: str, params: Sequence[Any]) -> Rows:
        """The queue rows ``sql`` selects (``_ROW_COLUMNS``), each with its departments."""
        rows = self._db.rows(sql, params)
        departments: Departments = {r["seq"]: [] for r in rows}
        for seq, department in self._db.rows(
                "SELECT case_seq, department FROM case_departments WHERE case_seq IN "
                "(SELECT value FROM json_each(?)) ORDER BY case_seq, position",
                (json.dumps(list(departments)),)):
            departments[seq].append(department)
        return [_row(r, departments[r["seq"]]) for r in rows]


def _filters(*, state: str | None = None, channel: str | None = None,
             product: str | None = None, department: str | None = None,
             sla: str | None = None, referred_to: str | None = None,
             actor: str | None = None, complaint_ids: frozenset[str] | None = None,
             follow_up: bool | None = None,
             reply_undelivered: bool | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause (over ``cases c``) and its parameters for the filters given."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("state", state), ("channel", channel), ("product", product),
                          ("department", department), ("sla_status", sla)):
        if value is not None:
            where.append(f"c.{column} = ?")
            params.append(value)
    if sla is not None and sla in _URGENCY:  # the same rows; the queue index narrows
        where.append("c.urgency = ?")
        params.append(_URGENCY[sla])
    for column, flag in (("follow_up", follow_up), ("reply_undelivered", reply_undelivered)):
        if flag is not None:
            where.append(f"c.{column} = ?")
            params.append(int(flag))
    if referred_to is not None:
        where.append("c.seq IN (SELECT case_seq FROM case_departments WHERE "
                     "department = ?)")
        params.append(referred_to)
    if actor is not None:
        where.append("c.seq IN (SELECT case_seq FROM case_actors WHERE actor = ?)")
        params.append(actor)
    if complaint_ids is not None:
        # one JSON parameter: any number of ids (bound parameters stop at 32766)
        where.append("c.complaint_id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(complaint_ids)))
    return ("WHERE " + " AND ".join(where)) if where else "", params


def _row(r: Any, departments: list[str]) -> dict[str, Any]:
    return {"complaint_id": r["complaint_id"], "reference": r["reference"],
            "kind": r["kind"], "channel": r["channel"], "product": r["product"],
            "category": r["category"], "received_at": r["received_at"],
            "state": r["state"], "department": r["department"], "departments": departments,
            "triage_rule": r["triage_rule"], "sla_status": r["sla_status"],
            "deadlines": json.loads(r["deadlines"]), "follow_up": bool(r["follow_up"]),
            "reply_undelivered": bool(r["reply_undelivered"]), "updated_at": r["updated_at"]}
