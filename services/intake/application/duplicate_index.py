"""The customer index the possible-duplicate check consults at receipt: following
intake's own log (``Request.Received``, ``Request.Erased``) into private on-disk tables
(``ReadModelDb``), like the staff search (``search.py``). It replaced the stored
per-week ``CustomerIndex`` aggregates, which cost every receive up to four loads and two
writes.

Only keyed hashes are held (contact hashes, the order number's hash) with the reference,
product and time. Bounded by the window: an entry older than the newest receipt minus the
window is dropped. Advisory, not a constraint: two requests of one customer received at
the same moment (another replica, or a concurrent receive here) may not see each other —
staff still see both (docs/architecture.md, "Possible duplicates").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hotro.services.intake.domain import Request
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.read_model_db import ReadModelDb

#: the contact hashes a customer is recognised by across channels
CONTACTS = ("email", "phone")

# What the index reads; the rest of the log is never decoded. The module-path prefix is
# the layout before topics were pinned (``shared.eventstore.topics``).
_TOPICS = tuple(f"{prefix}:Request.{name}"
                for prefix in ("hotro.intake", "services.intake.domain")
                for name in ("Received", "Erased"))

_SCHEMA = """
CREATE TABLE entries (request_id TEXT PRIMARY KEY, reference TEXT NOT NULL,
                      received_at TEXT NOT NULL, received_ts REAL NOT NULL, product TEXT,
                      order_key TEXT, seq INTEGER NOT NULL);
CREATE INDEX entries_by_age ON entries (received_ts);
CREATE TABLE contacts (value TEXT NOT NULL, request_id TEXT NOT NULL);
CREATE INDEX contacts_by_value ON contacts (value);
CREATE INDEX contacts_by_request ON contacts (request_id);
"""


class DuplicateIndex:
    """``order_key``: the keyed hash of an order number as written (the application's)."""

    def __init__(self, app: ServiceApplication, window: timedelta,
                 order_key: Callable[[str | None], str | None], page: int = 500) -> None:
        self.app = app
        self.window = window
        self.order_key = order_key
        self.page = page
        self.position = 0
        self._lock = threading.Lock()
        self._db = ReadModelDb(_SCHEMA)
        self._newest: datetime | None = None

    def entries(self, contact_hashes: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        """Per contact kind ("email", "phone") of ``contact_hashes``: the requests
        received with that hash within the window, as of the log now."""
        with self._lock:
            self._catch_up()
            return {kind: [_as_dict(row) for row in self._db.rows(
                        "SELECT e.request_id, e.reference, e.received_at, e.product,"
                        " e.order_key FROM contacts c JOIN entries e USING (request_id)"
                        " WHERE c.value = ? ORDER BY e.seq", (value,))]
                    for kind, value in contact_hashes.items() if kind in CONTACTS and value}

    def size(self) -> int:
        with self._lock:
            self._catch_up()
            return int(self._db.scalar("SELECT COUNT(*) FROM entries"))

    def _catch_up(self) -> None:
        position = self.position
        try:
            self._catch_up_in_one_transaction()
        except BaseException:  # the tables rolled back: so does the position
            self.position = position
            raise

    def _catch_up_in_one_transaction(self) -> None:
        with self._db.batch():
            while True:  # one query per receive when the log moved less than a page
                notes = self.app.recorder.select_notifications(
                    start=self.position, limit=self.page, topics=_TOPICS,
                    inclusive_of_start=False)
                for note in notes:
                    self._apply(self.app.mapper.to_domain_event(note), note.id)
                    self.position = note.id
                if len(notes) < self.page:
                    break
            self._prune()

    def _apply(self, event: Any, seq: int) -> None:
        if isinstance(event, Request.Erased):
            self._forget(str(event.originator_id))
        elif isinstance(event, Request.Received):
            details = event.details or {}
            product = details.get("product")
            order_key = self.order_key(details.get("order_ref")
                                       or details.get("order_ref_in_text"))
            hashes = getattr(event, "contact_hashes", None) or {}
            contacts = [hashes[kind] for kind in CONTACTS if hashes.get(kind)]
            if not contacts or (product is None and order_key is None):
                return  # nothing another request could be linked to it by
            request_id = str(event.originator_id)
            received_at = datetime.fromisoformat(event.received_at)
            self._forget(request_id)
            self._db.execute(
                "INSERT INTO entries (request_id, reference, received_at, received_ts,"
                " product, order_key, seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (request_id, event.reference, received_at.isoformat(),
                 received_at.timestamp(), product, order_key, seq))
            self._db.executemany("INSERT INTO contacts (value, request_id) VALUES (?, ?)",
                                 [(value, request_id) for value in contacts])
            if self._newest is None or received_at > self._newest:
                self._newest = received_at

    def _prune(self) -> None:
        if self._newest is None:
            return
        horizon = (self._newest - self.window).timestamp()
        self._db.execute("DELETE FROM contacts WHERE request_id IN"
                         " (SELECT request_id FROM entries WHERE received_ts < ?)", (horizon,))
        self._db.execute("DELETE FROM entries WHERE received_ts < ?", (horizon,))

    def _forget(self, request_id: str) -> None:
        self._db.execute("DELETE FROM contacts WHERE request_id = ?", (request_id,))
        self._db.execute("DELETE FROM entries WHERE request_id = ?", (request_id,))


def _as_dict(row: Any) -> dict[str, Any]:
    """The shape ``domain.duplicates.possible_duplicates`` reads."""
    return {"request_id": row["request_id"], "reference": row["reference"],
            "received_at": row["received_at"], "product": row["product"],
            "order_key": row["order_key"]}
