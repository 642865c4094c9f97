"""Notify's service layer: record the intent to send once, send, record the proof."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from services.notify.delivery import Deliverer, PermanentFailure, TransientFailure
from services.notify.domain import Contact, Dispatch, DispatchError
from shared.contracts import events as wire
from shared.contracts.envelope import Envelope
from shared.contracts.topology import subscriptions_of
from shared.eventstore.application import Handler, ServiceApplication, WireEvent
from shared.eventstore.trace import Trace

CUSTOMER_PURPOSES = {"acknowledgement", "info_request", "reply", "refusal", "reminder"}


class DispatchNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Recipients:
    """Internal addresses (alerts). Departments by code."""

    supervisor: str = "supervisor@vhv.vn"
    support: str = "support@vhv.vn"
    departments: tuple[tuple[str, str], ...] = ()
    mail_domain: str = "vhv.vn"

    def department(self, code: str) -> str:
        return dict(self.departments).get(code, f"{code}@{self.mail_domain}")


class NotifyApplication(ServiceApplication):
    name: ClassVar[str] = "notify"
    subscriptions: ClassVar[dict[str, tuple[str, ...]]] = subscriptions_of("notify")

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 recipients: Recipients | None = None, max_attempts: int = 5,
                 reply_deadline: Callable[[datetime, str | None], date] | None = None) -> None:
        super().__init__(env, clock)
        self.reply_deadline = reply_deadline or _reply_deadline
        self.recipients = recipients or Recipients()
        self.max_attempts = max_attempts

    # ---- reactions: record intents ----------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {
            "ComplaintReceived": self._on_received,
            "InfoRequested": self._on_info_requested,
            "ReplyRequested": self._on_reply_requested,
            "ComplaintRefused": self._on_refused,
            "ReferredToDepartment": self._on_referred,
            "DeadlineApproaching": self._on_deadline,
            "DeadlineBreached": self._on_deadline,
        }

    def _on_received(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        trace = self.reaction_trace(env, "notify")
        contact = Contact(complaint_id=env.complaint_id, reference=p.reference,
                          channel=p.channel, customer=p.customer.model_dump(),
                          language=p.language, inbound_message_id=p.inbound_message_id,
                          received_at=p.received_at.isoformat(),
                          incident_date=p.incident_date.isoformat() if p.incident_date else None,
                          product=p.product, trace=trace)
        method, recipient = _acknowledgement_route(p.channel, p.customer)
        context = {"reference": p.reference, "kind": p.kind,
                   "customer_name": p.customer.name, "received_at": p.received_at.isoformat(),
                   "reply_deadline": self.reply_deadline(p.received_at, p.product).isoformat(),
                   "filed_late": p.filed_late}
        dispatch = self._dispatch(env, "acknowledgement", method, recipient, p.language,
                                  context, contact, trace)
        pe.collect_events(contact, dispatch)

    def _on_info_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._contact(env.complaint_id)
        if contact is None:
            raise LookupError(f"no contact for {env.complaint_id} yet")  # retried, in order
        method, recipient = _customer_route(contact)
        context = {"reference": p.reference, "items": list(p.items),
                   "due_date": p.due_date.isoformat(), "message": p.message,
                   "customer_name": contact.customer.get("name")}
        pe.collect_events(self._dispatch(env, "info_request", method, recipient,
                                         contact.language, context, contact,
                                         self.reaction_trace(env, "notify")))

    def _on_reply_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._contact(env.complaint_id)
        if contact is None:
            raise LookupError(f"no contact for {env.complaint_id} yet")
        recipient = _recipient_for(p.method, contact)
        context = {"reference": p.reference, "content": p.content,
                   "customer_name": contact.customer.get("name"),
                   "address": contact.customer.get("address")}
        pe.collect_events(self._dispatch(env, p.purpose, p.method, recipient, p.language,
                                         context, contact, self.reaction_trace(env, "notify")))

    def _on_refused(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._contact(env.complaint_id)
        if contact is None:
            raise LookupError(f"no contact for {env.complaint_id} yet")
        method, recipient = _customer_route(contact)
        context = {"reference": p.reference, "customer_name": contact.customer.get("name"),
                   "reason": p.reason, "detail": p.explanation,
                   "incident_date": contact.incident_date,
                   "filing_deadline": p.filing_deadline.isoformat()
                   if p.filing_deadline else None}
        pe.collect_events(self._dispatch(env, "refusal", method, recipient, contact.language,
                                         context, contact, self.reaction_trace(env, "notify")))

    def _on_referred(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        context = {"reference": p.reference, "department": p.department,
                   "referred_by": env.actor.id, "summary": p.question,
                   "due_date": p.internal_due.isoformat() if p.internal_due else None}
        pe.collect_events(self._dispatch(env, "alert_new_referral", "email",
                                         self.recipients.department(p.department), "vi",
                                         context, None, self.reaction_trace(env, "notify"),
                                         internal=True))

    def _on_deadline(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        purpose = ("alert_deadline_breached" if env.event_type == "DeadlineBreached"
                   else "alert_deadline_approaching")
        trace = self.reaction_trace(env, "notify")
        for who, address in (("owner", self.recipients.support),
                             ("supervisor", self.recipients.supervisor)):
            context = {"reference": p.reference, "clock": p.clock, "handler": who,
                       "deadline": p.last_day.isoformat(), "due_at": p.due_at.isoformat(),
                       "working_days_left": getattr(p, "working_days_left", 0)}
            pe.collect_events(self._dispatch(env, purpose, "email", address, "vi", context,
                                             None, trace, internal=True, audience=who))

    def _dispatch(self, env: Envelope, purpose: str, method: str, recipient: str,
                  language: str, context: dict[str, Any], contact: Contact | None,
                  trace: dict[str, str | None], *, internal: bool = False,
                  audience: str = "customer") -> Dispatch:
        dispatch_id = Dispatch.create_id(env.complaint_id, purpose, f"{env.event_id}/{audience}")
        message_id = (f"<{dispatch_id}@{self.recipients.mail_domain}>"
                      if method == "email" else None)
        in_reply_to = contact.last_message_id if contact is not None else None
        return Dispatch(id=dispatch_id, complaint_id=env.complaint_id,
                        reference=context["reference"], purpose=purpose, method=method,
                        recipient=recipient, language=language, context=context,
                        message_id=message_id, in_reply_to=in_reply_to, internal=internal,
                        trace=trace)

    # ---- delivery ----------------------------------------------------------------------

    def attempt(self, dispatch_id: uuid.UUID, deliverer: Deliverer) -> str:
        """One delivery attempt. Returns the dispatch status afterwards."""
        dispatch = self.get_dispatch(dispatch_id)
        if not dispatch.is_pending:
            return dispatch.status
        contact = self._contact(dispatch.complaint_id)
        trace = Trace.system("notify-sender",
                             correlation_id=dispatch.trace["correlation_id"],
                             causation_id=dispatch.trace.get("causation_id")).as_dict()
        try:
            proof = deliverer.deliver(dispatch, contact)
        except TransientFailure as exc:
            dispatch.attempt_failed(reason=str(exc)[:500], trace=trace)
            if dispatch.attempts >= self.max_attempts:
                dispatch.fail(reason=f"gave up after {dispatch.attempts} attempts: {exc}",
                              trace=trace)
        except PermanentFailure as exc:
            dispatch.attempt_failed(reason=str(exc)[:500], trace=trace)
            dispatch.fail(reason=str(exc)[:500], trace=trace)
        else:
            dispatch.mark_sent(proof=proof, sent_at=self.clock().isoformat(), trace=trace)
        try:
            self.save(dispatch)
        except IntegrityError:
            return self.get_dispatch(dispatch_id).status  # another replica recorded it
        return dispatch.status

    def record_staff_outcome(self, dispatch_id: uuid.UUID, *, staff_id: str, summary: str,
                             proof: str, trace: dict[str, str | None]) -> Dispatch:
        dispatch = self.get_dispatch(dispatch_id)
        dispatch.record_outcome(staff_id=staff_id, at=self.clock().isoformat(),
                                summary=summary, proof=proof, trace=trace)
        self.save(dispatch)
        return dispatch

    def get_dispatch(self, dispatch_id: uuid.UUID) -> Dispatch:
        try:
            dispatch: Dispatch = self.repository.get(dispatch_id)
        except AggregateNotFoundError:
            raise DispatchNotFound(str(dispatch_id)) from None
        return dispatch

    def _contact(self, complaint_id: uuid.UUID) -> Contact | None:
        try:
            contact: Contact = self.repository.get(Contact.create_id(complaint_id))
        except AggregateNotFoundError:
            return None
        return contact

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        if not isinstance(domain_event, Dispatch.Sent | Dispatch.Failed):
            return None
        dispatch: Dispatch = self.repository.get(domain_event.originator_id,
                                                 version=domain_event.originator_version)
        if dispatch.purpose not in CUSTOMER_PURPOSES:
            return None  # internal alerts stay in notify's own log
        payload: wire.Payload
        if isinstance(domain_event, Dispatch.Failed):
            payload = wire.NotificationFailed(
                reference=dispatch.reference, purpose=dispatch.purpose,
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
                reference=dispatch.reference, purpose=dispatch.purpose,  # type: ignore[arg-type]
                method=_wire_method(dispatch.method), sent_at=domain_event.sent_at,
                proof=domain_event.proof, recorded_by=domain_event.recorded_by)
        return WireEvent(dispatch.complaint_id, payload)


def _reply_deadline(received_at: datetime, product: str | None) -> date:
    from shared.calendar import load_calendar, resolve_working_days

    days, _ = resolve_working_days("reply", product)
    return load_calendar().add_working_days(received_at, days).last_day


def _wire_method(method: str) -> Any:
    return method if method in ("email", "letter", "phone", "in_person", "sms") else "letter"


def _acknowledgement_route(channel: str, customer: Any) -> tuple[str, str]:
    """The acknowledgement goes back through the channel the request came in on."""
    if channel == "counter":
        return "receipt_slip", customer.name
    if channel == "hotline" and customer.phone:
        return "sms", customer.phone
    if customer.email:
        return "email", customer.email
    if customer.phone:
        return "sms", customer.phone
    return "receipt_slip", customer.name


def _customer_route(contact: Contact) -> tuple[str, str]:
    c = contact.customer
    if c.get("email"):
        return "email", c["email"]
    if c.get("phone"):
        return "sms", c["phone"]
    return "letter", c.get("address") or c.get("name", "")


def _recipient_for(method: str, contact: Contact) -> str:
    c = contact.customer
    return {"email": c.get("email"), "sms": c.get("phone"), "phone": c.get("phone"),
            "letter": c.get("address"), "in_person": c.get("name")}.get(method) or \
        c.get("name", "")


__all__ = ["DispatchError", "NotifyApplication", "Recipients"]
