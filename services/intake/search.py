"""Staff search of requests by the customer's email, phone or name — without those in
clear: a blind index of the keyed hashes intake computes at receipt (``contact_hashes`` of
``Request.Received``: email, E.164 phone, the name's diacritics-free tokens; see
``application.personal_data``). A query is hashed with the same key and looked up.

Its rows live on disk in a private temporary SQLite database (``ReadModelDb``), following
intake's log (read-your-writes, like ``views``) and rebuilt from it on start. An erased
request (``Request.Erased``) leaves the index at once, and is never indexed again on a
rebuild.
Requests stored before the name hashes existed are found by email and phone only.
"""

from __future__ import annotations

import threading
from typing import Any

import phonenumbers

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import Request
from hotro.shared.eventstore.follower import LogFollower
from hotro.shared.eventstore.read_model_db import ReadModelDb

#: the most matches one search returns (newest first): a queue page's filter, not an export
MAX_MATCHES = 200


class SearchIndex:
    _SCHEMA = """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,  -- receipt order: newest first in results
            reference TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE request_keys (
            key TEXT NOT NULL, request_id TEXT NOT NULL,
            PRIMARY KEY (key, request_id)) WITHOUT ROWID;
        CREATE INDEX request_keys_by_request ON request_keys (request_id);
    """

    def __init__(self, app: IntakeApplication) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._db = ReadModelDb(self._SCHEMA)
        self._follower = LogFollower(app, self._apply)

    def search(self, text: str) -> list[dict[str, str]]:
        """Requests whose email or phone is ``text``, or whose name holds every token of
        ``text`` (any accents, case and order), newest first."""
        keys = sorted(set(self.query_keys(text)))
        if not keys:
            return []
        # a request matches when it holds every key: as many distinct keys as asked for
        sql = ("SELECT r.id, r.reference FROM request_keys AS k"
               " JOIN requests AS r ON r.id = k.request_id"
               f" WHERE k.key IN ({', '.join('?' * len(keys))})"
               " GROUP BY r.id HAVING COUNT(DISTINCT k.key) = ?"
               " ORDER BY r.seq DESC LIMIT ?")
        with self._lock:
            self._follower.catch_up_into(self._db)
            rows = self._db.rows(sql, (*keys, len(keys), MAX_MATCHES))
        return [{"id": r["id"], "reference": r["reference"]} for r in rows]

    def query_keys(self, text: str) -> list[str]:
        """What to look up for ``text``: one email or phone key, else the name's keys."""
        text = text.strip()
        if "@" in text:
            return [self.app.email_key(text)]
        phone = _e164(text)
        if phone is not None:
            return [self.app.phone_key(phone)]
        return self.app.name_keys(text)

    def size(self) -> int:
        with self._lock:
            self._follower.catch_up_into(self._db)
            count: int = self._db.scalar("SELECT COUNT(*) FROM requests")
            return count

    def _apply(self, event: Any) -> None:
        if isinstance(event, Request.Received):
            hashes = getattr(event, "contact_hashes", None) or {}
            keys = {k for k in (hashes.get("email"), hashes.get("phone"),
                                *(hashes.get("name") or "").split()) if k}
            request_id = str(event.originator_id)
            self._db.execute("INSERT OR REPLACE INTO requests (id, seq, reference)"
                             " VALUES (?, ?, ?)",
                             (request_id, self._follower.position + 1, event.reference))
            self._db.executemany("INSERT OR IGNORE INTO request_keys (key, request_id)"
                                 " VALUES (?, ?)", ((k, request_id) for k in keys))
        elif isinstance(event, Request.Erased):
            request_id = str(event.originator_id)
            self._db.execute("DELETE FROM request_keys WHERE request_id = ?", (request_id,))
            self._db.execute("DELETE FROM requests WHERE id = ?", (request_id,))


def _e164(text: str) -> str | None:
    if not any(c.isdigit() for c in text):
        return None
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
