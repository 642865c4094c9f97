"""Dispatch outcomes: what a channel reports (the proof, or a failure), what staff record
(a phone or in-person reply, the tracking number of a posted letter) and what comes back
later (a bounce).

Exactly-once intent, at-least-once sending
------------------------------------------
``attempt`` hands the dispatch to its channel first and then stores the outcome (``Sent``,
``LetterPrinted``, ``AttemptFailed``/``Failed``). The crash window: if the process dies (or
the store refuses the write) after the SMTP server accepted the message but before ``Sent``
is stored, the dispatch is still pending and the sender sends it again after the restart —
**once more, with the same Message-ID**, which receiving systems and mail clients use to
recognise the duplicate. ``Sent`` is recorded only once (a second ``mark_sent`` is refused
by the aggregate, and a concurrent one by the version check), so
``AcknowledgementSent``/``ReplySent`` are published once. The window lasts one ``save`` (a
few milliseconds); shrinking it further would need a two-phase protocol SMTP does not
offer. SMS carries the dispatch id as its Idempotency-Key; a letter is re-rendered to the
same file name (idempotent).

A permanent failure, or ``max_attempts`` transient ones, ends the dispatch as ``Failed``
(→ ``NotificationFailed`` on the wire, a note in routing) and records an alert to the
support team in the same transaction. A bounce reported later by intake
(``DeliveryBounced``) marks the sent dispatch ``Bounced`` and alerts the team too.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError

from hotro.services.notify.application.alerts import InternalAlerts
from hotro.services.notify.application.channel import (
    Channel,
    PermanentFailure,
    TransientFailure,
)
from hotro.services.notify.domain import (
    POSTED,
    WITHDRAWN_BEFORE_SENT,
    Dispatch,
    DispatchError,
)
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.trace import Trace


class OutcomeNotRecorded(RuntimeError):
    """The message went out, but storing that fact failed (store down, crash in save)."""

    def __init__(self, dispatch_id: uuid.UUID, proof: str) -> None:
        super().__init__(f"dispatch {dispatch_id} was delivered ({proof}) but not recorded")
        self.dispatch_id = dispatch_id
        self.proof = proof


class DispatchOutcomes(InternalAlerts):
    def attempt(self, dispatch_id: uuid.UUID, channel: Channel) -> str:
        """One attempt to send. Returns the dispatch status afterwards.

        Sends, then records (see the module docstring for the crash window between the
        two). If the message went out but the outcome cannot be stored, raises
        ``OutcomeNotRecorded`` carrying the proof, so a caller that is still alive can
        store it later with ``record_delivered`` instead of sending again.
        """
        dispatch = self.get_dispatch(dispatch_id)
        if not dispatch.is_pending:
            return str(dispatch.status)
        contact = self._contact(dispatch.complaint_id)
        trace = self._sender_trace(dispatch)
        if contact is not None and not dispatch.internal \
                and contact.makes_pointless(dispatch.purpose):
            return self._cancel(dispatch, trace)
        alerts: list[Dispatch] = []
        try:
            proof = channel.deliver(*self.opened(dispatch, contact))
        except TransientFailure as exc:
            dispatch.attempt_failed(reason=str(exc)[:500], trace=trace)
            if dispatch.attempts >= self.max_attempts:
                reason = f"gave up after {dispatch.attempts} attempts: {exc}"[:500]
                dispatch.fail(reason=reason, trace=trace)
                alerts = self.failure_alert(dispatch, "failed", reason, trace)
        except PermanentFailure as exc:
            dispatch.attempt_failed(reason=str(exc)[:500], trace=trace)
            dispatch.fail(reason=str(exc)[:500], trace=trace)
            alerts = self.failure_alert(dispatch, "failed", str(exc), trace)
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

    def record_delivered(self, dispatch_id: uuid.UUID, proof: str, *,
                         dispatch: Dispatch | None = None) -> str:
        """Store the outcome of a dispatch that went out: Sent, or LetterPrinted. One
        cancelled meanwhile (a withdrawal) is recorded as sent all the same: it went; a
        letter cancelled is only printed, and stays cancelled."""
        dispatch = dispatch or self.get_dispatch(dispatch_id)
        for _ in range(2):
            went = dispatch.is_pending or (dispatch.status == "cancelled"
                                           and dispatch.method not in POSTED)
            if not went:
                return str(dispatch.status)
            trace = self._sender_trace(dispatch)
            now = self.clock().isoformat()
            if dispatch.method in POSTED:
                dispatch.letter_printed(file=proof, at=now, trace=trace)
            else:
                dispatch.mark_sent(proof=proof, sent_at=now, trace=trace)
            try:
                self.save(dispatch)
            except IntegrityError:  # another replica recorded it, or it was cancelled
                dispatch = self.get_dispatch(dispatch_id)
                continue
            return str(dispatch.status)
        return str(dispatch.status)

    def _cancel(self, dispatch: Dispatch, trace: dict[str, str | None]) -> str:
        """Not sent: the request was withdrawn while it waited."""
        dispatch.cancel(reason=WITHDRAWN_BEFORE_SENT, trace=trace)
        try:
            self.save(dispatch)
        except IntegrityError:  # changed meanwhile: the sender asks again
            return str(self.get_dispatch(dispatch.id).status)
        return str(dispatch.status)

    def record_staff_outcome(self, dispatch_id: uuid.UUID, *, staff_id: str, summary: str,
                             proof: str, trace: dict[str, str | None],
                             at: datetime | None = None) -> Dispatch:
        """A phone or in-person reply given by a staff member."""
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
        """A printed letter was posted: its tracking number is the proof."""
        dispatch = self.get_dispatch(dispatch_id)
        dispatch.record_posting(tracking_number=tracking_number, carrier=carrier,
                                staff_id=staff_id, at=self.clock().isoformat(), trace=trace)
        self.save(dispatch)
        return dispatch

    def record_bounce(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """Our email came back. Never raises on a bounce it cannot match: staff are told."""
        dispatch = self._by_message_id(p.message_id)
        if dispatch is not None and dispatch.status == "bounced":
            return
        if dispatch is not None and dispatch.status == "sent" and dispatch.method == "email":
            trace = self.reaction_trace(env, "notify")
            dispatch.bounce(reason=p.reason[:500], at=self.clock().isoformat(), trace=trace)
            pe.collect_events(dispatch)
            contact = None if dispatch.internal else self._contact(dispatch.complaint_id)
            if contact is not None and contact.note_email_bounced(
                    message_id=dispatch.message_id or p.message_id, trace=trace):
                pe.collect_events(contact)
            pe.collect_events(*self.failure_alert(dispatch, "bounced", p.reason, trace))
            return
        self.alert_unmatched_bounce(env, p, dispatch, pe)

    @staticmethod
    def _sender_trace(dispatch: Dispatch) -> dict[str, str | None]:
        return Trace.system("notify-sender",
                            correlation_id=dispatch.trace["correlation_id"],
                            causation_id=dispatch.trace.get("causation_id")).as_dict()
