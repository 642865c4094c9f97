"""Intake's aggregates: a received request, its human reference, idempotency keys.

Pure: no I/O, no clock (times are passed in)."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.contracts.envelope import HOTRO_NAMESPACE

REFERENCE_PREFIX = {"complaint": "KN", "advice": "TV"}


class Request(Aggregate):
    """One customer request (complaint or advice) as it was received, plus later info."""

    @event("Received", topic="hotro.intake:Request.Received")
    def __init__(self, *, id: uuid.UUID, reference: str, kind: str, channel: str,
                 customer: dict[str, Any],
                 details: dict[str, Any], received_at: str, filed_late: bool,
                 filing_deadline: str | None, trace: dict[str, str | None]) -> None:
        self.reference = reference
        self.kind = kind
        self.channel = channel
        self.customer = customer
        self.details = details
        self.received_at = received_at
        self.filed_late = filed_late
        self.filing_deadline = filing_deadline
        self.trace = trace
        self.info: list[dict[str, Any]] = []
        self.message_ids: list[str] = []

    @event("InfoProvided", topic="hotro.intake:Request.InfoProvided")
    def provide_info(self, *, reference: str, channel: str, content: str, items: list[str],
                     attachments: list[dict[str, Any]], inbound_message_id: str | None,
                     trace: dict[str, str | None]) -> None:
        self.info.append({"channel": channel, "content": content, "items": items,
                          "attachments": attachments})

    @event("OutboundMessageLinked", topic="hotro.intake:Request.OutboundMessageLinked")
    def link_outbound_message(self, *, message_id: str, trace: dict[str, str | None]) -> None:
        """Remember a Message-ID we sent about this request, so replies thread back."""
        self.message_ids.append(message_id)

    def has_outbound_message(self, message_id: str) -> bool:
        return message_id in self.message_ids


class ReferenceCounter(Aggregate):
    """Allocates KN-YYYY-nnnnnn / TV-YYYY-nnnnnn. Saved with the request in one
    transaction, so a reference is never skipped twice nor given twice."""

    @staticmethod
    def create_id(prefix: str, year: int) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/reference-counter/{prefix}/{year}")

    @event("Started", topic="hotro.intake:ReferenceCounter.Started")
    def __init__(self, *, prefix: str, year: int, trace: dict[str, str | None]) -> None:
        self.prefix = prefix
        self.year = year
        self.last = 0
        self.trace = trace

    @event("Allocated", topic="hotro.intake:ReferenceCounter.Allocated")
    def allocate(self, *, trace: dict[str, str | None]) -> None:
        self.last += 1

    def current(self) -> str:
        return f"{self.prefix}-{self.year}-{self.last:06d}"


class ReferenceIndex(Aggregate):
    """reference -> request id (its id is derived from the reference)."""

    @staticmethod
    def create_id(reference: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/reference/{reference.upper()}")

    @event("Indexed", topic="hotro.intake:ReferenceIndex.Indexed")
    def __init__(self, *, reference: str, request_id: uuid.UUID,
                 trace: dict[str, str | None]) -> None:
        self.reference = reference
        self.request_id = request_id
        self.trace = trace


class MessageIndex(Aggregate):
    """An email Message-ID -> the request it belongs to (inbound dedupe and threading)."""

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


def request_id_for_idempotency_key(key: str) -> uuid.UUID:
    return uuid.uuid5(HOTRO_NAMESPACE, f"intake/idempotency/{key}")
