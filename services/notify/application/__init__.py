"""Notify's service layer: record the intent to send once, send it, record the outcome.

One application, composed of its use cases (one module each): ``acknowledgements``
(contacts, and the acknowledgement that waits for sla's reply date), ``information``
(information requests and reminders), ``replies`` (replies and refusals), ``alerts``
(internal alerts), ``outcomes`` (what channels and staff report, bounces), ``links`` (the
customer's link to their case in what they are sent, and a fresh one when intake reissues
it) and ``publishing`` (what goes on the wire). The handlers below only pick the use case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.application import ProcessingEvent

from hotro.services.notify.application.acknowledgements import Acknowledgements
from hotro.services.notify.application.follow_ups import FollowUps
from hotro.services.notify.application.information import InformationRequests
from hotro.services.notify.application.intents import DispatchNotFound, Recipients
from hotro.services.notify.application.links import CustomerLinkMessages, CustomerLinks
from hotro.services.notify.application.outcomes import DispatchOutcomes, OutcomeNotRecorded
from hotro.services.notify.application.publishing import wire_event
from hotro.services.notify.application.replies import Replies
from hotro.services.notify.domain import Dispatch, DispatchError
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.contracts.events import withdrawal_reason
from hotro.shared.eventstore.application import WireEvent, handles
from hotro.shared.privacy.sealing import KeyRing, process_keyring


class NotifyApplication(CustomerLinkMessages, Acknowledgements, InformationRequests, Replies,
                        DispatchOutcomes, FollowUps):
    name = "notify"
    #: Each outcome carries what its wire event needs (``Dispatch._published``), so the
    #: envelope is built and checked at save, and the relay takes it from memory.
    wire_from_event_alone = True

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 recipients: Recipients | None = None, max_attempts: int = 5,
                 keyring: KeyRing | None = None,
                 customer_links: CustomerLinks | None = None) -> None:
        super().__init__(env, clock)
        #: the complaints' data keys (see ``application.personal_data``)
        self.keyring = keyring or process_keyring()
        self.recipients = recipients or Recipients()
        self.max_attempts = max_attempts
        #: the customers' case links (None: no capability keys, no links)
        self.customer_links = customer_links

    # ---- reactions: record intents -------------------------------------------------------

    @handles("intake.ComplaintReceived")
    def _on_received(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.record_receipt(env, p, pe)

    @handles("sla.DeadlineSet")
    def _on_deadline_set(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if p.clock == "reply":
            self.note_reply_deadline(env, p, pe)
        elif p.clock == "department":
            self.note_department_clock(env, p, pe)

    @handles("sla.DeadlineReplanned")
    def _on_deadline_replanned(self, env: Envelope, p: Any,
                               pe: ProcessingEvent[uuid.UUID]) -> None:
        if p.clock == "reply":
            self.note_reply_deadline_moved(env, p, pe)
        elif p.clock in ("department", "first_contact"):
            self.alert_deadline_moved(env, p, pe)

    @handles("routing.InfoRequested")
    def _on_info_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.ask_for_information(env, p, pe)

    @handles("routing.ReplyRequested")
    def _on_reply_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.send_reply(env, p, pe)
        self.note_answer(env, pe)

    @handles("routing.ReplySent")
    def _on_reply_recorded(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        # routing publishes it only for a reply staff recorded as given (phone, in person)
        self.note_answer(env, pe)

    @handles("routing.ComplaintRefused")
    def _on_refused(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.send_refusal(env, p, pe)
        self.note_answer(env, pe)

    @handles("routing.ReferredToDepartment")
    def _on_referred(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.alert_department(env, p, pe)

    @handles("routing.DepartmentResponded")
    def _on_department_responded(self, env: Envelope, p: Any,
                                 pe: ProcessingEvent[uuid.UUID]) -> None:
        self.note_department_answer(env, p, pe)

    @handles("routing.ComplaintClosed")
    def _on_closed(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        withdrawn = withdrawal_reason(p.reason)
        contact = self._contact(env.complaint_id)
        self.release_department(env, p, withdrawn, contact, pe)
        if withdrawn is not None:
            self.note_withdrawal(env, contact, pe)
            self.tell_withdrawn(env, p.reference, withdrawn, pe)
            if env.actor.kind == "customer":  # on their page: staff did not record it
                self.alert_owner_of_withdrawal(env, p.reference, withdrawn, pe)

    @handles("sla.DeadlineApproaching", "sla.DeadlineBreached")
    def _on_deadline(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if env.event_type == "DeadlineApproaching" and p.clock == "customer_info":
            self.remind_customer(env, p, pe)
        else:
            self.alert_deadline(env, p, pe)

    @handles("routing.LateFilingFound")
    def _on_late_filing_found(self, env: Envelope, p: Any,
                              pe: ProcessingEvent[uuid.UUID]) -> None:
        self.tell_filing_review(env, p, pe)

    @handles("routing.ComplaintReopened")
    def _on_reopened(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.note_reopen(env, pe)

    @handles("routing.FollowUpReceived")
    def _on_follow_up(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.follow_up(env, p, pe)

    @handles("intake.DeliveryBounced")
    def _on_bounced(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.record_bounce(env, p, pe)

    @handles("intake.CustomerLinkReissued")
    def _on_link_reissued(self, env: Envelope, p: Any,
                          pe: ProcessingEvent[uuid.UUID]) -> None:
        self.send_fresh_link(env, p, pe)

    # ---- outbox mapping --------------------------------------------------------------------

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        return wire_event(domain_event, self._dispatch_at)

    def _dispatch_at(self, dispatch_id: uuid.UUID, version: int) -> Dispatch:
        dispatch: Dispatch = self.repository.get(dispatch_id, version=version)
        return dispatch


__all__ = ["CustomerLinks", "DispatchError", "DispatchNotFound", "NotifyApplication",
           "OutcomeNotRecorded", "Recipients"]
