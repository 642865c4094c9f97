"""The dispatch log read model: what went to whom, when, by which method, with the proof
(served as ``/api/deliveries``).

Built from notify's own notification log by a ``LogFollower`` (incremental: each query
first reads only the events stored since the previous one), so a request costs an indexed
look-up instead of a scan of the whole log and one aggregate load per row. Rows live in
private on-disk tables (``ReadModelDb``: memory stays flat however many dispatches there
are); rebuilt from the log on start.

An SMS row carries its ``text`` once sent, when the gateway kept it (``sms_text``: the
local run's outbox, ``adapters/sms.SmsOutbox.text_for``); the events hold no SMS text.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

from hotro.services.notify.domain import STAFF_TASK, Dispatch
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.follower import LogFollower
from hotro.shared.eventstore.read_model_db import ReadModelDb

_SCHEMA = """
CREATE TABLE dispatches (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                         complaint_id TEXT NOT NULL, status TEXT NOT NULL,
                         purpose TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX dispatches_by_complaint ON dispatches (complaint_id, seq);
"""


class DispatchLog:
    def __init__(self, app: ServiceApplication, *,
                 sms_text: Callable[[str], str | None] | None = None) -> None:
        """``sms_text``: the text of a sent SMS by its dispatch id (None: not kept)."""
        self._sms_text = sms_text
        self._lock = threading.Lock()
        self._db = ReadModelDb(_SCHEMA)
        self._follower = LogFollower(app, self._apply)

    def catch_up(self) -> int:
        """Apply what was stored since; returns how many events were read."""
        with self._lock:
            return self._follower.catch_up_into(self._db)

    def entries(self, *, complaint_id: uuid.UUID | None = None, status: str | None = None,
                purpose: str | None = None, offset: int = 0,
                limit: int = 100) -> list[dict[str, Any]]:
        """Entries in the order their intent was recorded (read-your-writes: catches up)."""
        where, params = [], []
        for column, value in (("complaint_id", complaint_id), ("status", status),
                              ("purpose", purpose)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        sql = "SELECT doc FROM dispatches" + (" WHERE " + " AND ".join(where) if where
                                              else "") + " ORDER BY seq LIMIT ? OFFSET ?"
        self.catch_up()
        page = [json.loads(r["doc"]) for r in self._db.rows(
            sql, (*params, max(0, limit), max(0, offset)))]
        return [self._with_text(r) for r in page]  # files: never under the lock

    def get(self, dispatch_id: uuid.UUID) -> dict[str, Any] | None:
        self.catch_up()
        found = self._row(str(dispatch_id))
        return self._with_text(found) if found is not None else None

    def _row(self, dispatch_id: str) -> dict[str, Any] | None:
        doc = self._db.scalar("SELECT doc FROM dispatches WHERE id = ?", (dispatch_id,))
        return None if doc is None else dict(json.loads(doc))

    def _with_text(self, row: dict[str, Any]) -> dict[str, Any]:
        if row["method"] == "sms" and self._sms_text is not None and row["status"] == "sent":
            row["text"] = self._sms_text(row["id"])
        return row

    def _apply(self, event: Any) -> None:
        if not isinstance(event, Dispatch.Event):
            return  # contacts and acknowledgements are not dispatches
        if isinstance(event, Dispatch.Requested):
            did = event.originator_id
            self._store({
                "id": str(did), "complaint_id": str(event.complaint_id),
                "reference": event.reference, "purpose": event.purpose,
                "method": event.method, "to": event.recipient, "internal": event.internal,
                "message_id": event.message_id,
                "status": "task_open" if event.method in STAFF_TASK else "pending",
                "requested_at": event.timestamp.isoformat(), "attempts": 0,
                "proof": None, "sent_at": None, "recorded_by": None, "summary": None,
                "letter": None, "last_error": None, "history": [],
            }, new=True)
            return
        row = self._row(str(getattr(event, "originator_id", "")))
        if row is None:
            return
        at = event.timestamp.isoformat()
        if isinstance(event, Dispatch.AttemptFailed):
            row["attempts"] += 1
            row["last_error"] = event.reason
            row["history"].append({"at": at, "event": "attempt_failed", "reason": event.reason})
        elif isinstance(event, Dispatch.LetterPrinted):
            row["attempts"] += 1
            row["status"] = "awaiting_post"
            row["letter"] = f"/api/letters/{row['id']}.pdf"
            row["history"].append({"at": at, "event": "letter_printed"})
        elif isinstance(event, Dispatch.Sent):
            if row["status"] == "pending":
                row["attempts"] += 1
            row.update(status="sent", proof=event.proof, sent_at=event.sent_at,
                       recorded_by=event.recorded_by, summary=event.summary)
            row["history"].append({"at": at, "event": "sent", "proof": event.proof,
                                   "recorded_by": event.recorded_by})
        elif isinstance(event, Dispatch.Failed):
            row.update(status="failed", last_error=event.reason)
            row["history"].append({"at": at, "event": "failed", "reason": event.reason})
        elif isinstance(event, Dispatch.Bounced):
            row.update(status="bounced", last_error=event.reason)
            row["history"].append({"at": at, "event": "bounced", "reason": event.reason})
        elif isinstance(event, Dispatch.Cancelled):
            row.update(status="cancelled", last_error=event.reason)
            row["history"].append({"at": at, "event": "cancelled", "reason": event.reason})
        else:
            return
        self._store(row)

    def _store(self, row: dict[str, Any], *, new: bool = False) -> None:
        values = (json.dumps(row), row["status"], row["id"])
        if new:
            self._db.execute(
                "INSERT OR REPLACE INTO dispatches (seq, id, complaint_id, status, purpose, doc)"
                " VALUES (?, ?, ?, ?, ?, ?)", (self._follower.position + 1, row["id"],
                                              row["complaint_id"], row["status"],
                                              row["purpose"], values[0]))
        else:
            self._db.execute("UPDATE dispatches SET doc = ?, status = ? WHERE id = ?", values)

