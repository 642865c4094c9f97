"""Step 1: receive a request from any channel, exactly once per idempotency key, with its
reference, its filing-window verdict and the channel rule it breaks, if any.

Idempotency keys are scoped to their caller and bound to the request's fingerprint
(``domain/idempotency.py`` says how, and how keys stored before scoping keep working)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application.base import backoff
from hotro.services.intake.application.duplicates import Duplicates
from hotro.services.intake.application.incident_dates import incident_date_of
from hotro.services.intake.domain import (
    REFERENCE_PREFIX,
    HotlineCall,
    MessageIndex,
    PhoneIndex,
    ReferenceIndex,
    Request,
    ScopedKey,
    fingerprint,
    request_id_for_idempotency_key,
)
from hotro.services.intake.domain.duplicates import find_order_ref
from hotro.services.intake.domain.references import format_reference
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.privacy.sealing import reveal, seal_with


class UnknownCall(LookupError):
    pass


class CallNotDraft(ValueError):
    """The hotline call already became, or joined, the request ``reference``."""

    def __init__(self, call_id: str, reference: str | None) -> None:
        super().__init__(f"call {call_id} already belongs to {reference}")
        self.reference = reference or ""


class IdempotencyConflict(ValueError):
    """The caller's key already names a request with another body."""


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
    #: email: sender-trust flags (sender_mismatch, punycode_domain, lookalike_domain…)
    flags: tuple[str, ...] = ()
    #: email: the case the message claimed to continue when its sender did not match
    claimed: dict[str, Any] | None = None
    #: email: SPF/DKIM/DMARC as our receiving host or our own DKIM check saw them
    mail_auth: dict[str, Any] | None = None
    #: email: how it was read — notes for staff, refused attachments, the raw kept
    mail: dict[str, Any] | None = None

    def fields(self) -> dict[str, Any]:
        """What the request's fingerprint covers."""
        return {"kind": self.kind, "channel": self.channel, "customer": self.customer,
                "description": self.description, "product": self.product,
                "category": self.category, "incident_date": self.incident_date,
                "order_ref": self.order_ref, "language": self.language,
                "call_id": self.hotline_call_id}


class Receiving(Duplicates):
    def receive(self, new: NewRequest, trace: dict[str, str | None],
                idempotency_key: str | None = None, *, scoped_key: ScopedKey | None = None,
                request_id: uuid.UUID | None = None, retries: int = 20) -> Accepted:
        """Record a new request once. ``scoped_key``: an HTTP caller's key (the same key
        and body answer with the first request; another body raises
        ``IdempotencyConflict``). ``request_id``: the id chosen by the caller (email: from
        the Message-ID). ``idempotency_key``: an in-process caller's own key, derived as
        before scoping (tools, tests)."""
        idempotency: dict[str, str] | None = None
        if scoped_key is not None:
            request_id = scoped_key.request_id
            idempotency = {"scope": scoped_key.scope,
                           "fingerprint": fingerprint(new.fields(), self.hash_secret)}
            legacy = self._legacy_answer(scoped_key, new, trace)
            if legacy is not None:
                return legacy
        elif idempotency_key:
            request_id = request_id_for_idempotency_key(idempotency_key)
        # A fresh random id names nothing stored yet: no look-up for it on the first try.
        fresh = request_id is None
        request_id = request_id or uuid.uuid4()
        sealed: dict[str, str] | None = None
        for attempt in range(retries):
            existing = None if fresh and attempt == 0 else self._existing(request_id)
            if existing is not None:
                if idempotency is not None and \
                        self._stored_fingerprint(request_id) != idempotency["fingerprint"]:
                    raise IdempotencyConflict(
                        "this Idempotency-Key was already used for another request "
                        "(a different body); use a new key for a new request")
                return existing
            if sealed is None:  # the data key first (idempotent)
                sealed = seal_with(self.keyring, str(request_id), dict(new.customer))
            try:
                return self._receive_once(request_id, new, sealed, trace, idempotency)
            except IntegrityError:
                # the same key at the same time (the next round answers or refuses it), a
                # concurrent change of the same phone index, or a reference already indexed
                # (never from our own blocks): its number is left unused, the next is taken
                backoff(attempt)
        raise RuntimeError("could not record the request (too much contention)")

    def _stored_fingerprint(self, request_id: uuid.UUID) -> str | None:
        request = self._request_or_none(request_id)
        if request is None:
            return None
        stored = request.details.get("idempotency") or {}
        value = stored.get("fingerprint")
        return str(value) if value else None

    def _legacy_answer(self, key: ScopedKey, new: NewRequest,
                       trace: dict[str, str | None]) -> Accepted | None:
        """A request stored before keys were scoped, under the same key, by the same
        caller: the first answer if its body is the same; else IdempotencyConflict. None
        when there is none (or it is another caller's: then the key is simply new)."""
        legacy_id = key.legacy_request_id
        if legacy_id is None:
            return None
        request = self._request_or_none(legacy_id)
        if request is None or request.details.get("idempotency") is not None:
            return None
        if (request.trace.get("actor_kind"), request.trace.get("actor_id")) != \
                (trace.get("actor_kind"), trace.get("actor_id")):
            return None
        if self._fingerprint_of_stored(request) != fingerprint(new.fields(), self.hash_secret):
            raise IdempotencyConflict(
                "this Idempotency-Key was already used for another request "
                "(a different body); use a new key for a new request")
        return self._existing(legacy_id)

    def _fingerprint_of_stored(self, request: Request) -> str | None:
        customer = reveal(request.customer, self.keyring)
        if customer is None:  # erased: nothing left to compare with
            return None
        d = request.details
        return fingerprint({"kind": request.kind, "channel": request.channel,
                            "customer": customer, "description": d.get("description"),
                            "product": d.get("product"), "category": d.get("category"),
                            "incident_date": d.get("incident_date"),
                            "order_ref": d.get("order_ref"), "language": d.get("language"),
                            "call_id": d.get("hotline_call_id")}, self.hash_secret)

    def _receive_once(self, request_id: uuid.UUID, new: NewRequest,
                      sealed_customer: dict[str, str],
                      trace: dict[str, str | None],
                      idempotency: dict[str, str] | None = None) -> Accepted:
        now = self.clock()
        prefix = REFERENCE_PREFIX[new.kind]
        year = now.astimezone(VIETNAM_TZ).year  # the year in Vietnam, not in UTC
        reference = format_reference(prefix, year, self.reference_blocks.take(prefix, year))
        deadline: date | None = None
        late = False
        # an email states its incident date, if at all, in its text
        incident, incident_source = incident_date_of(new.kind, new.channel, new.incident_date,
                                                     new.description, now)
        if new.kind == "complaint" and incident is not None:
            deadline, late = self.filing_check(new.product, new.category, incident, now)
        order_in_text = (find_order_ref(new.description)
                         if new.channel == "email" and not new.order_ref else None)
        channel_rule = self.channel_rule_for(new)
        call = self._draft_call(new.hotline_call_id)
        request = Request(
            id=request_id, reference=reference, kind=new.kind, channel=new.channel,
            customer=sealed_customer, contact_hashes=self.contact_hashes(new.customer),
            details={
                "product": new.product, "category": new.category,
                "incident_date": incident.isoformat() if incident else None,
                **({"incident_date_source": incident_source} if incident_source else {}),
                **({"order_ref_in_text": order_in_text} if order_in_text else {}),
                "description": new.description, "order_ref": new.order_ref,
                "taken_by": new.taken_by, "language": new.language,
                "attachments": list(new.attachments),
                "inbound_message_id": new.inbound_message_id,
                "channel_rule": channel_rule,
                "hotline_call_id": new.hotline_call_id,
                **({"idempotency": idempotency} if idempotency else {}),
                **({"flags": list(new.flags)} if new.flags else {}),
                **({"claimed": new.claimed} if new.claimed else {}),
                **({"mail_auth": new.mail_auth} if new.mail_auth else {}),
                **({"mail": new.mail} if new.mail else {}),
            },
            received_at=now.isoformat(), filed_late=late,
            filing_deadline=deadline.isoformat() if deadline else None, trace=trace,
        )
        customers, duplicates = self.customer_links(
            request_id=request_id, reference=reference, contact_hashes=request.contact_hashes,
            product=new.product, order_ref=new.order_ref or order_in_text, now=now,
            trace=trace)
        if duplicates:
            request.flag_possible_duplicates(candidates=duplicates,
                                             window_days=self.duplicate_window.days,
                                             trace=trace)
        index = ReferenceIndex(reference=reference, request_id=request_id, trace=trace)
        aggregates: list[Any] = [request, index, *customers]
        if new.inbound_message_id:
            aggregates.append(MessageIndex(message_id=new.inbound_message_id,
                                           request_id=request_id, direction="in", trace=trace))
        phone = new.customer.get("phone")
        if phone:
            phones = self._phone_index(self.phone_key(phone), trace)
            phones.link(request_id=str(request_id), reference=reference,
                        received_at=now.isoformat(), trace=trace,
                        keep_since=(now - self.link_window).isoformat())
            aggregates.append(phones)
        if call is not None:
            call.convert(request_id=str(request_id), reference=reference, trace=trace)
            aggregates.append(call)
        self.save(*aggregates)
        if phone:
            self.snapshot_now_and_then(phones)
        return Accepted(request_id, reference, late, deadline, created=True,
                        channel_rule=channel_rule)

    def channel_rule_for(self, new: NewRequest) -> dict[str, str] | None:
        """The channel this type of request must come through, if it came another way."""
        rule = self.channel_rules.rule_for(new.kind, new.product, new.category)
        if rule is None or rule.channel == new.channel:
            return None
        return {"required_channel": rule.channel, "requirement_vi": rule.requirement_vi,
                "requirement_en": rule.requirement_en}

    def _existing(self, request_id: uuid.UUID) -> Accepted | None:
        request = self._request_or_none(request_id)
        if request is None:
            return None
        deadline = (date.fromisoformat(request.filing_deadline)
                    if request.filing_deadline else None)
        return Accepted(request.id, request.reference, request.filed_late, deadline,
                        created=False, channel_rule=request.details.get("channel_rule"))

    def _phone_index(self, phone_key: str, trace: dict[str, str | None]) -> PhoneIndex:
        try:
            index: PhoneIndex = self.from_snapshot(PhoneIndex.create_id(phone_key))
        except AggregateNotFoundError:
            index = PhoneIndex(phone=phone_key, trace=trace)
        return index

    def _draft_call(self, call_id: str | None) -> HotlineCall | None:
        """The hotline draft this request is made from (a call becomes one request)."""
        if call_id is None:
            return None
        call = self._call(call_id)
        if call is None:
            raise UnknownCall(call_id)
        if not call.is_draft:
            raise CallNotDraft(call_id, call.linked_reference or call.converted_reference)
        return call
