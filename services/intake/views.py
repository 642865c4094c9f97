"""Intake's read models, each kept by following intake's own log (``LogFollower``):
every query first reads only the events stored since the previous one (read-your-writes),
instead of paging through the log per request. Their rows live on disk, in a private
temporary SQLite database per model (``ReadModelDb``: only a small page cache stays
resident, so memory does not grow with the cases), and are still rebuilt from the log on
start; each catch-up is one transaction.

* ``HotlineCalls``: the calls the call-centre software reported; its drafts are the calls
  linked to no request and not yet turned into one.
* ``MailLog``: the inbound mail that became no request (ignored, quarantined, refused).
* ``CustomerCases``: per request, what its customer may see (state in plain words, the
  information asked for and its due date, the reply's last day) and its customer links'
  generation (the capability look-up); and which new cases claimed to continue it with a
  sender that did not match (``sender_mismatch``), for staff.

Personal data stays sealed in the models' tables (the event's sealed value, as JSON); it
is opened per query with the current keys, so an erasure takes effect here too.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import HotlineCall, MailRecord, Request
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.contracts.events import withdrawal_reason
from hotro.shared.eventstore.follower import LogFollower
from hotro.shared.eventstore.read_model_db import ReadModelDb


@dataclass(frozen=True)
class CallRow:
    """A hotline call as its events tell it (``caller``, ``caller_raw``: sealed)."""

    call_id: str
    caller: Any
    caller_raw: Any
    started_at: str | None
    linked_request_id: str | None
    linked_reference: str | None
    ended_at: str | None = None
    recording_ref: str | None = None
    converted_request_id: str | None = None
    converted_reference: str | None = None

    @property
    def is_draft(self) -> bool:
        return self.linked_request_id is None and self.converted_request_id is None


class HotlineCalls:
    _SCHEMA = """
        CREATE TABLE calls (
            seq INTEGER PRIMARY KEY,  -- the order the calls started
            id TEXT NOT NULL UNIQUE, call_id TEXT NOT NULL,
            caller TEXT, caller_raw TEXT,  -- sealed, as JSON
            started_at TEXT, linked_request_id TEXT, linked_reference TEXT,
            ended_at TEXT, recording_ref TEXT,
            converted_request_id TEXT, converted_reference TEXT);
        CREATE INDEX call_drafts ON calls (seq)
            WHERE linked_request_id IS NULL AND converted_request_id IS NULL;
    """

    def __init__(self, app: IntakeApplication) -> None:
        self._lock = threading.Lock()
        self._db = ReadModelDb(self._SCHEMA)
        self._follower = LogFollower(app, self._apply)

    def drafts(self) -> list[CallRow]:
        """Calls linked to no request and not converted, in the order they started."""
        with self._lock:
            self._follower.catch_up_into(self._db)
            rows = self._db.rows(
                f"SELECT {', '.join(_CALL_FIELDS)} FROM calls WHERE linked_request_id IS NULL"
                " AND converted_request_id IS NULL ORDER BY seq")
        return [_call_row(r) for r in rows]

    def _apply(self, event: Any) -> None:
        if isinstance(event, HotlineCall.Started):
            self._db.execute(
                "INSERT INTO calls (id, call_id, caller, caller_raw, started_at,"
                " linked_request_id, linked_reference) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET call_id = excluded.call_id,"
                " caller = excluded.caller, caller_raw = excluded.caller_raw,"
                " started_at = excluded.started_at,"
                " linked_request_id = excluded.linked_request_id,"
                " linked_reference = excluded.linked_reference, ended_at = NULL,"
                " recording_ref = NULL, converted_request_id = NULL,"
                " converted_reference = NULL",
                (str(event.originator_id), event.call_id, _sealed_json(event.caller),
                 _sealed_json(event.caller_raw), event.started_at, event.linked_request_id,
                 event.linked_reference))
        elif isinstance(event, HotlineCall.Ended):
            self._db.execute("UPDATE calls SET ended_at = ?, recording_ref = ? WHERE id = ?",
                             (event.ended_at, event.recording_ref, str(event.originator_id)))
        elif isinstance(event, HotlineCall.Converted):
            self._db.execute(
                "UPDATE calls SET converted_request_id = ?, converted_reference = ?"
                " WHERE id = ?", (event.request_id, event.reference, str(event.originator_id)))


#: the table's columns that make a ``CallRow``
_CALL_FIELDS = tuple(f.name for f in dataclasses.fields(CallRow))


def _call_row(row: sqlite3.Row) -> CallRow:
    fields = dict(zip(_CALL_FIELDS, row, strict=True))
    return CallRow(**{**fields, "caller": _sealed_value(row["caller"]),
                      "caller_raw": _sealed_value(row["caller_raw"])})


class MailLog:
    _SCHEMA = """
        CREATE TABLE mail (
            seq INTEGER PRIMARY KEY,  -- the order they were recorded
            id TEXT NOT NULL, outcome TEXT NOT NULL, reason_code TEXT, reason_text TEXT,
            raw_sha256 TEXT, message_id TEXT,
            envelope_from TEXT, from_address TEXT,  -- sealed, as JSON
            subject TEXT, size INTEGER, received_at TEXT);
        CREATE INDEX mail_by_outcome ON mail (outcome, seq);
    """
    #: a record's fields, in the order ``records`` gives them
    _FIELDS = ("id", "outcome", "reason_code", "reason_text", "raw_sha256", "message_id",
               "envelope_from", "from_address", "subject", "size", "received_at")

    def __init__(self, app: IntakeApplication) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._db = ReadModelDb(self._SCHEMA)
        self._follower = LogFollower(app, self._apply)

    def records(self, outcome: str | None = None) -> list[dict[str, Any]]:
        """Every record (or those of one ``outcome``), senders opened with their keys."""
        select = f"SELECT {', '.join(self._FIELDS)} FROM mail"
        with self._lock:
            self._follower.catch_up_into(self._db)
            if outcome is None:
                rows = self._db.rows(f"{select} ORDER BY seq")
            else:
                rows = self._db.rows(f"{select} WHERE outcome = ? ORDER BY seq", (outcome,))
        # the key ring may wait on NATS: never while holding the lock
        return [{**dict(zip(self._FIELDS, r, strict=True)),
                 "envelope_from": self.app.open_value(_sealed_value(r["envelope_from"])),
                 "from_address": self.app.open_value(_sealed_value(r["from_address"]))}
                for r in rows]

    def _apply(self, event: Any) -> None:
        if not isinstance(event, MailRecord.Recorded):
            return
        self._db.execute(
            f"INSERT INTO mail ({', '.join(self._FIELDS)})"
            f" VALUES ({', '.join('?' * len(self._FIELDS))})",
            (str(event.originator_id), event.outcome, event.reason_code, event.reason_text,
             event.raw_sha256, event.message_id, _sealed_json(event.envelope_from),
             _sealed_json(event.from_address), event.subject, event.size, event.received_at))


# ---- the customer's view of a case ------------------------------------------------------

CustomerState = Literal["received", "being_analysed", "awaiting_information", "referred",
                        "answered", "closed", "withdrawn", "reopened"]


@dataclass
class CustomerCase:
    """One request as its customer may see it (nothing of staff's or departments' work
    beyond its state), and its customer links' generation."""

    request_id: uuid.UUID
    reference: str
    kind: str
    received_on: date
    state: CustomerState = "received"
    asked_items: list[str] = field(default_factory=list)
    info_due: date | None = None
    reply_due: date | None = None
    generation: int = 0

    def copy(self) -> CustomerCase:
        return dataclasses.replace(self, asked_items=list(self.asked_items))


class CustomerCases:
    """Follows intake's log; thread-safe. ``generation`` is what the Authenticator asks for
    every customer link (read-your-writes: a revocation applies to the next request)."""

    _SCHEMA = """
        CREATE TABLE cases (
            request_id TEXT PRIMARY KEY, reference TEXT NOT NULL, kind TEXT NOT NULL,
            received_on TEXT NOT NULL, state TEXT NOT NULL,
            asked_items TEXT NOT NULL,  -- a JSON list
            info_due TEXT, reply_due TEXT, generation INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE claims (
            seq INTEGER PRIMARY KEY, claimed_id TEXT NOT NULL,
            request_id TEXT NOT NULL, reference TEXT NOT NULL,
            reason TEXT NOT NULL, via TEXT NOT NULL);
        CREATE INDEX claims_by_claimed ON claims (claimed_id, seq);
    """
    #: the events that may change a case once received
    _CHANGES = (Request.CapabilityRevoked, Request.Closed, Request.Reopened,
                Request.InfoProvided, Request.ProgressNoted)

    def __init__(self, app: IntakeApplication) -> None:
        self._lock = threading.Lock()
        self._db = ReadModelDb(self._SCHEMA)
        self._follower = LogFollower(app, self._apply)

    def generation(self, complaint_id: str) -> int | None:
        """The case's current link generation; None for a case intake does not hold."""
        case = self.case(complaint_id)
        return case.generation if case is not None else None

    def case(self, complaint_id: str | uuid.UUID) -> CustomerCase | None:
        try:
            key = complaint_id if isinstance(complaint_id, uuid.UUID) \
                else uuid.UUID(complaint_id)
        except ValueError:
            return None
        with self._lock:
            self._follower.catch_up_into(self._db)
            return self._load(key)

    def claimed_by(self, request_id: uuid.UUID) -> list[dict[str, str]]:
        """New cases made from mail that claimed to continue this one from another
        sender (the claimed case itself is unchanged: staff see the link here)."""
        with self._lock:
            self._follower.catch_up_into(self._db)
            rows = self._db.rows(
                "SELECT request_id, reference, reason, via FROM claims"
                " WHERE claimed_id = ? ORDER BY seq", (str(request_id),))
        return [dict(zip(r.keys(), r, strict=True)) for r in rows]

    def _apply(self, event: Any) -> None:
        if isinstance(event, Request.Received):
            self._received(event)
        elif isinstance(event, self._CHANGES):
            case = self._load(event.originator_id)
            if case is None:
                return
            before = case.copy()
            _change(case, event)
            if case != before:
                self._save(case)

    def _received(self, event: Any) -> None:
        self._save(CustomerCase(
            request_id=event.originator_id, reference=event.reference, kind=event.kind,
            received_on=datetime.fromisoformat(event.received_at)
            .astimezone(VIETNAM_TZ).date()))
        claimed = (event.details or {}).get("claimed")
        if claimed and claimed.get("request_id"):
            self._db.execute(
                "INSERT INTO claims (claimed_id, request_id, reference, reason, via)"
                " VALUES (?, ?, ?, ?, ?)",
                (str(uuid.UUID(claimed["request_id"])), str(event.originator_id),
                 event.reference, str(claimed.get("reason", "")),
                 str(claimed.get("via", ""))))

    def _load(self, request_id: uuid.UUID) -> CustomerCase | None:
        row = self._db.one("SELECT * FROM cases WHERE request_id = ?", (str(request_id),))
        if row is None:
            return None
        return CustomerCase(
            request_id=request_id, reference=row["reference"], kind=row["kind"],
            received_on=date.fromisoformat(row["received_on"]), state=row["state"],
            asked_items=json.loads(row["asked_items"]), info_due=_date(row["info_due"]),
            reply_due=_date(row["reply_due"]), generation=row["generation"])

    def _save(self, case: CustomerCase) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO cases (request_id, reference, kind, received_on, state,"
            " asked_items, info_due, reply_due, generation)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(case.request_id), case.reference, case.kind, case.received_on.isoformat(),
             case.state, json.dumps(case.asked_items),
             case.info_due.isoformat() if case.info_due else None,
             case.reply_due.isoformat() if case.reply_due else None, case.generation))


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _change(case: CustomerCase, event: Any) -> None:
    """What one of ``CustomerCases._CHANGES`` does to the case."""
    if isinstance(event, Request.CapabilityRevoked):
        case.generation = event.generation
    elif isinstance(event, Request.Closed):
        case.state = "withdrawn" if withdrawal_reason(event.reason) is not None else "closed"
    elif isinstance(event, Request.Reopened):
        case.state = "reopened"
    elif case.state in ("closed", "withdrawn"):
        return  # only a reopening changes an ended case's state
    elif isinstance(event, Request.InfoProvided):
        if case.state == "awaiting_information":
            case.state = "being_analysed"
    elif isinstance(event, Request.ProgressNoted):
        _progress(case, event)


def _progress(case: CustomerCase, event: Any) -> None:
    step = event.step
    if step == "reply_deadline":
        case.reply_due = date.fromisoformat(event.due_date) if event.due_date else None
        if case.state == "received":
            case.state = "being_analysed"
    elif step == "acknowledged":
        if case.state == "received":
            case.state = "being_analysed"
    elif step == "info_requested":
        case.state = "awaiting_information"
        case.asked_items = list(event.items)
        case.info_due = date.fromisoformat(event.due_date) if event.due_date else None
    elif step in ("info_received", "info_window_lapsed"):
        if case.state == "awaiting_information":
            case.state = "being_analysed"
    elif step == "referred":
        case.state = "referred"
    elif step == "department_responded":
        if case.state == "referred":
            case.state = "being_analysed"
    elif step == "answered":
        case.state = "answered"


# ---- sealed values in the tables ---------------------------------------------------------

def _sealed_json(value: Any) -> str | None:
    """A sealed value of an event (a sealed dict; a clear string from before sealing) as
    stored in a table: as it came, never opened (erasing its key must blind the row)."""
    return None if value is None else json.dumps(value)


def _sealed_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)
