"""Notify's service layer: record the intent to send once, send, record the proof.

Exactly-once intent, at-least-once delivery
-------------------------------------------
* **Intent.** An upstream event is applied once (tracking row in the same transaction)
  and creates at most one ``Dispatch`` per (complaint, purpose, cause); its id — and, for
  email, its Message-ID ``<dispatch-id@mail-domain>`` — is derived from that key, so a
  replayed or redelivered event can never produce a second intent.
* **Delivery.** ``attempt`` sends first and then stores the outcome (``Sent``,
  ``LetterPrinted``, ``AttemptFailed``/``Failed``). The crash window: if the process dies
  (or the store refuses the write) after the SMTP server accepted the message but before
  ``Sent`` is stored, the dispatch is still pending and the delivery loop sends it again
  after the restart — **once more, with the same Message-ID**, which receiving systems and
  mail clients use to recognise the duplicate. ``Sent`` is recorded only once (a second
  ``mark_sent`` is refused by the aggregate, and a concurrent one by the version check),
  so ``AcknowledgementSent``/``ReplySent`` are published once. The window lasts one
  ``save`` (a few milliseconds); shrinking it further would need a two-phase protocol
  SMTP does not offer. SMS carries the dispatch id as its Idempotency-Key; a letter is
  re-rendered to the same file name (idempotent).
* **Failure.** A permanent failure, or ``max_attempts`` transient ones, ends the
  dispatch as ``Failed`` (→ ``NotificationFailed`` on the wire, a note in routing) and
  records an internal alert to the support team in the same transaction. A bounce
  reported later by intake (``DeliveryBounced``) marks the sent dispatch ``Bounced`` and
  alerts the team too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from hotro.services.notify.delivery import Deliverer, PermanentFailure, TransientFailure
from hotro.services.notify.domain import POSTED, Contact, Dispatch, DispatchError
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.application import ServiceApplication, WireEvent, handles
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import (
    ERASED,
    KeyDestroyed,
    KeyRing,
    is_sealed,
    process_keyring,
    reveal,
    seal_existing,
    seal_with,
)

CUSTOMER_PURPOSES = {"acknowledgement", "info_request", "reply", "refusal", "reminder"}
#: context entries that are personal data: stored sealed under ``PERSONAL``
PERSONAL_CONTEXT = ("customer_name", "address")
PERSONAL = "personal"
#: the reason a dispatch fails with when the customer's data was erased
ERASED_REASON = "erased"
SUPPORT_TEAM_LABEL = {"vi": "Bộ phận Hỗ trợ khách hàng", "en": "Customer support"}


class DispatchNotFound(LookupError):
    pass


class OutcomeNotRecorded(RuntimeError):
    """The message went out, but storing that fact failed (store down, crash in save)."""

    def __init__(self, dispatch_id: uuid.UUID, proof: str) -> None:
        super().__init__(f"dispatch {dispatch_id} was delivered ({proof}) but not recorded")
        self.dispatch_id = dispatch_id
        self.proof = proof


@dataclass(frozen=True)
class Recipients:
    """Internal addresses (alerts). Departments by code."""

    supervisor: str = "supervisor@vhv.vn"
    support: str = "support@vhv.vn"
    departments: tuple[tuple[str, str], ...] = ()
    mail_domain: str = "vhv.vn"
    #: a staff member's address from their id (the ids of routing's users file)
    staff_email_template: str = "{staff_id}@vhv.vn"

    def department(self, code: str) -> str:
        return dict(self.departments).get(code, f"{code}@{self.mail_domain}")

    def staff(self, staff_id: str) -> str:
        return self.staff_email_template.format(staff_id=staff_id)


class NotifyApplication(ServiceApplication):
    name = "notify"

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 recipients: Recipients | None = None, max_attempts: int = 5,
                 reply_deadline: Callable[[datetime, str | None], date] | None = None,
                 keyring: KeyRing | None = None) -> None:
        super().__init__(env, clock)
        #: the complaints' data keys: contact, recipients and names are stored sealed and
        #: opened only to send (notify never creates a key, except for v1 events)
        self.keyring: KeyRing = keyring or process_keyring()
        self.reply_deadline = reply_deadline or _reply_deadline
        self.recipients = recipients or Recipients()
        self.max_attempts = max_attempts

    # ---- reactions: record intents ----------------------------------------------------

    @handles("intake.ComplaintReceived")
    def _on_received(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if self._contact(env.complaint_id) is not None:
            return  # the same complaint announced twice: one contact, one acknowledgement
        trace = self.reaction_trace(env, "notify")
        sealed, person = self._received_customer(env.complaint_id, p)
        contact = Contact(complaint_id=env.complaint_id, reference=p.reference,
                          channel=p.channel, customer=sealed,
                          language=p.language, inbound_message_id=p.inbound_message_id,
                          received_at=p.received_at.isoformat(),
                          incident_date=p.incident_date.isoformat() if p.incident_date else None,
                          product=p.product, trace=trace)
        method, recipient = _acknowledgement_route(p.channel, person)
        context = {"reference": p.reference, "kind": p.kind,
                   "customer_name": (person or {}).get("name"),
                   "received_at": p.received_at.isoformat(),
                   "reply_deadline": self.reply_deadline(p.received_at, p.product).isoformat(),
                   "filed_late": p.filed_late}
        dispatch = self._dispatch(env, "acknowledgement", method, recipient, p.language,
                                  context, contact, trace, cause="received")
        pe.collect_events(contact, dispatch)

    @handles("routing.InfoRequested")
    def _on_info_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._require_contact(env)
        trace = self.reaction_trace(env, "notify")
        person = self.open_customer(contact)
        method, recipient = _customer_route(person)
        context = {"reference": p.reference, "items": list(p.items),
                   "due_date": p.due_date.isoformat(), "message": p.message,
                   "customer_name": (person or {}).get("name")}
        contact.note_info_request(items=list(p.items), due_date=p.due_date.isoformat(),
                                  trace=trace)
        self._note_owner(contact, env, trace)
        pe.collect_events(contact, self._dispatch(env, "info_request", method, recipient,
                                                  contact.language, context, contact, trace))

    @handles("routing.ReplyRequested")
    def _on_reply_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._require_contact(env)
        person = self.open_customer(contact)
        recipient = _recipient_for(p.method, person)
        context = {"reference": p.reference, "content": p.content,
                   "customer_name": (person or {}).get("name"),
                   "address": (person or {}).get("address")}
        # A refusal written by staff is free text: it goes out with the reply template and
        # is reported back as a refusal (wire_purpose).
        trace = self.reaction_trace(env, "notify")
        self._note_owner(contact, env, trace)
        pe.collect_events(contact, self._dispatch(env, "reply",
                                                  p.method, recipient, p.language, context,
                                                  contact, trace, wire_purpose=p.purpose))

    @handles("routing.ComplaintRefused")
    def _on_refused(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._require_contact(env)
        person = self.open_customer(contact)
        method, recipient = _customer_route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "reason": p.reason, "detail": p.explanation,
                   "incident_date": contact.incident_date,
                   "filing_deadline": p.filing_deadline.isoformat()
                   if p.filing_deadline else None}
        trace = self.reaction_trace(env, "notify")
        self._note_owner(contact, env, trace)
        pe.collect_events(contact, self._dispatch(env, "refusal", method, recipient,
                                                  contact.language, context, contact, trace))

    @handles("routing.ReferredToDepartment")
    def _on_referred(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        context = {"reference": p.reference, "department": p.department,
                   "referred_by": env.actor.id, "summary": p.question,
                   "due_date": p.internal_due.isoformat() if p.internal_due else None}
        trace = self.reaction_trace(env, "notify")
        contact = self._contact(env.complaint_id)
        if contact is not None:
            self._note_owner(contact, env, trace)
            pe.collect_events(contact)
        pe.collect_events(self._dispatch(env, "alert_new_referral", "email",
                                         self.recipients.department(p.department), "vi",
                                         context, None, trace, internal=True))

    @handles("sla.DeadlineApproaching", "sla.DeadlineBreached")
    def _on_deadline(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        trace = self.reaction_trace(env, "notify")
        if env.event_type == "DeadlineApproaching" and p.clock == "customer_info":
            self._remind_customer(env, p, pe, trace)
            return
        purpose = ("alert_deadline_breached" if env.event_type == "DeadlineBreached"
                   else "alert_deadline_approaching")
        contact = self._contact(env.complaint_id)
        owner = contact.owner if contact is not None else None
        # Before anyone has moved the case on, the support team's mailbox is its owner.
        owner_address = self.recipients.staff(owner) if owner else self.recipients.support
        for who, address in (("owner", owner_address),
                             ("supervisor", self.recipients.supervisor)):
            context = {"reference": p.reference, "clock": p.clock,
                       "handler": owner or SUPPORT_TEAM_LABEL["vi"],
                       "deadline": p.last_day.isoformat(), "due_at": p.due_at.isoformat(),
                       "working_days_left": getattr(p, "working_days_left", 0)}
            pe.collect_events(self._dispatch(env, purpose, "email", address, "vi", context,
                                             None, trace, internal=True, audience=who))

    def _remind_customer(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID],
                         trace: dict[str, str | None]) -> None:
        """The customer still owes information: one reminder per due date, never two."""
        contact = self._require_contact(env)
        cause = f"due/{p.last_day.isoformat()}"
        if self._exists(Dispatch.create_id(env.complaint_id, "reminder", f"{cause}/customer")):
            return  # sla raised it again for the same due date
        person = self.open_customer(contact)
        method, recipient = _customer_route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "items": list(contact.open_items), "due_date": p.last_day.isoformat()}
        pe.collect_events(self._dispatch(env, "reminder", method, recipient, contact.language,
                                         context, contact, trace, cause=cause))

    @handles("intake.DeliveryBounced")
    def _on_bounced(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """Our email came back. Never raises on a bounce it cannot match: staff are told."""
        trace = self.reaction_trace(env, "notify")
        dispatch = self._by_message_id(p.message_id)
        if dispatch is not None and dispatch.status == "bounced":
            return
        if dispatch is not None and dispatch.status == "sent" and dispatch.method == "email":
            dispatch.bounce(reason=p.reason[:500], at=self.clock().isoformat(), trace=trace)
            pe.collect_events(dispatch)
            pe.collect_events(*self._failure_alert(dispatch, "bounced", p.reason, trace))
            return
        context = {"reference": p.reference, "purpose": dispatch.purpose if dispatch else None,
                   "method": "email", "reason": p.reason[:500], "attempts": None,
                   "kind": "bounced", "message_id": p.message_id}
        alert_id = Dispatch.create_id(env.complaint_id, "alert_delivery_failed",
                                      f"bounce/{env.event_id}/support")
        if not self._exists(alert_id):
            pe.collect_events(self._dispatch(env, "alert_delivery_failed", "email",
                                             self.recipients.support, "vi", context, None,
                                             trace, internal=True, audience="support",
                                             cause=f"bounce/{env.event_id}"))

    def _dispatch(self, env: Envelope, purpose: str, method: str, recipient: str,
                  language: str, context: dict[str, Any], contact: Contact | None,
                  trace: dict[str, str | None], *, internal: bool = False,
                  audience: str = "customer", cause: str | None = None,
                  wire_purpose: str | None = None) -> Dispatch:
        return self._new_dispatch(env.complaint_id, purpose, method, recipient, language,
                                  context, contact, trace, internal=internal,
                                  cause=f"{cause or env.event_id}/{audience}",
                                  wire_purpose=wire_purpose)

    def _new_dispatch(self, complaint_id: uuid.UUID, purpose: str, method: str,
                      recipient: str, language: str, context: dict[str, Any],
                      contact: Contact | None, trace: dict[str, str | None], *,
                      internal: bool, cause: str, wire_purpose: str | None = None) -> Dispatch:
        dispatch_id = Dispatch.create_id(complaint_id, purpose, cause)
        message_id = (f"<{dispatch_id}@{self.recipients.mail_domain}>"
                      if method == "email" else None)
        in_reply_to = contact.last_message_id if contact is not None else None
        if wire_purpose and wire_purpose != purpose:
            context = {**context, "wire_purpose": wire_purpose}
        stored_recipient: Any = recipient
        if not internal:  # a customer's address, number or name: sealed, or nothing
            stored_recipient = (self._seal(complaint_id, {"to": recipient})
                                if recipient else None) or ""
            context = self._seal_personal(complaint_id, context)
        return Dispatch(id=dispatch_id, complaint_id=complaint_id,
                        reference=context["reference"], purpose=purpose, method=method,
                        recipient=stored_recipient, language=language, context=context,
                        message_id=message_id, in_reply_to=in_reply_to, internal=internal,
                        trace=trace)

    def _failure_alert(self, dispatch: Dispatch, kind: str, reason: str,
                       trace: dict[str, str | None]) -> list[Dispatch]:
        """An internal alert to the support team about a customer message that did not
        arrive. Alerts about alerts are not raised (they would fail the same way)."""
        if dispatch.internal:
            return []
        context = {"reference": dispatch.reference, "purpose": dispatch.purpose,
                   "method": dispatch.method, "reason": reason[:500],
                   "attempts": dispatch.attempts, "kind": kind,
                   "message_id": dispatch.message_id}
        alert = self._new_dispatch(dispatch.complaint_id, "alert_delivery_failed", "email",
                                   self.recipients.support, "vi", context, None, trace,
                                   internal=True, cause=f"{dispatch.id}/{kind}/support")
        return [] if self._exists(alert.id) else [alert]

    # ---- delivery ----------------------------------------------------------------------

    def attempt(self, dispatch_id: uuid.UUID, deliverer: Deliverer) -> str:
        """One delivery attempt. Returns the dispatch status afterwards.

        Sends, then records. See the module docstring for the crash window between the
        two. If the message went out but the outcome cannot be stored, raises
        ``OutcomeNotRecorded`` carrying the proof, so a caller that is still alive can
        store it later with ``record_delivered`` instead of sending again.
        """
        dispatch = self.get_dispatch(dispatch_id)
        if not dispatch.is_pending:
            return str(dispatch.status)
        contact = self._contact(dispatch.complaint_id)
        trace = self._sender_trace(dispatch)
        alerts: list[Dispatch] = []
        try:
            proof = deliverer.deliver(*self.opened(dispatch, contact))
        except TransientFailure as exc:
            dispatch.attempt_failed(reason=str(exc)[:500], trace=trace)
            if dispatch.attempts >= self.max_attempts:
                reason = f"gave up after {dispatch.attempts} attempts: {exc}"[:500]
                dispatch.fail(reason=reason, trace=trace)
                alerts = self._failure_alert(dispatch, "failed", reason, trace)
        except PermanentFailure as exc:
            dispatch.attempt_failed(reason=str(exc)[:500], trace=trace)
            dispatch.fail(reason=str(exc)[:500], trace=trace)
            alerts = self._failure_alert(dispatch, "failed", str(exc), trace)
        else:
            try:
                return self.record_delivered(dispatch_id, proof, dispatch=dispatch)
            except Exception as exc:
                raise OutcomeNotRecorded(dispatch_id, proof) from exc
        try:
            self.save(dispatch, *alerts)
        except IntegrityError:
            return str(self.get_dispatch(dispatch_id).status)  # another replica recorded it
        return str(dispatch.status)

    # ---- personal data (crypto-shredding, see shared/privacy) ---------------------------

    def _received_customer(self, complaint_id: uuid.UUID, p: Any
                           ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(what to store: sealed, the contact opened or None if erased)."""
        if isinstance(p, wire.ComplaintReceivedV2):
            sealed = p.customer.model_dump()
            return sealed, reveal(sealed, self.keyring)
        person = p.customer.model_dump()  # v1: published before sealing
        try:
            return seal_with(self.keyring, str(complaint_id), person), person
        except KeyDestroyed:
            return {}, None

    def open_customer(self, contact: Contact) -> dict[str, Any] | None:
        """The contact opened with the complaint's key; None once erased."""
        if not contact.customer:
            return None
        return reveal(contact.customer, self.keyring)

    def _seal(self, complaint_id: uuid.UUID, data: dict[str, Any]) -> dict[str, str] | None:
        return seal_existing(self.keyring, str(complaint_id), data)

    def _seal_personal(self, complaint_id: uuid.UUID,
                       context: dict[str, Any]) -> dict[str, Any]:
        personal = {k: context[k] for k in PERSONAL_CONTEXT if context.get(k) is not None}
        rest = {k: v for k, v in context.items() if k not in PERSONAL_CONTEXT}
        if personal:
            sealed = self._seal(complaint_id, personal)
            if sealed is not None:
                rest[PERSONAL] = sealed
        return rest

    def open_recipient(self, dispatch: Any) -> str:
        """Who the dispatch goes to, for staff and exports (``ERASED`` once erased)."""
        return self._open_to(dispatch.recipient, dispatch.internal)

    def _open_to(self, value: Any, internal: bool) -> str:
        if not is_sealed(value):
            return str(value) if value else ("" if internal else ERASED)
        opened = reveal(value, self.keyring)
        return str(opened.get("to")) if opened else ERASED

    def open_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A delivery-log row for staff: the recipient opened (or ``ERASED``)."""
        return {**row, "to": self._open_to(row.get("to"), bool(row.get("internal")))}

    def opened(self, dispatch: Dispatch, contact: Contact | None) -> tuple[Any, Any]:
        """The dispatch and contact as the deliverer needs them, personal data opened in
        memory only. Erased (key destroyed): ``PermanentFailure("erased")``."""
        if dispatch.internal:
            return dispatch, contact
        recipient = self.open_recipient(dispatch)
        if recipient in (ERASED, ""):
            raise PermanentFailure(ERASED_REASON)
        context = {k: v for k, v in dispatch.context.items() if k != PERSONAL}
        if PERSONAL in dispatch.context:
            personal = reveal(dispatch.context[PERSONAL], self.keyring)
            if personal is None:
                raise PermanentFailure(ERASED_REASON)
            context.update(personal)
        view_contact: Any = contact
        if contact is not None:
            person = self.open_customer(contact)
            if person is None:
                raise PermanentFailure(ERASED_REASON)
            view_contact = _Opened(contact, customer=person)
        return _Opened(dispatch, recipient=recipient, context=context), view_contact

    def record_delivered(self, dispatch_id: uuid.UUID, proof: str, *,
                         dispatch: Dispatch | None = None) -> str:
        """Store the outcome of a delivery that went out: Sent, or LetterPrinted."""
        dispatch = dispatch or self.get_dispatch(dispatch_id)
        if not dispatch.is_pending:
            return str(dispatch.status)
        trace = self._sender_trace(dispatch)
        now = self.clock().isoformat()
        if dispatch.method in POSTED:
            dispatch.letter_printed(file=proof, at=now, trace=trace)
        else:
            dispatch.mark_sent(proof=proof, sent_at=now, trace=trace)
        try:
            self.save(dispatch)
        except IntegrityError:
            return str(self.get_dispatch(dispatch_id).status)  # another replica recorded it
        return str(dispatch.status)

    @staticmethod
    def _sender_trace(dispatch: Dispatch) -> dict[str, str | None]:
        return Trace.system("notify-sender",
                            correlation_id=dispatch.trace["correlation_id"],
                            causation_id=dispatch.trace.get("causation_id")).as_dict()

    def record_staff_outcome(self, dispatch_id: uuid.UUID, *, staff_id: str, summary: str,
                             proof: str, trace: dict[str, str | None],
                             at: datetime | None = None) -> Dispatch:
        dispatch = self.get_dispatch(dispatch_id)
        when = at or self.clock()
        if when.tzinfo is None:
            raise DispatchError("the time of the call or meeting needs a UTC offset")
        dispatch.record_outcome(staff_id=staff_id, at=when.isoformat(), summary=summary,
                                proof=proof, trace=trace)
        self.save(dispatch)
        return dispatch

    def record_posting(self, dispatch_id: uuid.UUID, *, tracking_number: str,
                       carrier: str | None, staff_id: str,
                       trace: dict[str, str | None]) -> Dispatch:
        dispatch = self.get_dispatch(dispatch_id)
        dispatch.record_posting(tracking_number=tracking_number, carrier=carrier,
                                staff_id=staff_id, at=self.clock().isoformat(), trace=trace)
        self.save(dispatch)
        return dispatch

    def get_dispatch(self, dispatch_id: uuid.UUID) -> Dispatch:
        try:
            dispatch: Dispatch = self.repository.get(dispatch_id)
        except AggregateNotFoundError:
            raise DispatchNotFound(str(dispatch_id)) from None
        return dispatch

    def _exists(self, aggregate_id: uuid.UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def _by_message_id(self, message_id: str) -> Dispatch | None:
        """Our Message-IDs are ``<dispatch-id@domain>``: no index needed to find one."""
        normalised = "".join(message_id.split())
        left = normalised.strip("<>").split("@", 1)[0]
        try:
            dispatch = self.get_dispatch(uuid.UUID(left))
        except (ValueError, DispatchNotFound):
            return None
        return dispatch if dispatch.message_id == normalised else None

    def _contact(self, complaint_id: uuid.UUID) -> Contact | None:
        try:
            contact: Contact = self.repository.get(Contact.create_id(complaint_id))
        except AggregateNotFoundError:
            return None
        return contact

    @staticmethod
    def _note_owner(contact: Contact, env: Envelope, trace: dict[str, str | None]) -> None:
        if env.actor.kind == "staff" and env.actor.id and env.actor.id != contact.owner:
            contact.note_owner(staff_id=env.actor.id, trace=trace)

    def _require_contact(self, env: Envelope) -> Contact:
        contact = self._contact(env.complaint_id)
        if contact is None:  # ComplaintReceived is in the same partition, earlier: retried
            raise LookupError(f"no contact for {env.complaint_id} yet")
        return contact

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        if not isinstance(domain_event, Dispatch.Sent | Dispatch.Failed):
            return None
        dispatch: Dispatch = self.repository.get(domain_event.originator_id,
                                                 version=domain_event.originator_version)
        if dispatch.internal or dispatch.purpose not in CUSTOMER_PURPOSES:
            return None  # internal alerts stay in notify's own log
        purpose = dispatch.context.get("wire_purpose", dispatch.purpose)
        payload: wire.Payload
        if isinstance(domain_event, Dispatch.Failed):
            payload = wire.NotificationFailed(
                reference=dispatch.reference, purpose=purpose,
                method=_wire_method(dispatch.method), reason=domain_event.reason,
                attempts=max(1, dispatch.attempts))
        elif dispatch.purpose == "acknowledgement":
            payload = wire.AcknowledgementSent(
                reference=dispatch.reference,
                method=("receipt_slip" if dispatch.method == "receipt_slip"
                        else _wire_method(dispatch.method)),
                sent_at=domain_event.sent_at, proof=domain_event.proof)
        else:
            payload = wire.ReplySent(
                reference=dispatch.reference, purpose=purpose,
                method=_wire_method(dispatch.method), sent_at=domain_event.sent_at,
                proof=domain_event.proof, recorded_by=domain_event.recorded_by)
        return WireEvent(dispatch.complaint_id, payload)


def _reply_deadline(received_at: datetime, product: str | None) -> date:
    from hotro.shared.calendar import load_calendar, resolve_working_days

    days, _ = resolve_working_days("reply", product)
    return load_calendar().add_working_days(received_at, days).last_day


def _wire_method(method: str) -> Any:
    return method if method in ("email", "letter", "phone", "in_person", "sms") else "letter"


class _Opened:
    """An aggregate seen with some attributes replaced (opened personal data), in memory
    only: nothing here is ever stored."""

    def __init__(self, inner: Any, **overrides: Any) -> None:
        self._inner = inner
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        overrides = self.__dict__["_overrides"]
        if name in overrides:
            return overrides[name]
        return getattr(self.__dict__["_inner"], name)


#: how to acknowledge when the customer's contact is already erased (no recipient: the
#: dispatch then fails with reason "erased")
_ERASED_ROUTE = {"counter": "receipt_slip", "hotline": "sms"}


def _acknowledgement_route(channel: str, customer: dict[str, Any] | None) -> tuple[str, str]:
    """The acknowledgement goes back through the channel the request came in on."""
    if customer is None:
        return _ERASED_ROUTE.get(channel, "email"), ""
    name, phone, email = customer.get("name") or "", customer.get("phone"), \
        customer.get("email")
    if channel == "counter":
        return "receipt_slip", name
    if channel == "hotline" and phone:
        return "sms", phone
    if email:
        return "email", email
    if phone:
        return "sms", phone
    return "receipt_slip", name


def _customer_route(c: dict[str, Any] | None) -> tuple[str, str]:
    if c is None:
        return "email", ""
    if c.get("email"):
        return "email", c["email"]
    if c.get("phone"):
        return "sms", c["phone"]
    return "letter", str(c.get("address") or c.get("name", ""))


def _recipient_for(method: str, c: dict[str, Any] | None) -> str:
    if c is None:
        return ""
    return str({"email": c.get("email"), "sms": c.get("phone"), "phone": c.get("phone"),
                "letter": c.get("address"), "in_person": c.get("name")}.get(method) or
               c.get("name", ""))


__all__ = ["DispatchError", "NotifyApplication", "OutcomeNotRecorded", "Recipients"]
