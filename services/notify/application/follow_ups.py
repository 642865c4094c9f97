"""The customer wrote again after their case ended (routing's FollowUpReceived): the case's
owner is alerted (the support team when nobody has moved the case on), and the customer
hears that the message arrived and what happens next — never silence."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import ProcessingEvent

from hotro.services.notify.application.alerts import SUPPORT_TEAM_LABEL, InternalAlerts
from hotro.shared.contracts.envelope import Envelope


class FollowUps(InternalAlerts):
    def follow_up(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        contact = self._require_contact(env)
        trace = self.reaction_trace(env, "notify")
        owner = contact.owner
        context = {"reference": p.reference, "channel": p.channel, "excerpt": p.excerpt,
                   "case_state": p.case_state,
                   "handler": owner or SUPPORT_TEAM_LABEL["vi"]}
        alert = self._dispatch(env, "alert_follow_up", "email",
                               self.recipients.staff(owner) if owner
                               else self.recipients.support, "vi", context, None, trace,
                               internal=True, audience="owner")
        person = self.open_customer(contact)
        method, recipient = contact.route(person)
        told = self._dispatch(env, "follow_up_received", method, recipient, contact.language,
                              {"reference": p.reference,
                               "customer_name": (person or {}).get("name"),
                               "case_state": p.case_state}, contact, trace)
        pe.collect_events(alert, told)
