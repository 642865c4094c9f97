"""Intake's service layer: accept requests from any channel, exactly once each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from services.intake.domain import (
    REFERENCE_PREFIX,
    MessageIndex,
    ReferenceCounter,
    ReferenceIndex,
    Request,
    request_id_for_idempotency_key,
)
from shared.contracts import events as wire
from shared.contracts.envelope import Envelope
from shared.contracts.topology import subscriptions_of
from shared.eventstore.application import Handler, ServiceApplication, WireEvent

#: (kind, product, incident_date, received_at) -> (filing deadline, filed late?)
FilingCheck = Callable[[str, str | None, date | None, datetime], tuple[date | None, bool]]


class RequestNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Accepted:
    request_id: uuid.UUID
    reference: str
    filed_late: bool
    filing_deadline: date | None
    created: bool


@dataclass(frozen=True)
class NewRequest:
    kind: str
    channel: str
    customer: dict[str, Any]
    description: str
    product: str | None = None
    category: str | None = None
    incident_date: date | None = None
    order_ref: str | None = None
    taken_by: str | None = None
    language: str = "vi"
    attachments: tuple[dict[str, Any], ...] = ()
    inbound_message_id: str | None = None


class IntakeApplication(ServiceApplication):
    name: ClassVar[str] = "intake"
    subscriptions: ClassVar[dict[str, tuple[str, ...]]] = subscriptions_of("intake")

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 filing_check: FilingCheck | None = None) -> None:
        super().__init__(env, clock)
        self.filing_check = filing_check or (lambda *_: (None, False))

    # ---- commands ----------------------------------------------------------------------

    def receive(self, new: NewRequest, trace: dict[str, str | None],
                idempotency_key: str | None = None, retries: int = 20) -> Accepted:
        request_id = (
            request_id_for_idempotency_key(idempotency_key) if idempotency_key else uuid.uuid4()
        )
        for _ in range(retries):
            existing = self._existing(request_id)
            if existing is not None:
                return existing
            try:
                return self._receive_once(request_id, new, trace)
            except IntegrityError:
                continue  # a concurrent allocation of the same counter: take the next one
        raise RuntimeError("could not allocate a reference (too much contention)")

    def _receive_once(self, request_id: uuid.UUID, new: NewRequest,
                      trace: dict[str, str | None]) -> Accepted:
        now = self.clock()
        prefix = REFERENCE_PREFIX[new.kind]
        counter = self._counter(prefix, now.year, trace)
        counter.allocate(trace=trace)
        reference = counter.current()
        deadline, late = (None, False)
        if new.kind == "complaint":
            deadline, late = self.filing_check(new.kind, new.product, new.incident_date, now)
        request = Request(
            id=request_id, reference=reference, kind=new.kind, channel=new.channel,
            customer=dict(new.customer),
            details={
                "product": new.product, "category": new.category,
                "incident_date": new.incident_date.isoformat() if new.incident_date else None,
                "description": new.description, "order_ref": new.order_ref,
                "taken_by": new.taken_by, "language": new.language,
                "attachments": list(new.attachments),
                "inbound_message_id": new.inbound_message_id,
            },
            received_at=now.isoformat(), filed_late=late,
            filing_deadline=deadline.isoformat() if deadline else None, trace=trace,
        )
        index = ReferenceIndex(reference=reference, request_id=request_id, trace=trace)
        aggregates: list[Any] = [counter, request, index]
        if new.inbound_message_id:
            aggregates.append(MessageIndex(message_id=new.inbound_message_id,
                                           request_id=request_id, direction="in", trace=trace))
        self.save(*aggregates)
        return Accepted(request_id, reference, late, deadline, created=True)

    def provide_info(self, request_id: uuid.UUID, *, channel: str, content: str,
                     items: list[str], trace: dict[str, str | None],
                     attachments: list[dict[str, Any]] | None = None,
                     inbound_message_id: str | None = None) -> None:
        request = self.get_request(request_id)
        request.provide_info(reference=request.reference, channel=channel, content=content,
                             items=items, attachments=attachments or [],
                             inbound_message_id=inbound_message_id, trace=trace)
        aggregates: list[Any] = [request]
        if inbound_message_id:
            aggregates.append(MessageIndex(message_id=inbound_message_id,
                                           request_id=request_id, direction="in", trace=trace))
        self.save(*aggregates)

    # ---- queries -----------------------------------------------------------------------

    def get_request(self, request_id: uuid.UUID) -> Request:
        try:
            request: Request = self.repository.get(request_id)
        except AggregateNotFoundError:
            raise RequestNotFound(str(request_id)) from None
        return request

    def find(self, id_or_reference: str) -> Request:
        try:
            return self.get_request(uuid.UUID(id_or_reference))
        except ValueError:
            pass
        try:
            index: ReferenceIndex = self.repository.get(ReferenceIndex.create_id(id_or_reference))
        except AggregateNotFoundError:
            raise RequestNotFound(id_or_reference) from None
        return self.get_request(index.request_id)

    def request_for_message(self, message_id: str) -> uuid.UUID | None:
        try:
            index: MessageIndex = self.repository.get(MessageIndex.create_id(message_id))
        except AggregateNotFoundError:
            return None
        return index.request_id

    # ---- upstream events ---------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {
            "AcknowledgementSent": self._on_message_sent,
            "ReplySent": self._on_message_sent,
        }

    def _on_message_sent(self, envelope: Envelope, payload: Any,
                         processing: ProcessingEvent[uuid.UUID]) -> None:
        """Remember the Message-IDs we sent, so a customer's reply threads back."""
        if payload.method != "email" or not payload.proof:
            return
        trace = self.reaction_trace(envelope, "intake")
        try:
            self.repository.get(MessageIndex.create_id(payload.proof))
            return
        except AggregateNotFoundError:
            pass
        processing.collect_events(MessageIndex(message_id=payload.proof,
                                               request_id=envelope.complaint_id,
                                               direction="out", trace=trace))

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        if isinstance(domain_event, Request.Received):
            d = domain_event.details
            return WireEvent(domain_event.originator_id, wire.ComplaintReceived(
                reference=domain_event.reference, kind=domain_event.kind,
                channel=domain_event.channel,
                customer=wire.CustomerContact(**domain_event.customer),
                product=d.get("product"), category=d.get("category"),
                incident_date=d.get("incident_date"),
                received_at=domain_event.received_at, description=d["description"],
                order_ref=d.get("order_ref"), attachments=tuple(d.get("attachments") or ()),
                taken_by=d.get("taken_by"), filed_late=domain_event.filed_late,
                filing_deadline=domain_event.filing_deadline,
                language=d.get("language") or "vi",
                inbound_message_id=d.get("inbound_message_id"),
            ))
        if isinstance(domain_event, Request.InfoProvided):
            return WireEvent(domain_event.originator_id, wire.InfoProvided(
                reference=domain_event.reference, channel=domain_event.channel,
                content=domain_event.content,
                items=tuple(domain_event.items), attachments=tuple(domain_event.attachments),
                inbound_message_id=domain_event.inbound_message_id,
            ))
        return None

    # ---- helpers -----------------------------------------------------------------------

    def _existing(self, request_id: uuid.UUID) -> Accepted | None:
        try:
            request = self.get_request(request_id)
        except RequestNotFound:
            return None
        deadline = (date.fromisoformat(request.filing_deadline)
                    if request.filing_deadline else None)
        return Accepted(request.id, request.reference, request.filed_late, deadline,
                        created=False)

    def _counter(self, prefix: str, year: int,
                 trace: dict[str, str | None]) -> ReferenceCounter:
        try:
            counter: ReferenceCounter = self.repository.get(
                ReferenceCounter.create_id(prefix, year))
        except AggregateNotFoundError:
            counter = ReferenceCounter(prefix=prefix, year=year, trace=trace)
        return counter

