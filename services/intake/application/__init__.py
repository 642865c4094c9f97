"""Intake's service layer: accept requests from any channel, exactly once each.

One application, composed of its use cases (one module each); the handlers of upstream
events are here, and only call them."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from eventsourcing.application import ProcessingEvent

from hotro.services.intake.application.base import RequestNotFound
from hotro.services.intake.application.closing import Closing
from hotro.services.intake.application.customer_status import CustomerStatus, Exchanges
from hotro.services.intake.application.duplicates import (
    DuplicateAlreadyDecided,
    DuplicateLinkNotFound,
)
from hotro.services.intake.application.erasure import Erasure
from hotro.services.intake.application.hotline import Delivery, Hotline, ReplayedDelivery
from hotro.services.intake.application.info import ProvidingInfo, RequestClosed
from hotro.services.intake.application.mail import MailThreading, ThreadClaim
from hotro.services.intake.application.outbox import to_wire
from hotro.services.intake.application.receiving import (
    Accepted,
    CallNotDraft,
    IdempotencyConflict,
    NewRequest,
    Receiving,
    UnknownCall,
)
from hotro.services.intake.application.withdrawal import Withdrawals
from hotro.services.intake.domain import FilingCheck, ReferenceCounter
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.application import WireEvent, handles

__all__ = ["Accepted", "CallNotDraft", "Delivery", "DuplicateAlreadyDecided",
           "DuplicateLinkNotFound", "Exchanges", "FilingCheck", "IdempotencyConflict",
           "IntakeApplication", "NewRequest", "ReplayedDelivery", "RequestClosed",
           "RequestNotFound", "ThreadClaim", "UnknownCall"]


class IntakeApplication(Receiving, Hotline, MailThreading, ProvidingInfo, Erasure, Closing,
                        CustomerStatus, Withdrawals):
    name = "intake"
    #: The yearly reference counter gains an event per request: without snapshots every
    #: allocation would replay the whole year (quadratic). Snapshots live beside the
    #: events, outside the notification log, so the audit trail is unchanged.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {ReferenceCounter: 100}
    wire_from_event_alone = True  # outside input: nothing unpublishable enters the store

    @handles("routing.ComplaintClosed")
    def _on_closed(self, envelope: Envelope, payload: Any,
                   processing: ProcessingEvent[uuid.UUID]) -> None:
        request = self.close_request(envelope.complaint_id, reason=payload.reason,
                                     trace=self.reaction_trace(envelope, "intake"))
        if request is not None:
            processing.collect_events(request)

    @handles("routing.ComplaintRefused")
    def _on_refused(self, envelope: Envelope, payload: Any,
                    processing: ProcessingEvent[uuid.UUID]) -> None:
        deadline = payload.filing_deadline
        request = self.refuse_request(
            envelope.complaint_id, reason=payload.reason, explanation=payload.explanation,
            filing_deadline=deadline.isoformat() if deadline else None,
            trace=self.reaction_trace(envelope, "intake"))
        if request is not None:
            processing.collect_events(request)

    @handles("routing.ComplaintReopened")
    def _on_reopened(self, envelope: Envelope, payload: Any,
                     processing: ProcessingEvent[uuid.UUID]) -> None:
        request = self.reopen_request(envelope.complaint_id, reason=payload.reason,
                                      trace=self.reaction_trace(envelope, "intake"))
        if request is not None:
            processing.collect_events(request)

    @handles("notify.AcknowledgementSent")
    def _on_acknowledged(self, envelope: Envelope, payload: Any,
                         processing: ProcessingEvent[uuid.UUID]) -> None:
        self._index_sent_message(envelope, payload, processing)
        self._progress(envelope, processing, "acknowledged")

    @handles("notify.ReplySent", "routing.ReplySent")
    def _on_reply_sent(self, envelope: Envelope, payload: Any,
                       processing: ProcessingEvent[uuid.UUID]) -> None:
        """notify delivered a message (its Message-ID threads replies back); a delivered
        reply (notify's, or one staff gave by phone or in person, routing's) answers."""
        if envelope.producer == "notify":
            self._index_sent_message(envelope, payload, processing)
        if payload.purpose == "reply":
            self._progress(envelope, processing, "answered")

    @handles("routing.ReplyRequested")
    def _on_reply_requested(self, envelope: Envelope, payload: Any,
                            processing: ProcessingEvent[uuid.UUID]) -> None:
        request = self.note_reply(envelope.complaint_id, purpose=payload.purpose,
                                  method=payload.method, content=payload.content,
                                  language=payload.language,
                                  trace=self.reaction_trace(envelope, "intake"))
        if request is not None:
            processing.collect_events(request)

    @handles("routing.InfoRequested")
    def _on_info_requested(self, envelope: Envelope, payload: Any,
                           processing: ProcessingEvent[uuid.UUID]) -> None:
        self._progress(envelope, processing, "info_requested", items=list(payload.items),
                       due_date=payload.due_date.isoformat())

    @handles("routing.InfoProvided")
    def _on_info_handed_to_staff(self, envelope: Envelope, payload: Any,
                                 processing: ProcessingEvent[uuid.UUID]) -> None:
        self._progress(envelope, processing, "info_received")

    @handles("routing.ReferredToDepartment")
    def _on_referred(self, envelope: Envelope, payload: Any,
                     processing: ProcessingEvent[uuid.UUID]) -> None:
        self._progress(envelope, processing, "referred")  # which department: not kept

    @handles("routing.DepartmentResponded")
    def _on_department_responded(self, envelope: Envelope, payload: Any,
                                 processing: ProcessingEvent[uuid.UUID]) -> None:
        self._progress(envelope, processing, "department_responded")

    @handles("sla.DeadlineSet", "sla.DeadlineReplanned")
    def _on_deadline(self, envelope: Envelope, payload: Any,
                     processing: ProcessingEvent[uuid.UUID]) -> None:
        """The reply clock's last day: what the customer's page promises."""
        if payload.clock == "reply":
            self._progress(envelope, processing, "reply_deadline",
                           due_date=payload.last_day.isoformat())

    @handles("sla.DeadlineBreached")
    def _on_deadline_breached(self, envelope: Envelope, payload: Any,
                              processing: ProcessingEvent[uuid.UUID]) -> None:
        """The customer's time to send the information ran out: routing goes on with what
        it has (or withdraws the case, which its ComplaintClosed tells)."""
        if payload.clock == "customer_info":
            self._progress(envelope, processing, "info_window_lapsed")

    # ---- helpers of the handlers --------------------------------------------------------

    def _index_sent_message(self, envelope: Envelope, payload: Any,
                            processing: ProcessingEvent[uuid.UUID]) -> None:
        """Remember the Message-IDs we sent, so a customer's reply threads back."""
        if payload.method != "email" or not payload.proof:
            return
        index = self.new_sent_message(envelope.complaint_id, payload.proof,
                                      self.reaction_trace(envelope, "intake"))
        if index is not None:
            processing.collect_events(index)

    def _progress(self, envelope: Envelope, processing: ProcessingEvent[uuid.UUID],
                  step: str, *, items: list[str] | None = None,
                  due_date: str | None = None) -> None:
        request = self.progress(envelope.complaint_id, step,
                                at=envelope.occurred_at.isoformat(), items=items,
                                due_date=due_date,
                                trace=self.reaction_trace(envelope, "intake"))
        if request is not None:
            processing.collect_events(request)

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        return to_wire(domain_event)
