"""Notify's aggregates: the customer's contact (personal data, one place) and one
Dispatch per (complaint, purpose, cause) — the recorded intent to send, then its proof.
Pure: no I/O; times are passed in."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.contracts.envelope import HOTRO_NAMESPACE

SENDABLE = ("email", "sms", "letter", "receipt_slip")  # notify sends these itself
STAFF_TASK = ("phone", "in_person")     # a staff member does it and records the outcome


class DispatchError(Exception):
    pass


class Contact(Aggregate):
    @staticmethod
    def create_id(complaint_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"notify/contact/{complaint_id}")

    @event("Recorded", topic="hotro.notify:Contact.Recorded")
    def __init__(self, *, complaint_id: uuid.UUID, reference: str, channel: str,
                 customer: dict[str, Any], language: str, inbound_message_id: str | None,
                 received_at: str, incident_date: str | None, product: str | None,
                 trace: dict[str, str | None]) -> None:
        self.complaint_id = complaint_id
        self.reference = reference
        self.channel = channel
        self.customer = customer
        self.language = language
        self.inbound_message_id = inbound_message_id
        self.received_at = received_at
        self.incident_date = incident_date
        self.product = product
        self.trace = trace
        self.last_message_id: str | None = inbound_message_id

    @event("ThreadAdvanced", topic="hotro.notify:Contact.ThreadAdvanced")
    def thread(self, *, message_id: str, trace: dict[str, str | None]) -> None:
        self.last_message_id = message_id


class Dispatch(Aggregate):
    @staticmethod
    def create_id(complaint_id: uuid.UUID, purpose: str, cause: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"notify/dispatch/{complaint_id}/{purpose}/{cause}")

    @event("Requested", topic="hotro.notify:Dispatch.Requested")
    def __init__(self, *, id: uuid.UUID, complaint_id: uuid.UUID,
                 reference: str, purpose: str, method: str,
                 recipient: str, language: str, context: dict[str, Any],
                 message_id: str | None, in_reply_to: str | None, internal: bool,
                 trace: dict[str, str | None]) -> None:
        self.complaint_id = complaint_id
        self.reference = reference
        self.purpose = purpose
        self.method = method
        self.recipient = recipient
        self.language = language
        self.context = context
        self.message_id = message_id
        self.in_reply_to = in_reply_to
        self.internal = internal
        self.trace = trace
        self.status = "task_open" if method in STAFF_TASK else "pending"
        self.attempts = 0
        self.proof: str | None = None
        self.sent_at: str | None = None
        self.recorded_by: str | None = None
        self.last_error: str | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    @event("AttemptFailed", topic="hotro.notify:Dispatch.AttemptFailed")
    def _attempt_failed(self, *, reason: str, trace: dict[str, str | None]) -> None:
        self.attempts += 1
        self.last_error = reason

    def attempt_failed(self, *, reason: str, trace: dict[str, str | None]) -> None:
        if not self.is_pending:
            raise DispatchError(f"dispatch is {self.status}")
        self._attempt_failed(reason=reason, trace=trace)

    @event("Sent", topic="hotro.notify:Dispatch.Sent")
    def _sent(self, *, proof: str, sent_at: str, recorded_by: str | None,
              summary: str | None, trace: dict[str, str | None]) -> None:
        self.status = "sent"
        self.proof = proof
        self.sent_at = sent_at
        self.recorded_by = recorded_by
        self.attempts += 1

    def mark_sent(self, *, proof: str, sent_at: str, trace: dict[str, str | None]) -> None:
        if self.status != "pending":
            raise DispatchError(f"dispatch is {self.status}")
        self._sent(proof=proof, sent_at=sent_at, recorded_by=None, summary=None, trace=trace)

    def record_outcome(self, *, staff_id: str, at: str, summary: str, proof: str,
                       trace: dict[str, str | None]) -> None:
        """Phone and in-person replies: the staff member who did it records it."""
        if self.status != "task_open":
            raise DispatchError(f"no open task: dispatch is {self.status}")
        self._sent(proof=proof, sent_at=at, recorded_by=staff_id, summary=summary, trace=trace)

    @event("Failed", topic="hotro.notify:Dispatch.Failed")
    def _failed(self, *, reason: str, trace: dict[str, str | None]) -> None:
        self.status = "failed"
        self.last_error = reason

    def fail(self, *, reason: str, trace: dict[str, str | None]) -> None:
        if self.status not in ("pending", "task_open"):
            raise DispatchError(f"dispatch is {self.status}")
        self._failed(reason=reason, trace=trace)

    def log_entry(self) -> dict[str, Any]:
        return {"id": str(self.id), "reference": self.reference, "purpose": self.purpose,
                "method": self.method, "to": self.recipient, "status": self.status,
                "attempts": self.attempts, "proof": self.proof, "sent_at": self.sent_at,
                "recorded_by": self.recorded_by, "message_id": self.message_id,
                "last_error": self.last_error, "internal": self.internal}
