"""Replies and refusals routing asks notify to deliver to the customer."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import ProcessingEvent

from hotro.services.notify.application.intents import Intents
from hotro.services.notify.domain import recipient_for
from hotro.shared.contracts.envelope import Envelope


class Replies(Intents):
    def send_reply(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """By the method staff chose. A refusal written by staff is free text: it goes out
        with the reply template and is reported back as a refusal."""
        contact = self._require_contact(env)
        person = self.open_customer(contact)
        recipient = recipient_for(p.method, person)
        context = {"reference": p.reference, "content": p.content,
                   "customer_name": (person or {}).get("name"),
                   "address": (person or {}).get("address")}
        trace = self.reaction_trace(env, "notify")
        self._note_owner(contact, env, trace)
        pe.collect_events(contact, self._dispatch(env, "reply",
                                                  p.method, recipient, p.language, context,
                                                  contact, trace, wire_purpose=p.purpose))

    def send_refusal(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """Routing refused the complaint (e.g. filed late): the refusal and its reason."""
        contact = self._require_contact(env)
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "reason": p.reason, "detail": p.explanation,
                   "incident_date": contact.incident_date,
                   "filing_deadline": p.filing_deadline.isoformat()
                   if p.filing_deadline else None}
        trace = self.reaction_trace(env, "notify")
        self._note_owner(contact, env, trace)
        pe.collect_events(contact, self._dispatch(env, "refusal", method, recipient,
                                                  contact.language, context, contact, trace))
