"""Staff search of requests by the customer's email, phone or name — without those in
clear: a blind index of the keyed hashes intake computes at receipt (``contact_hashes`` of
``Request.Received``: email, E.164 phone, the name's diacritics-free tokens; see
``application.personal_data``). A query is hashed with the same key and looked up.

In memory, following intake's log (read-your-writes, like ``views``). An erased request
(``Request.Erased``) leaves the index at once, and is never indexed again on a rebuild.
Requests stored before the name hashes existed are found by email and phone only.
"""

from __future__ import annotations

import heapq
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import phonenumbers

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import Request
from hotro.shared.eventstore.follower import LogFollower

#: the most matches one search returns (newest first): a queue page's filter, not an export
MAX_MATCHES = 200


@dataclass(frozen=True)
class Indexed:
    seq: int  # receipt order: newest first in results
    reference: str
    keys: tuple[str, ...]


class SearchIndex:
    def __init__(self, app: IntakeApplication) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._requests: dict[uuid.UUID, Indexed] = {}
        self._by_key: dict[str, set[uuid.UUID]] = {}
        self._follower = LogFollower(app, self._apply)

    def search(self, text: str) -> list[dict[str, str]]:
        """Requests whose email or phone is ``text``, or whose name holds every token of
        ``text`` (any accents, case and order), newest first."""
        keys = self.query_keys(text)
        if not keys:
            return []
        with self._lock:
            self._follower.catch_up()
            sets = sorted((self._by_key.get(k, set()) for k in keys), key=len)
            found = set(sets[0]).intersection(*sets[1:]) if sets[0] else set()
            rows = [(self._requests[i].seq, i) for i in found]
            newest = heapq.nlargest(MAX_MATCHES, rows)
            return [{"id": str(i), "reference": self._requests[i].reference}
                    for _, i in newest]

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
            self._follower.catch_up()
            return len(self._requests)

    def _apply(self, event: Any) -> None:
        if isinstance(event, Request.Received):
            hashes = getattr(event, "contact_hashes", None) or {}
            keys = tuple(k for k in (hashes.get("email"), hashes.get("phone"),
                                     *(hashes.get("name") or "").split()) if k)
            self._requests[event.originator_id] = Indexed(
                self._follower.position + 1, event.reference, keys)
            for key in keys:
                self._by_key.setdefault(key, set()).add(event.originator_id)
        elif isinstance(event, Request.Erased):
            self._forget(event.originator_id)

    def _forget(self, request_id: uuid.UUID) -> None:
        indexed = self._requests.pop(request_id, None)
        for key in indexed.keys if indexed else ():
            holders = self._by_key.get(key)
            if holders is not None:
                holders.discard(request_id)
                if not holders:
                    del self._by_key[key]


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
