"""Inbound mail that became no request."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE


class MailRecord(Aggregate):
    """Inbound mail that became no request: ignored (auto-reply, list, unknown bounce),
    quarantined (raw kept for a human) or refused at SMTP time. Staff can see each.
    The sender (``envelope_from``, ``from_address``) is sealed with the record's own data
    key (``key_id``): it belongs to no complaint."""

    TOPIC = "hotro.intake:MailRecord"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:MailRecord.Created"

    if TYPE_CHECKING:  # the class @event makes at run time, as typed code reads it
        class Recorded(Aggregate.Created):
            outcome: str
            reason_code: str
            reason_text: str
            raw_sha256: str
            message_id: str | None
            envelope_from: Any
            from_address: Any
            subject: str | None
            size: int
            received_at: str

    @staticmethod
    def key_id(raw_sha256: str) -> str:
        return f"mail-{raw_sha256[:40]}"

    @staticmethod
    def create_id(outcome: str, raw_sha256: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/mail/{outcome}/{raw_sha256}")

    @event("Recorded", topic="hotro.intake:MailRecord.Recorded")
    def __init__(self, *, outcome: str, reason_code: str, reason_text: str, raw_sha256: str,
                 message_id: str | None, envelope_from: Any, from_address: Any,
                 subject: str | None, size: int, received_at: str,
                 trace: dict[str, str | None]) -> None:
        self.outcome = outcome
        self.reason_code = reason_code
        self.reason_text = reason_text
        self.raw_sha256 = raw_sha256
        self.message_id = message_id
        self.envelope_from = envelope_from
        self.from_address = from_address
        self.subject = subject
        self.size = size
        self.received_at = received_at
