"""The customer index the possible-duplicate check consults at receipt: in memory,
following intake's own log (``Request.Received``, ``Request.Erased``), like the staff
search (``search.py``). It replaced the stored per-week ``CustomerIndex`` aggregates,
which cost every receive up to four loads and two writes.

Only keyed hashes are held (contact hashes, the order number's hash) with the reference,
product and time. Bounded by the window: an entry older than the newest receipt minus the
window is dropped. Advisory, not a constraint: two requests of one customer received at
the same moment (another replica, or a concurrent receive here) may not see each other —
staff still see both (docs/architecture.md, "Possible duplicates").
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hotro.services.intake.domain import Request
from hotro.shared.eventstore.application import ServiceApplication

#: the contact hashes a customer is recognised by across channels
CONTACTS = ("email", "phone")

# What the index reads; the rest of the log is never decoded. The module-path prefix is
# the layout before topics were pinned (``shared.eventstore.topics``).
_TOPICS = tuple(f"{prefix}:Request.{name}"
                for prefix in ("hotro.intake", "services.intake.domain")
                for name in ("Received", "Erased"))


@dataclass(frozen=True)
class Entry:
    request_id: str
    reference: str
    received_at: datetime
    product: str | None
    order_key: str | None
    contacts: tuple[tuple[str, str], ...]  # (kind, hash)

    def as_dict(self) -> dict[str, str | None]:
        """The shape ``domain.duplicates.possible_duplicates`` reads."""
        return {"request_id": self.request_id, "reference": self.reference,
                "received_at": self.received_at.isoformat(), "product": self.product,
                "order_key": self.order_key}


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
        self._entries: dict[str, Entry] = {}
        self._by_contact: dict[str, dict[str, Entry]] = {}
        self._by_age: deque[Entry] = deque()  # log order ≈ receipt order
        self._newest: datetime | None = None

    def entries(self, contact_hashes: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        """Per contact kind ("email", "phone") of ``contact_hashes``: the requests
        received with that hash within the window, as of the log now."""
        with self._lock:
            self._catch_up()
            return {kind: [e.as_dict() for e in self._by_contact.get(value, {}).values()]
                    for kind, value in contact_hashes.items() if kind in CONTACTS and value}

    def size(self) -> int:
        with self._lock:
            self._catch_up()
            return len(self._entries)

    def _catch_up(self) -> None:
        while True:  # one query per receive when the log moved less than a page
            notes = self.app.recorder.select_notifications(
                start=self.position, limit=self.page, topics=_TOPICS,
                inclusive_of_start=False)
            for note in notes:
                self._apply(self.app.mapper.to_domain_event(note))
                self.position = note.id
            if len(notes) < self.page:
                break
        self._prune()

    def _apply(self, event: Any) -> None:
        if isinstance(event, Request.Erased):
            self._forget(str(event.originator_id))
        elif isinstance(event, Request.Received):
            details = event.details or {}
            product = details.get("product")
            order_key = self.order_key(details.get("order_ref")
                                       or details.get("order_ref_in_text"))
            hashes = getattr(event, "contact_hashes", None) or {}
            contacts = tuple((kind, hashes[kind]) for kind in CONTACTS if hashes.get(kind))
            if not contacts or (product is None and order_key is None):
                return  # nothing another request could be linked to it by
            entry = Entry(str(event.originator_id), event.reference,
                          datetime.fromisoformat(event.received_at), product, order_key,
                          contacts)
            self._forget(entry.request_id)
            self._entries[entry.request_id] = entry
            for _, value in contacts:
                self._by_contact.setdefault(value, {})[entry.request_id] = entry
            self._by_age.append(entry)
            if self._newest is None or entry.received_at > self._newest:
                self._newest = entry.received_at

    def _prune(self) -> None:
        if self._newest is None:
            return
        horizon = self._newest - self.window
        while self._by_age and self._by_age[0].received_at < horizon:
            entry = self._by_age.popleft()
            if self._entries.get(entry.request_id) is entry:
                self._forget(entry.request_id)

    def _forget(self, request_id: str) -> None:
        entry = self._entries.pop(request_id, None)
        for _, value in entry.contacts if entry else ():
            holders = self._by_contact.get(value)
            if holders is not None:
                holders.pop(request_id, None)
                if not holders:
                    del self._by_contact[value]
