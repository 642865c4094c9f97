"""Intake's aggregates: a received request, its human reference, idempotency keys.

Pure: no I/O, no clock (times are passed in)."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE
from hotro.shared.eventstore.topics import register_topics

REFERENCE_PREFIX = {"complaint": "KN", "advice": "TV"}


class Request(Aggregate):
    """One customer request (complaint or advice) as it was received, plus later info.

    Personal data: ``customer`` is the contact sealed with the complaint's data key
    (``shared.privacy``; a plain dict only in events stored before sealing);
    ``contact_hashes`` holds keyed hashes (HMAC) of the email and E.164 phone for
    equality checks (threading by sender) without the data itself."""

    TOPIC = "hotro.intake:Request"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:Request.Created"

    @event("Received", topic="hotro.intake:Request.Received")
    def __init__(self, *, id: uuid.UUID, reference: str, kind: str, channel: str,
                 customer: dict[str, Any],
                 details: dict[str, Any], received_at: str, filed_late: bool,
                 filing_deadline: str | None, trace: dict[str, str | None],
                 contact_hashes: dict[str, str] | None = None) -> None:
        self.reference = reference
        self.kind = kind
        self.channel = channel
        self.customer = customer
        self.contact_hashes = contact_hashes or {}
        self.details = details
        self.received_at = received_at
        self.filed_late = filed_late
        self.filing_deadline = filing_deadline
        self.trace = trace
        self.info: list[dict[str, Any]] = []
        self.message_ids: list[str] = []
        self.bounces: list[dict[str, str]] = []
        self.calls: list[dict[str, Any]] = []
        self.closed = False
        self.erased = False

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

    @event("DeliveryBounced", topic="hotro.intake:Request.DeliveryBounced")
    def record_bounce(self, *, reference: str, message_id: str, reason: str,
                      bounce_message_id: str, trace: dict[str, str | None]) -> None:
        """A bounce of one of our own emails about this request came back."""
        self.bounces.append({"message_id": message_id, "reason": reason,
                             "bounce_message_id": bounce_message_id})

    def link_call(self, *, call_id: str, caller: Any, at: str | None,
                  trace: dict[str, str | None]) -> None:
        """``caller``: the number sealed with the request's data key."""
        if any(c["call_id"] == call_id for c in self.calls):
            raise ValueError(f"call {call_id} is already linked to {self.reference}")
        self._link_call(call_id=call_id, caller=caller, at=at, trace=trace)

    @event("CallLinked", topic="hotro.intake:Request.CallLinked")
    def _link_call(self, *, call_id: str, caller: Any, at: str | None,
                   trace: dict[str, str | None]) -> None:
        self.calls.append({"call_id": call_id, "caller": caller, "at": at})

    @event("Closed", topic="hotro.intake:Request.Closed")
    def mark_closed(self, *, reason: str, trace: dict[str, str | None]) -> None:
        """Routing closed or refused it: a hotline call no longer links here."""
        self.closed = True

    @event("Reopened", topic="hotro.intake:Request.Reopened")
    def mark_reopened(self, *, reason: str, trace: dict[str, str | None]) -> None:
        self.closed = False

    @event("Erased", topic="hotro.intake:Request.Erased")
    def record_erasure(self, *, reason: str, requested_by: str, fields: list[str],
                       trace: dict[str, str | None]) -> None:
        """The customer's personal data was erased (its data key destroyed): who and why
        stay in the history; the sealed data itself becomes unreadable everywhere."""
        self.erased = True


class ReferenceCounter(Aggregate):
    """Allocates KN-YYYY-nnnnnn / TV-YYYY-nnnnnn. Saved with the request in one
    transaction, so a reference is never skipped twice nor given twice."""

    TOPIC = "hotro.intake:ReferenceCounter"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:ReferenceCounter.Created"

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

    TOPIC = "hotro.intake:ReferenceIndex"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:ReferenceIndex.Created"

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
    def link(self, *, request_id: str, reference: str, received_at: str,
             trace: dict[str, str | None]) -> None:
        self.requests.append({"request_id": request_id, "reference": reference,
                              "received_at": received_at})


class HotlineCall(Aggregate):
    """A call reported by the call-centre software: linked to an open request, or a draft
    the agent turns into a request (or not). ``caller`` is sealed with the call's own
    data key (``key_id``), which erasing the request it belongs to destroys too."""

    TOPIC = "hotro.intake:HotlineCall"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:HotlineCall.Created"

    @staticmethod
    def create_id(call_id: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/hotline-call/{call_id}")

    @staticmethod
    def key_id(call_id: str) -> str:
        return f"call-{HotlineCall.create_id(call_id)}"

    @event("Started", topic="hotro.intake:HotlineCall.Started")
    def __init__(self, *, call_id: str, caller: Any, caller_raw: Any, started_at: str | None,
                 linked_request_id: str | None, linked_reference: str | None,
                 trace: dict[str, str | None]) -> None:
        self.call_id = call_id
        self.caller = caller
        self.caller_raw = caller_raw
        self.started_at = started_at
        self.linked_request_id = linked_request_id
        self.linked_reference = linked_reference
        self.ended_at: str | None = None
        self.recording_ref: str | None = None
        self.converted_request_id: str | None = None
        self.converted_reference: str | None = None

    @property
    def is_draft(self) -> bool:
        return self.linked_request_id is None and self.converted_request_id is None

    @event("Ended", topic="hotro.intake:HotlineCall.Ended")
    def end(self, *, ended_at: str | None, recording_ref: str | None,
            trace: dict[str, str | None]) -> None:
        self.ended_at = ended_at
        self.recording_ref = recording_ref

    def convert(self, *, request_id: str, reference: str, trace: dict[str, str | None]) -> None:
        if not self.is_draft:
            raise ValueError(f"call {self.call_id} is not a draft any more")
        self._convert(request_id=request_id, reference=reference, trace=trace)

    @event("Converted", topic="hotro.intake:HotlineCall.Converted")
    def _convert(self, *, request_id: str, reference: str,
                 trace: dict[str, str | None]) -> None:
        self.converted_request_id = request_id
        self.converted_reference = reference


class MailRecord(Aggregate):
    """Inbound mail that became no request: ignored (auto-reply, list, unknown bounce),
    quarantined (raw kept for a human) or refused at SMTP time. Staff can see each.
    The sender (``envelope_from``, ``from_address``) is sealed with the record's own data
    key (``key_id``): it belongs to no complaint."""

    TOPIC = "hotro.intake:MailRecord"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:MailRecord.Created"

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


def request_id_for_idempotency_key(key: str) -> uuid.UUID:
    return uuid.uuid5(HOTRO_NAMESPACE, f"intake/idempotency/{key}")


register_topics(Request, ReferenceCounter, ReferenceIndex, MessageIndex, PhoneIndex, HotlineCall,
                MailRecord, legacy_module="services.intake.domain")
