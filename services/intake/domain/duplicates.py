"""Possible duplicates across channels: the same customer (a keyed hash of their email or
phone, never the value) about the same product or order within a window.

The index of a customer's requests and what they are about (product code; the order
number as a keyed hash) is in memory (``application/duplicate_index.py``; the stored
``CustomerIndex`` of earlier versions is no longer written). ``possible_duplicates`` is the
pure rule; the link itself is an event on the new request (``Request``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from hotro.services.intake.domain.incident_date import MAX_SCAN, fold
from hotro.shared.contracts.envelope import HOTRO_NAMESPACE

# "mã đơn hàng: DH-2026-1234", "đơn hàng số 123456", "hóa đơn #HD0099", "order no. A1234"
# over folded text; the number must hold a digit (a word after "đơn hàng" is not one).
_ORDER = re.compile(
    r"\b(?:don hang|hoa don|order)(?: (?:so|ma|no\.?|number|#))? ?[:#]? ?"
    r"([a-z0-9][a-z0-9-]{3,31})(?![a-z0-9-])")


class CustomerIndex(Aggregate):
    """A customer's contact hash -> the requests received with it in one ISO week (UTC).
    No longer written (the look-up is ``application/duplicate_index.py``, in memory); kept
    so that stores holding its events still load.

    One per week, so that a request loads only the weeks its window covers and no index
    grows without bound (a customer writing for years, a load test with one address)."""

    TOPIC = "hotro.intake:CustomerIndex"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:CustomerIndex.Created"

    @staticmethod
    def create_id(contact_hash: str, week: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/customer/{contact_hash}/{week}")

    @event("Started", topic="hotro.intake:CustomerIndex.Started")
    def __init__(self, *, contact_hash: str, week: str, trace: dict[str, str | None]) -> None:
        self.contact_hash = contact_hash
        self.week = week
        self.requests: list[dict[str, str | None]] = []

    @event("Linked", topic="hotro.intake:CustomerIndex.Linked")
    def link(self, *, request_id: str, reference: str, received_at: str,
             product: str | None, order_key: str | None,
             trace: dict[str, str | None]) -> None:
        self.requests.append({"request_id": request_id, "reference": reference,
                              "received_at": received_at, "product": product,
                              "order_key": order_key})


def week_of(at: datetime) -> str:
    """The ISO week (UTC) an instant falls in: ``2026-W47``."""
    year, week, _ = at.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def weeks_covering(received_at: datetime, window: timedelta) -> list[str]:
    """The weeks an index look-up reads: those of every day of the window, oldest first."""
    weeks: list[str] = []
    day = received_at - window
    while True:
        week = week_of(min(day, received_at))
        if week not in weeks:
            weeks.append(week)
        if day >= received_at:
            return weeks
        day += timedelta(days=1)


def normalise_order_ref(value: str) -> str:
    """What makes two spellings of one order number equal: letters and digits only, upper
    case ("dh-2026/1234" == "DH 2026 1234")."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


def find_order_ref(text: str) -> str | None:
    """The first order or invoice number the text names after "đơn hàng", "hóa đơn" or
    "order" (accents optional), as written; None if none holds a digit."""
    original = re.sub(r"\s+", " ", text[:MAX_SCAN])
    folded = fold(original)
    for match in _ORDER.finditer(folded):
        if any(ch.isdigit() for ch in match[1]):
            return original[match.start(1):match.end(1)].upper()
    return None


def possible_duplicates(indexes: Mapping[str, Iterable[Mapping[str, Any]]], *,
                        request_id: str, product: str | None, order_key: str | None,
                        received_at: datetime, window: timedelta) -> list[dict[str, Any]]:
    """The earlier requests of the same customer about the same product or order received
    within ``window`` before ``received_at``. ``indexes``: per contact kind ("email",
    "phone"), the entries of that contact's ``CustomerIndex``. Each request once, oldest
    first, with what matched (``matched_on``: product, order) and through which contact
    (``contact``: email, phone)."""
    found: dict[str, dict[str, Any]] = {}
    if window <= timedelta(0):  # switched off
        return []
    for contact, entries in indexes.items():
        for entry in entries:
            other = str(entry["request_id"])
            if other == request_id:
                continue
            at = datetime.fromisoformat(str(entry["received_at"]))
            if not timedelta(0) <= received_at - at <= window:
                continue
            matched = []
            if product and entry.get("product") == product:
                matched.append("product")
            if order_key and entry.get("order_key") == order_key:
                matched.append("order")
            if not matched:
                continue
            link = found.setdefault(other, {
                "request_id": other, "reference": str(entry["reference"]),
                "received_at": str(entry["received_at"]), "matched_on": [], "contact": []})
            link["matched_on"] = sorted({*link["matched_on"], *matched})
            link["contact"] = sorted({*link["contact"], contact})
    return sorted(found.values(), key=lambda link: str(link["received_at"]))
