"""Look-ups by what the outside world quotes back: an email Message-ID, a phone number."""

from __future__ import annotations

import uuid
from datetime import datetime

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE


class MessageIndex(Aggregate):
    """An email Message-ID -> the request it belongs to (inbound dedupe and threading)."""

    TOPIC = "hotro.intake:MessageIndex"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:MessageIndex.Created"

    @staticmethod
    def create_id(message_id: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/message-id/{message_id.strip().lower()}")

    @event("Indexed", topic="hotro.intake:MessageIndex.Indexed")
    def __init__(self, *, message_id: str, request_id: uuid.UUID | None, direction: str,
                 trace: dict[str, str | None]) -> None:
        self.message_id = message_id
        self.request_id = request_id
        self.direction = direction
        self.trace = trace


class PhoneIndex(Aggregate):
    """A phone number -> the requests received with it (hotline call linking).

    Keyed by the keyed hash (HMAC) of the E.164 number, never the number: ``create_id``
    and ``phone`` take that hash (``IntakeApplication.phone_key``)."""

    TOPIC = "hotro.intake:PhoneIndex"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:PhoneIndex.Created"

    @staticmethod
    def create_id(phone: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/phone/{phone}")

    @event("Started", topic="hotro.intake:PhoneIndex.Started")
    def __init__(self, *, phone: str, trace: dict[str, str | None]) -> None:
        self.phone = phone
        self.requests: list[dict[str, str]] = []

    @event("Linked", topic="hotro.intake:PhoneIndex.Linked")
    def link(self, request_id: str, reference: str, received_at: str,
             trace: dict[str, str | None], keep_since: str | None = None) -> None:
        """``keep_since``: forget requests received before it (the link window: calls link
        only to recent requests, and a number shared by many — a shop's switchboard, a
        made-up number typed into every form — must not make each receipt heavier).
        Events stored before it existed carry none and forget nothing."""
        self.requests.append({"request_id": request_id, "reference": reference,
                              "received_at": received_at})
        if keep_since is not None:
            since = datetime.fromisoformat(keep_since)
            self.requests = [r for r in self.requests
                             if datetime.fromisoformat(r["received_at"]) >= since]
