"""Intake's service layer: accept requests from any channel, exactly once each."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from hotro.services.intake.domain import (
    REFERENCE_PREFIX,
    HotlineCall,
    MailRecord,
    MessageIndex,
    PhoneIndex,
    ReferenceCounter,
    ReferenceIndex,
    Request,
    request_id_for_idempotency_key,
)
from hotro.services.intake.filing import FilingCheck
from hotro.services.intake.reference_data import ChannelRules
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.application import ServiceApplication, WireEvent, handles
from hotro.shared.privacy.pending import FallbackKeyRing, pending_keys_for
from hotro.shared.privacy.sealing import (
    ERASED,
    KeyRing,
    is_sealed,
    keyed_hash,
    process_keyring,
    reveal,
    seal_with,
)
from hotro.shared.privacy.secrets import ephemeral_hash_secret

__all__ = ["Accepted", "CallNotDraft", "FilingCheck", "IntakeApplication", "NewRequest",
           "RequestNotFound", "UnknownCall"]


class RequestNotFound(LookupError):
    pass


class UnknownCall(LookupError):
    pass


class CallNotDraft(ValueError):
    pass


@dataclass(frozen=True)
class Accepted:
    request_id: uuid.UUID
    reference: str
    filed_late: bool
    filing_deadline: date | None
    created: bool
    channel_rule: dict[str, str] | None = None


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
    hotline_call_id: str | None = None


class IntakeApplication(ServiceApplication):
    name = "intake"
    #: The yearly reference counter gains an event per request: without snapshots every
    #: allocation would replay the whole year (quadratic). Snapshots live beside the
    #: events, outside the notification log, so the audit trail is unchanged.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {ReferenceCounter: 100}
    wire_from_event_alone = True  # outside input: nothing unpublishable enters the store

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 filing_check: FilingCheck | None = None,
                 channel_rules: ChannelRules | None = None,
                 link_window: timedelta = timedelta(days=60),
                 keyring: KeyRing | None = None, hash_secret: bytes | None = None) -> None:
        super().__init__(env, clock)
        #: data keys (one per complaint): the customer's contact is stored sealed
        #: keys made while the shared key store is unreachable (shared.privacy.pending)
        self.pending_keys = pending_keys_for(self.recorder)
        self.keyring: KeyRing = (FallbackKeyRing(keyring, self.pending_keys)
                                 if keyring is not None else process_keyring())
        #: HMAC secret of the phone/email index keys
        self.hash_secret = hash_secret or ephemeral_hash_secret()
        self._allocation_lock = threading.Lock()
        if filing_check is None:
            from hotro.services.intake.filing import calendar_filing_check

            filing_check = calendar_filing_check()
        self.filing_check = filing_check
        self.channel_rules = channel_rules or ChannelRules()
        self.link_window = link_window

    # ---- commands ----------------------------------------------------------------------

    def receive(self, new: NewRequest, trace: dict[str, str | None],
                idempotency_key: str | None = None, retries: int = 20) -> Accepted:
        request_id = (
            request_id_for_idempotency_key(idempotency_key) if idempotency_key else uuid.uuid4()
        )
        sealed: dict[str, str] | None = None
        for attempt in range(retries):
            existing = self._existing(request_id)
            if existing is not None:
                return existing
            if sealed is None:  # the data key first (idempotent), outside the lock
                sealed = seal_with(self.keyring, str(request_id), dict(new.customer))
            try:
                # One allocation at a time per process: the reference counter is a single
                # aggregate, so concurrent threads would only beat each other to a conflict.
                with self._allocation_lock:
                    return self._receive_once(request_id, new, sealed, trace)
            except IntegrityError:
                # a concurrent allocation of the same counter: take the next one
                _backoff(attempt)
        raise RuntimeError("could not allocate a reference (too much contention)")

    def _receive_once(self, request_id: uuid.UUID, new: NewRequest,
                      sealed_customer: dict[str, str],
                      trace: dict[str, str | None]) -> Accepted:
        now = self.clock()
        prefix = REFERENCE_PREFIX[new.kind]
        counter = self._counter(prefix, now.year, trace)
        counter.allocate(trace=trace)
        reference = counter.current()
        deadline: date | None = None
        late = False
        if new.kind == "complaint" and new.incident_date is not None:
            deadline, late = self.filing_check(new.product, new.category, new.incident_date,
                                               now)
        channel_rule = self.channel_rule_for(new)
        call = self._draft_call(new.hotline_call_id)
        request = Request(
            id=request_id, reference=reference, kind=new.kind, channel=new.channel,
            customer=sealed_customer, contact_hashes=self.contact_hashes(new.customer),
            details={
                "product": new.product, "category": new.category,
                "incident_date": new.incident_date.isoformat() if new.incident_date else None,
                "description": new.description, "order_ref": new.order_ref,
                "taken_by": new.taken_by, "language": new.language,
                "attachments": list(new.attachments),
                "inbound_message_id": new.inbound_message_id,
                "channel_rule": channel_rule,
                "hotline_call_id": new.hotline_call_id,
            },
            received_at=now.isoformat(), filed_late=late,
            filing_deadline=deadline.isoformat() if deadline else None, trace=trace,
        )
        index = ReferenceIndex(reference=reference, request_id=request_id, trace=trace)
        aggregates: list[Any] = [counter, request, index]
        if new.inbound_message_id:
            aggregates.append(MessageIndex(message_id=new.inbound_message_id,
                                           request_id=request_id, direction="in", trace=trace))
        phone = new.customer.get("phone")
        if phone:
            phones = self._phone_index(self.phone_key(phone), trace)
            phones.link(request_id=str(request_id), reference=reference,
                        received_at=now.isoformat(), trace=trace)
            aggregates.append(phones)
        if call is not None:
            call.convert(request_id=str(request_id), reference=reference, trace=trace)
            aggregates.append(call)
        self.save(*aggregates)
        return Accepted(request_id, reference, late, deadline, created=True,
                        channel_rule=channel_rule)

    def channel_rule_for(self, new: NewRequest) -> dict[str, str] | None:
        """The channel this type of request must come through, if it came another way."""
        rule = self.channel_rules.rule_for(new.kind, new.product, new.category)
        if rule is None or rule.channel == new.channel:
            return None
        return {"required_channel": rule.channel, "requirement_vi": rule.requirement_vi,
                "requirement_en": rule.requirement_en}

    def record_bounce(self, request_id: uuid.UUID, *, message_id: str, reason: str,
                      bounce_message_id: str, trace: dict[str, str | None]) -> str:
        """A bounce of our `message_id`: recorded on its request (DeliveryBounced)."""
        request = self.get_request(request_id)
        request.record_bounce(reference=request.reference, message_id=message_id,
                              reason=reason, bounce_message_id=bounce_message_id, trace=trace)
        self.save(request, MessageIndex(message_id=bounce_message_id, request_id=request_id,
                                        direction="in", trace=trace))
        return request.reference

    def record_mail(self, *, outcome: str, reason_code: str, reason_text: str,
                    raw_sha256: str, message_id: str | None, envelope_from: str,
                    from_address: str | None, subject: str | None, size: int,
                    trace: dict[str, str | None]) -> bool:
        """Record mail that became no request. False if these bytes were recorded already."""
        key_id = MailRecord.key_id(raw_sha256)
        record = MailRecord(
            outcome=outcome, reason_code=reason_code, reason_text=reason_text,
            raw_sha256=raw_sha256, message_id=message_id,
            envelope_from=self._seal_value(key_id, envelope_from),
            from_address=self._seal_value(key_id, from_address), subject=subject, size=size,
            received_at=self.clock().isoformat(), trace=trace)
        try:
            self.save(record)
        except IntegrityError:
            return False
        return True

    # ---- hotline -----------------------------------------------------------------------

    def call_started(self, *, call_id: str, caller: str, caller_raw: str, at: str | None,
                     trace: dict[str, str | None], retries: int = 10) -> HotlineCall:
        for attempt in range(retries):
            existing = self._call(call_id)
            if existing is not None:
                return existing
            call, aggregates = self._new_call(call_id, caller, caller_raw, at, trace)
            try:
                self.save(call, *aggregates)
                return call
            except IntegrityError:
                _backoff(attempt)
        raise RuntimeError(f"could not record call {call_id} (contention)")

    def call_ended(self, *, call_id: str, caller: str, caller_raw: str, at: str | None,
                   recording_ref: str | None, trace: dict[str, str | None],
                   retries: int = 10) -> HotlineCall:
        for attempt in range(retries):
            call = self._call(call_id)
            aggregates: list[Any] = []
            if call is None:  # the "started" notice was lost: the call still counts
                call, aggregates = self._new_call(call_id, caller, caller_raw, None, trace)
            if call.ended_at is not None or call.recording_ref is not None:
                return call
            call.end(ended_at=at, recording_ref=recording_ref, trace=trace)
            try:
                self.save(call, *aggregates)
                return call
            except IntegrityError:
                _backoff(attempt)
        raise RuntimeError(f"could not record the end of call {call_id} (contention)")

    def hotline_drafts(self) -> list[HotlineCall]:
        calls = [self._call_by_id(e.originator_id)
                 for e in self._events_of_topic("hotro.intake:HotlineCall.Started")]
        return [c for c in calls if c.is_draft]

    def open_request_for_phone(self, phone: str) -> tuple[uuid.UUID, str] | None:
        """The newest request received with this number within the link window, not closed."""
        try:
            index: PhoneIndex = self.repository.get(PhoneIndex.create_id(self.phone_key(phone)))
        except AggregateNotFoundError:
            return None
        horizon = self.clock() - self.link_window
        for entry in reversed(index.requests):
            if datetime.fromisoformat(entry["received_at"]) < horizon:
                return None
            request = self.get_request(uuid.UUID(entry["request_id"]))
            if not request.closed:
                return request.id, request.reference
        return None

    def mail_records(self, outcome: str | None = None) -> list[dict[str, Any]]:
        return [
            {"id": str(e.originator_id), "outcome": e.outcome, "reason_code": e.reason_code,
             "reason_text": e.reason_text, "raw_sha256": e.raw_sha256,
             "message_id": e.message_id, "envelope_from": self.open_value(e.envelope_from),
             "from_address": self.open_value(e.from_address), "subject": e.subject,
             "size": e.size,
             "received_at": e.received_at}
            for e in self._events_of_topic("hotro.intake:MailRecord.Recorded")
            if outcome is None or e.outcome == outcome
        ]

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

    def record_erasure(self, request_id: uuid.UUID, *, reason: str, requested_by: str,
                       fields: list[str], trace: dict[str, str | None]) -> Request:
        """Record that the customer's personal data was erased (audit: who and why)."""
        request = self.get_request(request_id)
        request.record_erasure(reason=reason, requested_by=requested_by, fields=fields,
                               trace=trace)
        self.save(request)
        return request

    def attachments_only_of(self, request_id: uuid.UUID) -> list[str]:
        """The sha256 of attachments this request holds and no other request does: the
        files an erasure deletes (content-addressed files can be shared, e.g. a logo)."""
        request = self.get_request(request_id)
        own = _hashes(request.details.get("attachments"))
        for info in request.info:
            own |= _hashes(info.get("attachments"))
        if not own:
            return []
        elsewhere: set[str] = set()
        for e in self._events_of_topic("hotro.intake:Request.Received"):
            if e.originator_id != request_id:
                elsewhere |= _hashes(e.details.get("attachments"))
        for e in self._events_of_topic("hotro.intake:Request.InfoProvided"):
            if e.originator_id != request_id:
                elsewhere |= _hashes(e.attachments)
        return sorted(own - elsewhere)

    # ---- personal data (crypto-shredding, see shared/privacy) ---------------------------

    def phone_key(self, e164: str) -> str:
        """The index key of a phone number: its keyed hash, not the number."""
        return keyed_hash(self.hash_secret, f"phone:{e164}")

    def email_key(self, address: str) -> str:
        return keyed_hash(self.hash_secret, f"email:{address}")

    def contact_hashes(self, customer: dict[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        if customer.get("email"):
            out["email"] = self.email_key(str(customer["email"]))
        if customer.get("phone"):
            out["phone"] = self.phone_key(str(customer["phone"]))
        return out

    def drop_pending_keys(self, key_ids: list[str]) -> None:
        """Erasure: forget keys still waiting for the shared key store."""
        self.pending_keys.delete(key_ids)

    def customer_of(self, request: Request) -> dict[str, Any] | None:
        """The customer's contact, opened with the request's data key; None once erased."""
        return reveal(request.customer, self.keyring)

    def same_sender(self, request: Request, address: str) -> bool:
        """Is ``address`` the request's customer email? By keyed hash (or, for requests
        stored before sealing, the clear address)."""
        if not address.strip():
            return False
        stored = request.contact_hashes.get("email")
        if stored is not None:
            return stored == self.email_key(address)
        if is_sealed(request.customer):
            return False
        email = str((request.customer or {}).get("email") or "").strip().lower()
        return bool(email) and email == address.strip().lower()

    def _seal_value(self, key_id: str, value: str | None) -> dict[str, str] | None:
        if value is None:
            return None
        return seal_with(self.keyring, key_id, {"value": value})

    def open_value(self, value: Any) -> str | None:
        """A value sealed by ``_seal_value`` (a plain string from before sealing passes)."""
        if value is None or isinstance(value, str):
            return value
        opened = reveal(value, self.keyring)
        return str(opened.get("value")) if opened else ERASED

    def call_keys(self, request: Request) -> list[str]:
        """The data keys of the hotline calls that belong to the request."""
        ids = {c["call_id"] for c in request.calls}
        if request.details.get("hotline_call_id"):
            ids.add(str(request.details["hotline_call_id"]))
        return sorted(HotlineCall.key_id(i) for i in ids)

    def call_view(self, call: HotlineCall) -> dict[str, Any]:
        """A call with its caller opened (the call's data key)."""
        return {"caller": self.open_value(call.caller) or "",
                "caller_raw": self.open_value(call.caller_raw) or ""}

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
        index = self.message_index(message_id)
        return index.request_id if index is not None else None

    def message_index(self, message_id: str) -> MessageIndex | None:
        try:
            index: MessageIndex = self.repository.get(MessageIndex.create_id(message_id))
        except AggregateNotFoundError:
            return None
        return index

    # ---- upstream events ---------------------------------------------------------------

    @handles("routing.ComplaintClosed", "routing.ComplaintRefused")
    def _on_closed(self, envelope: Envelope, payload: Any,
                   processing: ProcessingEvent[uuid.UUID]) -> None:
        request = self._request_or_none(envelope.complaint_id)
        if request is None or request.closed:
            return
        request.mark_closed(reason=str(getattr(payload, "reason", "")),
                            trace=self.reaction_trace(envelope, "intake"))
        processing.collect_events(request)

    @handles("routing.ComplaintReopened")
    def _on_reopened(self, envelope: Envelope, payload: Any,
                     processing: ProcessingEvent[uuid.UUID]) -> None:
        request = self._request_or_none(envelope.complaint_id)
        if request is None or not request.closed:
            return
        request.mark_reopened(reason=payload.reason,
                              trace=self.reaction_trace(envelope, "intake"))
        processing.collect_events(request)

    @handles("notify.AcknowledgementSent", "notify.ReplySent")
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
            # v2 carries the contact exactly as stored (sealed): publishing needs no key and
            # re-publishing gives the same bytes. Only events stored before sealing go v1.
            received: type[wire.ComplaintReceived] = wire.ComplaintReceived
            customer: Any
            if is_sealed(domain_event.customer):
                received = wire.ComplaintReceivedV2
                customer = wire.SealedContact(**domain_event.customer)
            else:
                customer = wire.CustomerContact(**domain_event.customer)
            return WireEvent(domain_event.originator_id, received(
                reference=domain_event.reference, kind=domain_event.kind,
                channel=domain_event.channel,
                customer=customer,
                product=d.get("product"), category=d.get("category"),
                incident_date=d.get("incident_date"),
                received_at=domain_event.received_at, description=d["description"],
                order_ref=d.get("order_ref"), attachments=tuple(d.get("attachments") or ()),
                taken_by=d.get("taken_by"), filed_late=domain_event.filed_late,
                filing_deadline=domain_event.filing_deadline,
                language=d.get("language") or "vi",
                inbound_message_id=d.get("inbound_message_id"),
            ))
        if isinstance(domain_event, Request.DeliveryBounced):
            return WireEvent(domain_event.originator_id, wire.DeliveryBounced(
                reference=domain_event.reference, message_id=domain_event.message_id,
                reason=domain_event.reason))
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
                        created=False, channel_rule=request.details.get("channel_rule"))

    def _request_or_none(self, request_id: uuid.UUID) -> Request | None:
        try:
            return self.get_request(request_id)
        except RequestNotFound:
            return None

    def _phone_index(self, phone_key: str, trace: dict[str, str | None]) -> PhoneIndex:
        try:
            index: PhoneIndex = self.repository.get(PhoneIndex.create_id(phone_key))
        except AggregateNotFoundError:
            index = PhoneIndex(phone=phone_key, trace=trace)
        return index

    def _call(self, call_id: str) -> HotlineCall | None:
        try:
            return self._call_by_id(HotlineCall.create_id(call_id))
        except AggregateNotFoundError:
            return None

    def _call_by_id(self, aggregate_id: uuid.UUID) -> HotlineCall:
        call: HotlineCall = self.repository.get(aggregate_id)
        return call

    def _draft_call(self, call_id: str | None) -> HotlineCall | None:
        if call_id is None:
            return None
        call = self._call(call_id)
        if call is None:
            raise UnknownCall(call_id)
        if not call.is_draft:
            raise CallNotDraft(f"call {call_id} already belongs to "
                               f"{call.linked_reference or call.converted_reference}")
        return call

    def _new_call(self, call_id: str, caller: str, caller_raw: str, at: str | None,
                  trace: dict[str, str | None]) -> tuple[HotlineCall, list[Any]]:
        linked = self.open_request_for_phone(caller) if caller else None
        key_id = HotlineCall.key_id(call_id)
        call = HotlineCall(call_id=call_id, caller=self._seal_value(key_id, caller),
                           caller_raw=self._seal_value(key_id, caller_raw), started_at=at,
                           linked_request_id=str(linked[0]) if linked else None,
                           linked_reference=linked[1] if linked else None, trace=trace)
        if linked is None:
            return call, []
        request = self.get_request(linked[0])
        request.link_call(call_id=call_id, caller=self._seal_value(key_id, caller), at=at,
                          trace=trace)
        return call, [request]

    def _events_of_topic(self, topic: str, page: int = 500) -> Iterator[Any]:
        start = 0
        while True:
            notes = self.recorder.select_notifications(start=start, limit=page,
                                                       topics=[topic],
                                                       inclusive_of_start=False)
            if not notes:
                return
            for n in notes:
                yield self.mapper.to_domain_event(n)
            start = notes[-1].id

    def _counter(self, prefix: str, year: int,
                 trace: dict[str, str | None]) -> ReferenceCounter:
        try:
            counter: ReferenceCounter = self.repository.get(
                ReferenceCounter.create_id(prefix, year))
        except AggregateNotFoundError:
            counter = ReferenceCounter(prefix=prefix, year=year, trace=trace)
        return counter



def _hashes(attachments: Any) -> set[str]:
    return {str(a["sha256"]) for a in attachments or () if a.get("sha256")}


def _backoff(attempt: int) -> None:
    """Jittered pause before retrying a save that lost an optimistic-concurrency race."""
    time.sleep(random.uniform(0, min(0.2, 0.005 * (attempt + 1))))
