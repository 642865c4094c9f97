"""Contacts and acknowledgements. ComplaintReceived records the customer's contact (sealed)
and the receipt the acknowledgement speaks of; sla's reply DeadlineSet gives the reply date
it promises (sla owns that date: its policy, calendar version and category). The two come
from different producers and reach notify in either order; the acknowledgement's Dispatch
is requested when the second one is applied — in the same transaction as that event's
tracking row, so exactly once, and never before the reply date is known.

A complaint acknowledged before notify waited for sla already has its acknowledgement: a
reply DeadlineSet arriving for it later finds no receipt noted and requests nothing."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate

from hotro.services.notify.application.intents import Intents
from hotro.services.notify.domain import (
    WITHDRAWN_BEFORE_SENT,
    Acknowledgement,
    Contact,
    acknowledgement_route,
)
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.privacy.sealing import KeyDestroyed, seal_with

#: the cause of the one acknowledgement of a complaint (its dispatch id derives from it)
ACKNOWLEDGEMENT_CAUSE = "received/customer"


class Acknowledgements(Intents):
    def record_receipt(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """ComplaintReceived: the contact, and the receipt the acknowledgement confirms."""
        if self._contact(env.complaint_id) is not None:
            return  # the same complaint announced twice: one contact, one acknowledgement
        trace = self.reaction_trace(env, "notify")
        contact = Contact(complaint_id=env.complaint_id, reference=p.reference,
                          channel=p.channel, customer=self._received_customer(env, p),
                          language=p.language, inbound_message_id=p.inbound_message_id,
                          received_at=p.received_at.isoformat(),
                          incident_date=p.incident_date.isoformat() if p.incident_date else None,
                          product=p.product, trace=trace)
        acknowledgement = self._acknowledgement(env.complaint_id, trace)
        acknowledgement.note_receipt(reference=p.reference, kind=p.kind,
                                     received_at=p.received_at.isoformat(),
                                     filed_late=p.filed_late, trace=trace,
                                     required_channel=p.required_channel)
        pe.collect_events(contact, *self._request_if_due(acknowledgement, contact, trace))

    def note_reply_deadline(self, env: Envelope, p: Any,
                            pe: ProcessingEvent[uuid.UUID]) -> None:
        """sla's DeadlineSet of the reply clock: the date the acknowledgement promises."""
        trace = self.reaction_trace(env, "notify")
        acknowledgement = self._acknowledgement(env.complaint_id, trace)
        if acknowledgement.sent_under_review:
            # A late filing acknowledged as under review, then accepted by a supervisor
            # (or reopened after a refusal): sla's first reply clock counts from that
            # decision; the customer is told it was accepted and by when they will have
            # the answer.
            acknowledgement.note_reply_deadline(last_day=p.last_day.isoformat(),
                                                due_at=p.due_at.isoformat(),
                                                calendar_version=p.calendar_version,
                                                trace=trace)
            if acknowledgement.reopen_untold:
                acknowledgement.reopen_told(last_day=p.last_day.isoformat(), trace=trace)
            pe.collect_events(acknowledgement)
            self.tell_filing_accepted(env, p, pe)
            return
        if acknowledgement.found_late_untold:
            # A late filing found after receipt (its first reply date was told and no
            # longer applies), accepted by a supervisor: this is the decision's clock.
            acknowledgement.filing_acceptance_told(last_day=p.last_day.isoformat(),
                                                   trace=trace)
            pe.collect_events(acknowledgement)
            self.tell_filing_accepted(env, p, pe)
            return
        if acknowledgement.reply_last_day is not None:
            # The first reply deadline stands (it is the acknowledgement's). A reply clock
            # after routing reopened the case is sla's new one (``reply/reopen-N``, a
            # ``reply`` clock on the wire): the customer is told, with its date — even
            # when that is the same day as before (reopened the day it was answered). A
            # re-announced deadline, with no reopen waiting, tells nobody anything new.
            if acknowledgement.dispatch_id is not None and acknowledgement.reopen_untold:
                acknowledgement.reopen_told(last_day=p.last_day.isoformat(), trace=trace)
                pe.collect_events(acknowledgement)
                self.tell_reopened(env, p, pe, round_=acknowledgement.reopens_told)
            return
        acknowledgement.note_reply_deadline(last_day=p.last_day.isoformat(),
                                            due_at=p.due_at.isoformat(),
                                            calendar_version=p.calendar_version, trace=trace)
        contact = self._contact(env.complaint_id) if acknowledgement.receipt else None
        pe.collect_events(*self._request_if_due(acknowledgement, contact, trace))

    def note_reply_deadline_moved(self, env: Envelope, p: Any,
                                  pe: ProcessingEvent[uuid.UUID]) -> None:
        """sla's DeadlineReplanned of a reply clock (a newer holiday notice; a paused
        clock counting again): a customer who was told a reply date hears the new one, in
        their language, by their way — once per move. An acknowledgement not requested yet
        promises the new date instead."""
        trace = self.reaction_trace(env, "notify")
        acknowledgement = self._acknowledgement(env.complaint_id, trace)
        told = acknowledgement.move_reply_deadline(
            last_day=p.last_day.isoformat(), previous_last_day=p.previous_last_day.isoformat(),
            trace=trace)
        if told is None:
            if acknowledgement.reply_last_day is not None:  # else it was never opened
                pe.collect_events(acknowledgement)  # the new date noted, if not told
            return
        pe.collect_events(acknowledgement)
        contact = self._require_contact(env)
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "new_reply_deadline": p.last_day.isoformat(),
                   "previous_reply_deadline": told}
        pe.collect_events(self._dispatch(
            env, "reply_date_moved", method, recipient, contact.language, context, contact,
            trace, cause=f"reply-moved/{acknowledgement.moves_told}"))

    def note_answer(self, env: Envelope, pe: ProcessingEvent[uuid.UUID]) -> None:
        """A reply or a refusal on its way to the customer, or a reply staff recorded as
        given: a reply date sla moves before it hears the answer was sent is not told."""
        try:
            acknowledgement: Acknowledgement = self.repository.get(
                Acknowledgement.create_id(env.complaint_id))
        except AggregateNotFoundError:
            return  # received before notify kept acknowledgements: no date was promised
        if acknowledgement.note_answer(trace=self.reaction_trace(env, "notify")):
            pe.collect_events(acknowledgement)

    def note_reopen(self, env: Envelope, pe: ProcessingEvent[uuid.UUID]) -> None:
        """Routing reopened the case: the next reply DeadlineSet is the reopen's."""
        trace = self.reaction_trace(env, "notify")
        acknowledgement = self._acknowledgement(env.complaint_id, trace)
        acknowledgement.note_reopen(trace=trace)
        pe.collect_events(acknowledgement)

    def tell_reopened(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID], *,
                      round_: int) -> None:
        """The case was reopened and sla set its new reply clock: the customer hears it
        was reopened and the new reply date, in their language, by their way (email, else
        SMS, else a letter). One message per reopen (the cause is the reopen's round)."""
        contact = self._require_contact(env)
        trace = self.reaction_trace(env, "notify")
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "new_reply_deadline": p.last_day.isoformat()}
        pe.collect_events(self._dispatch(env, "reopened", method, recipient, contact.language,
                                         context, contact, trace,
                                         cause=f"reopen/{round_}"))

    def note_withdrawal(self, env: Envelope, contact: Contact | None,
                        pe: ProcessingEvent[uuid.UUID]) -> None:
        """The request was withdrawn: what still waits to be sent and only asks, reminds
        or promises is not sent (``Contact.makes_pointless``, checked by the sender); an
        acknowledgement not yet requested never is, and one waiting (say for a mail
        server that is down) is cancelled at once. The customer hears of the withdrawal
        only."""
        trace = self.reaction_trace(env, "notify")
        if contact is not None and contact.note_withdrawal(trace=trace):
            pe.collect_events(contact)
        acknowledgement = self._acknowledgement(env.complaint_id, trace)
        if acknowledgement.withhold(trace=trace):
            pe.collect_events(acknowledgement)
            return
        if acknowledgement.dispatch_id is None:
            return
        dispatch = self.get_dispatch(acknowledgement.dispatch_id)
        if dispatch.cancel(reason=WITHDRAWN_BEFORE_SENT, trace=trace):
            pe.collect_events(dispatch)

    def tell_withdrawn(self, env: Envelope, reference: str, reason: str,
                       pe: ProcessingEvent[uuid.UUID]) -> None:
        """The case was withdrawn (on the customer's page, or recorded by staff): the
        customer has it confirmed in writing, by their way (email, else SMS, else a letter),
        and is told whom to contact if it was not them. One message per withdrawal."""
        contact = self._require_contact(env)
        trace = self.reaction_trace(env, "notify")
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": reference, "customer_name": (person or {}).get("name"),
                   "reason": reason}
        pe.collect_events(self._dispatch(env, "withdrawn", method, recipient,
                                         contact.language, context, contact, trace))

    def tell_filing_accepted(self, env: Envelope, p: Any,
                             pe: ProcessingEvent[uuid.UUID]) -> None:
        """The late filing was accepted: the customer hears it and the reply date."""
        contact = self._require_contact(env)
        trace = self.reaction_trace(env, "notify")
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "reply_deadline": p.last_day.isoformat()}
        pe.collect_events(self._dispatch(env, "filing_accepted", method, recipient,
                                         contact.language, context, contact, trace,
                                         cause="filing-review/accepted"))

    def tell_filing_review(self, env: Envelope, p: Any,
                           pe: ProcessingEvent[uuid.UUID]) -> None:
        """Routing found the filing late from the incident date the customer gave later:
        the customer hears the case is under review (the reply date told before is on
        hold). Once per case; the acceptance is told with sla's new reply date."""
        trace = self.reaction_trace(env, "notify")
        acknowledgement = self._acknowledgement(env.complaint_id, trace)
        if not acknowledgement.note_filing_review(trace=trace):
            return
        pe.collect_events(acknowledgement)
        contact = self._require_contact(env)
        if contact.incident_date is None:
            contact.note_incident_date(incident_date=p.incident_date.isoformat(), trace=trace)
            pe.collect_events(contact)
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "incident_date": p.incident_date.isoformat(),
                   "filing_deadline": p.filing_deadline.isoformat()}
        pe.collect_events(self._dispatch(env, "filing_review", method, recipient,
                                         contact.language, context, contact, trace,
                                         cause="filing-review/found-late"))

    def _request_if_due(self, acknowledgement: Acknowledgement, contact: Contact | None,
                        trace: dict[str, str | None]) -> list[Aggregate]:
        if not acknowledgement.is_due or contact is None:
            return [acknowledgement]
        person = self.open_customer(contact)
        method, recipient = acknowledgement_route(contact.channel, person)
        context = acknowledgement.context(customer_name=(person or {}).get("name"))
        dispatch = self._new_dispatch(contact.complaint_id, "acknowledgement", method,
                                      recipient, contact.language, context, contact, trace,
                                      internal=False, cause=ACKNOWLEDGEMENT_CAUSE)
        acknowledgement.dispatch_requested(dispatch_id=dispatch.id, trace=trace)
        return [acknowledgement, dispatch]

    def _acknowledgement(self, complaint_id: uuid.UUID,
                         trace: dict[str, str | None]) -> Acknowledgement:
        """The complaint's acknowledgement record, opened by whichever event comes first
        (two replicas opening it at once: one save conflicts and is retried)."""
        try:
            found: Acknowledgement = self.repository.get(Acknowledgement.create_id(complaint_id))
        except AggregateNotFoundError:
            return Acknowledgement(complaint_id=complaint_id, trace=trace)
        return found

    def _received_customer(self, env: Envelope, p: Any) -> dict[str, Any]:
        """The contact as stored: sealed (v2 arrives sealed; v1 was published in clear and
        is sealed here, or dropped if the key is already destroyed)."""
        if isinstance(p, wire.ComplaintReceivedV2):
            return p.customer.model_dump()
        try:
            return seal_with(self.keyring, str(env.complaint_id), p.customer.model_dump())
        except KeyDestroyed:
            return {}
