"""Information requests and reminders: routing asks the customer for information (the
checklist goes out at once); sla's customer-information clock approaching reminds them,
once per due date."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import ProcessingEvent

from hotro.services.notify.application.intents import Intents
from hotro.services.notify.domain import Dispatch
from hotro.shared.contracts.envelope import Envelope


class InformationRequests(Intents):
    def ask_for_information(self, env: Envelope, p: Any,
                            pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._require_contact(env)
        trace = self.reaction_trace(env, "notify")
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": p.reference, "items": list(p.items),
                   "due_date": p.due_date.isoformat(), "message": p.message,
                   "customer_name": (person or {}).get("name")}
        contact.note_info_request(items=list(p.items), due_date=p.due_date.isoformat(),
                                  trace=trace)
        self._note_owner(contact, env, trace)
        pe.collect_events(contact, self._dispatch(env, "info_request", method, recipient,
                                                  contact.language, context, contact, trace))

    def remind_customer(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """The customer still owes information: one reminder per due date, never two."""
        contact = self._require_contact(env)
        cause = f"due/{p.last_day.isoformat()}"
        if self._exists(Dispatch.create_id(env.complaint_id, "reminder", f"{cause}/customer")):
            return  # sla raised it again for the same due date
        trace = self.reaction_trace(env, "notify")
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "items": list(contact.open_items), "due_date": p.last_day.isoformat()}
        pe.collect_events(self._dispatch(env, "reminder", method, recipient, contact.language,
                                         context, contact, trace, cause=cause))
