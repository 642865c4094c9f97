"""Notify's aggregates: the customer's contact (personal data, one place) and one
Dispatch per (complaint, purpose, cause) — the recorded intent to send, then its proof.
Pure: no I/O; times are passed in as ISO strings.

Dispatch life cycle::

    pending ──AttemptFailed──▶ pending ──Sent──▶ sent ──Bounced──▶ bounced
       │  └──Failed──▶ failed                                 (email only)
       └──LetterPrinted──▶ awaiting_post ──Sent (tracking number)──▶ sent
    task_open ──Sent (staff outcome: phone / in person)──▶ sent
       └──Failed──▶ failed

A letter counts as sent only once it is posted: the PDF is printed first, and a staff
member records the postal tracking number, which becomes the proof.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE
from hotro.shared.eventstore.topics import register_topics

SENDABLE = ("email", "sms", "letter", "receipt_slip")  # notify sends these itself
STAFF_TASK = ("phone", "in_person")     # a staff member does it and records the outcome
POSTED = ("letter",)                    # printed by notify, posted by staff


class DispatchError(Exception):
    pass


class Contact(Aggregate):
    TOPIC = "hotro.notify:Contact"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.notify:Contact.Created"

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
        self.open_items: list[str] = []
        self.info_due: str | None = None
        #: the staff member handling the case (who last moved it on), for internal alerts
        self.owner: str | None = None

    @event("ThreadAdvanced", topic="hotro.notify:Contact.ThreadAdvanced")
    def thread(self, *, message_id: str, trace: dict[str, str | None]) -> None:
        self.last_message_id = message_id

    @event("InfoRequestNoted", topic="hotro.notify:Contact.InfoRequestNoted")
    def note_info_request(self, *, items: list[str], due_date: str,
                          trace: dict[str, str | None]) -> None:
        """What the customer was last asked for: the content of a later reminder."""
        self.open_items = list(items)
        self.info_due = due_date

    @event("OwnerNoted", topic="hotro.notify:Contact.OwnerNoted")
    def note_owner(self, *, staff_id: str, trace: dict[str, str | None]) -> None:
        """The staff member who last acted on the case in routing: deadline alerts go to
        them (and to the supervisor)."""
        self.owner = staff_id


class Dispatch(Aggregate):
    TOPIC = "hotro.notify:Dispatch"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.notify:Dispatch.Created"

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
        self.summary: str | None = None
        self.letter_file: str | None = None
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
        if self.status == "pending":
            self.attempts += 1
        self.status = "sent"
        self.proof = proof
        self.sent_at = sent_at
        self.recorded_by = recorded_by
        self.summary = summary

    def mark_sent(self, *, proof: str, sent_at: str, trace: dict[str, str | None]) -> None:
        if self.status != "pending":
            raise DispatchError(f"dispatch is {self.status}")
        if self.method in POSTED:
            raise DispatchError("a letter is sent when it is posted: record the tracking number")
        self._sent(proof=proof, sent_at=sent_at, recorded_by=None, summary=None, trace=trace)

    @event("LetterPrinted", topic="hotro.notify:Dispatch.LetterPrinted")
    def _letter_printed(self, *, file: str, at: str, trace: dict[str, str | None]) -> None:
        self.status = "awaiting_post"
        self.letter_file = file
        self.attempts += 1

    def letter_printed(self, *, file: str, at: str, trace: dict[str, str | None]) -> None:
        if self.status != "pending" or self.method not in POSTED:
            raise DispatchError(f"cannot print a {self.method} dispatch that is {self.status}")
        self._letter_printed(file=file, at=at, trace=trace)

    def record_posting(self, *, tracking_number: str, carrier: str | None, staff_id: str,
                       at: str, trace: dict[str, str | None]) -> None:
        """Staff posted the printed letter: its tracking number is the proof of delivery."""
        if self.method not in POSTED:
            raise DispatchError(f"a {self.method} dispatch has no postal tracking number")
        if self.status != "awaiting_post":
            raise DispatchError(f"letter is {self.status}, not awaiting post")
        number = tracking_number.strip()
        if not number:
            raise DispatchError("empty tracking number")
        proof = f"post:{carrier.strip()}:{number}" if carrier and carrier.strip() \
            else f"post:{number}"
        self._sent(proof=proof, sent_at=at, recorded_by=staff_id,
                   summary=f"posted, tracking number {number}", trace=trace)

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
        if self.status not in ("pending", "task_open", "awaiting_post"):
            raise DispatchError(f"dispatch is {self.status}")
        self._failed(reason=reason, trace=trace)

    @event("Bounced", topic="hotro.notify:Dispatch.Bounced")
    def _bounced(self, *, reason: str, at: str, trace: dict[str, str | None]) -> None:
        self.status = "bounced"
        self.last_error = reason

    def bounce(self, *, reason: str, at: str, trace: dict[str, str | None]) -> None:
        """The recipient's mail server sent our email back after accepting it."""
        if self.method != "email" or self.status != "sent":
            raise DispatchError(f"cannot bounce a {self.method} dispatch that is {self.status}")
        self._bounced(reason=reason, at=at, trace=trace)


register_topics(Contact, Dispatch, legacy_module="services.notify.domain")
