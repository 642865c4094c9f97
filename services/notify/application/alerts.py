"""Internal alerts, by email to staff: a new referral to the department, a staff clock
approaching or breached (to the case's owner and the supervisor) or moved (to the owner),
each also to the department whose clock it is, and a customer message that did not arrive
(to the support team). They stay in notify's own log."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate

from hotro.services.notify.application.intents import Intents
from hotro.services.notify.domain import Contact, Dispatch, ReferralAlert
from hotro.shared.contracts.envelope import Envelope

SUPPORT_TEAM_LABEL = {"vi": "Bộ phận Hỗ trợ khách hàng", "en": "Customer support"}


class InternalAlerts(Intents):
    def alert_department(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """A case referred to a department; whoever referred it owns it from now on. The
        department is alerted once the date it is to answer by is known: the one staff
        gave, else the last day of sla's clock for this referral (``ReferralAlert``)."""
        trace = self.reaction_trace(env, "notify")
        alert = self._referral_alert(env.complaint_id, env.event_id, trace)
        if alert.referral is not None:
            return  # the same referral announced twice: one alert
        contact = self._contact(env.complaint_id)
        if contact is not None:
            self._note_owner(contact, env, trace)
            contact.note_referral(department=p.department, trace=trace)
            contact.await_department(department=p.department, trace=trace)
            pe.collect_events(contact)
        alert.note_referral(reference=p.reference, department=p.department,
                            question=p.question, referred_by=env.actor.id,
                            internal_due=p.internal_due.isoformat() if p.internal_due else None,
                            trace=trace)
        pe.collect_events(*self._request_referral_alert(alert, trace))

    def note_department_clock(self, env: Envelope, p: Any,
                              pe: ProcessingEvent[uuid.UUID]) -> None:
        """sla's DeadlineSet of a department's clock, caused by the referral it times (its
        envelope's causation): the date that referral's alert states."""
        if env.causation_id is None:
            return
        trace = self.reaction_trace(env, "notify")
        alert = self._referral_alert(env.complaint_id, env.causation_id, trace)
        if alert.note_clock(last_day=p.last_day.isoformat(), trace=trace):
            pe.collect_events(*self._request_referral_alert(alert, trace))

    def _referral_alert(self, complaint_id: uuid.UUID, referral_event_id: uuid.UUID,
                        trace: dict[str, str | None]) -> ReferralAlert:
        """The referral's alert record, opened by whichever of the two comes first."""
        try:
            found: ReferralAlert = self.repository.get(
                ReferralAlert.create_id(complaint_id, referral_event_id))
        except AggregateNotFoundError:
            return ReferralAlert(complaint_id=complaint_id,
                                 referral_event_id=referral_event_id, trace=trace)
        return found

    def _request_referral_alert(self, alert: ReferralAlert,
                                trace: dict[str, str | None]) -> list[Aggregate]:
        if not alert.is_due:
            return [alert]
        context = alert.context()
        dispatch = self._new_dispatch(alert.complaint_id, "alert_new_referral", "email",
                                      self.recipients.department(context["department"]),
                                      "vi", context, None, trace, internal=True,
                                      cause=f"{alert.referral_event_id}/department")
        alert.dispatch_requested(dispatch_id=dispatch.id, trace=trace)
        return [alert, dispatch]

    def note_department_answer(self, env: Envelope, p: Any,
                               pe: ProcessingEvent[uuid.UUID]) -> None:
        """routing's DepartmentResponded: the department no longer owes its result."""
        contact = self._contact(env.complaint_id)
        trace = self.reaction_trace(env, "notify")
        if contact is not None and contact.note_department_answer(department=p.department,
                                                                  trace=trace):
            pe.collect_events(contact)

    def release_department(self, env: Envelope, p: Any, withdrawn: str | None,
                           contact: Contact | None, pe: ProcessingEvent[uuid.UUID]) -> None:
        """routing's ComplaintClosed (closed, forced closed or withdrawn: ``withdrawn`` is
        then the customer's reason) while a department still owed its result: the
        department is told it need not answer any more. ``contact``: the complaint's, as
        the reaction holds it (one instance per reaction: two would conflict)."""
        trace = self.reaction_trace(env, "notify")
        department = (contact.release_department(trace=trace) if contact is not None
                      else None)
        if contact is None or department is None:
            return
        context = {"reference": p.reference, "department": department,
                   "withdrawn": withdrawn is not None,
                   "reason": p.reason if withdrawn is None else withdrawn,
                   "ended_by": env.actor.id or SUPPORT_TEAM_LABEL["vi"]}
        alert = self._dispatch(env, "alert_referral_ended", "email",
                               self.recipients.department(department), "vi", context, None,
                               trace, internal=True, audience="department")
        pe.collect_events(contact, alert)

    def alert_owner_of_withdrawal(self, env: Envelope, reference: str, reason: str,
                                  pe: ProcessingEvent[uuid.UUID]) -> None:
        """The customer withdrew on their page: the case's owner (else the support team)
        learns it ended without them, and why."""
        trace = self.reaction_trace(env, "notify")
        contact = self._contact(env.complaint_id)
        owner = contact.owner if contact is not None else None
        context = {"reference": reference, "reason": reason,
                   "handler": owner or SUPPORT_TEAM_LABEL["vi"]}
        pe.collect_events(self._dispatch(
            env, "alert_customer_withdrew", "email",
            self.recipients.staff(owner) if owner else self.recipients.support, "vi",
            context, None, trace, internal=True, audience="owner"))

    def alert_deadline(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """A staff clock approaching or breached: the case's owner, the supervisor and, for
        a department's clock, that department."""
        trace = self.reaction_trace(env, "notify")
        purpose = ("alert_deadline_breached" if env.event_type == "DeadlineBreached"
                   else "alert_deadline_approaching")
        owner, department, told = self._clock_audience(env.complaint_id, p.clock)
        context = {"reference": p.reference, "clock": p.clock, "department": department,
                   "handler": owner or SUPPORT_TEAM_LABEL["vi"],
                   "deadline": p.last_day.isoformat(), "due_at": p.due_at.isoformat(),
                   "working_days_left": getattr(p, "working_days_left", 0)}
        for who, address in [told[0], ("supervisor", self.recipients.supervisor), *told[1:]]:
            pe.collect_events(self._dispatch(env, purpose, "email", address, "vi", context,
                                             None, trace, internal=True, audience=who))

    def alert_deadline_moved(self, env: Envelope, p: Any,
                             pe: ProcessingEvent[uuid.UUID]) -> None:
        """sla moved a staff clock (a newer holiday notice; a paused clock counting
        again): the case's owner is told, and for a department's clock the department the
        case was referred to, which was given the earlier date."""
        trace = self.reaction_trace(env, "notify")
        owner, department, told = self._clock_audience(env.complaint_id, p.clock)
        context = {"reference": p.reference, "clock": p.clock, "department": department,
                   "handler": owner or SUPPORT_TEAM_LABEL["vi"],
                   "deadline": p.last_day.isoformat(),
                   "previous_deadline": p.previous_last_day.isoformat(),
                   "due_at": p.due_at.isoformat(), "calendar_version": p.calendar_version}
        for who, address in told:
            pe.collect_events(self._dispatch(env, "alert_deadline_moved", "email", address,
                                             "vi", context, None, trace, internal=True,
                                             audience=who))

    def _clock_audience(self, complaint_id: uuid.UUID, clock: str
                        ) -> tuple[str | None, str | None, list[tuple[str, str]]]:
        """(the case's owner, the department whose clock it is, who is told): the owner
        (before anyone has moved the case on, the support team's mailbox stands in) and,
        for a department's clock, the department the case was last referred to (None for
        other clocks, or a referral made before notify kept it)."""
        contact = self._contact(complaint_id)
        owner = contact.owner if contact is not None else None
        department = (contact.referred_to if contact is not None and clock == "department"
                      else None)
        told = [("owner", self.recipients.staff(owner) if owner else self.recipients.support)]
        if department is not None:
            told.append(("department", self.recipients.department(department)))
        return owner, department, told

    def failure_alert(self, dispatch: Dispatch, kind: str, reason: str,
                      trace: dict[str, str | None]) -> list[Dispatch]:
        """An alert to the support team about a customer message that did not arrive.
        Alerts about alerts are not raised (they would fail the same way)."""
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

    def alert_unmatched_bounce(self, env: Envelope, p: Any, dispatch: Dispatch | None,
                               pe: ProcessingEvent[uuid.UUID]) -> None:
        """A bounce of a message that is not a sent email of ours: staff are told."""
        trace = self.reaction_trace(env, "notify")
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
