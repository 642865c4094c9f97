"""Routing's service layer: step 2 of the process, case by case.

Upstream events open and advance cases (``opening``, ``customer_info``, ``deliveries``,
``deadlines``); staff act through ``act`` (``staff``); ``publishing`` says what other
services hear. The handlers here only find the case, call that code, and collect or save
the events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from hotro.services.routing.application.customer_info import (
    InfoTimeoutOutcome,
    record_information,
)
from hotro.services.routing.application.deadlines import record_deadline_report
from hotro.services.routing.application.deliveries import (
    note_bounce,
    note_failed_delivery,
    record_delivery,
)
from hotro.services.routing.application.opening import open_case
from hotro.services.routing.application.publishing import wire_event
from hotro.services.routing.application.staff import perform
from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.catalogue import Catalogue
from hotro.services.routing.domain.triage import TriageRules
from hotro.services.routing.domain.workflow import Action, CaseError, IllegalTransition
from hotro.shared.calendar import DeadlinePolicy
from hotro.shared.calendar.rules import default_policy
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.application import ServiceApplication, WireEvent, handles
from hotro.shared.eventstore.trace import Trace

__all__ = ["CaseNotFound", "ConcurrentChange", "InfoTimeoutOutcome", "RoutingApplication"]

log = logging.getLogger(__name__)


class CaseNotFound(LookupError):
    pass


class ConcurrentChange(CaseError):
    """Someone else changed the case between reading and saving it; no event was stored."""


class RoutingApplication(ServiceApplication):
    name = "routing"
    # Every event stored now names its case, so each is checked publishable before it is
    # stored (staff input included); only events stored earlier need the case to publish.
    wire_from_event_alone = True
    #: a staff action that meets a concurrent save is tried this many times in all
    ACT_ATTEMPTS = 3

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 catalogue: Catalogue, triage: TriageRules,
                 auto_close_after_reply: bool = True,
                 customer_info_timeout: InfoTimeoutOutcome = "resume_analysis",
                 deadline_policy: DeadlinePolicy | None = None) -> None:
        super().__init__(env, clock)
        self.catalogue = catalogue
        self.triage = triage
        #: the filing window a supervisor's refusal of a late filing explains
        self.deadline_policy = deadline_policy or default_policy()
        self.auto_close_after_reply = auto_close_after_reply
        self.customer_info_timeout = customer_info_timeout

    def reload_triage(self, rules: TriageRules) -> None:
        """Swap the triage rules (already validated); new cases use them at once."""
        self.triage = rules

    # ---- reactions ---------------------------------------------------------------------

    @handles("intake.ComplaintReceived")
    def _on_received(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if self._find(env.complaint_id) is not None:
            return
        pe.collect_events(open_case(env.complaint_id, p, self.triage,
                                    trace=self.reaction_trace(env, "routing"),
                                    now=self.clock()))

    @handles("intake.InfoProvided")
    def _on_info_provided(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._require(env.complaint_id)
        record_information(case, env, p, trace=self.reaction_trace(env, "routing"),
                           now=self.clock())
        pe.collect_events(case)

    @handles("intake.WithdrawalRequested")
    def _on_withdrawal_requested(self, env: Envelope, p: Any,
                                 pe: ProcessingEvent[uuid.UUID]) -> None:
        """The customer withdrew on their page: the case is withdrawn if still open (the
        customer is its actor); one that has ended meanwhile stays as it is."""
        case = self._find(env.complaint_id)
        if case is None:
            return
        trace = Trace(actor_kind="customer", actor_id=env.actor.id,
                      correlation_id=str(env.correlation_id),
                      causation_id=str(env.event_id)).as_dict()
        try:
            case.withdraw(reason=p.reason, trace=trace, now=self.clock())
        except IllegalTransition:
            log.info("case %s: the customer's withdrawal came after it ended (%s): nothing "
                     "to do", case.reference, case.state.value)
            return
        pe.collect_events(case)

    @handles("intake.IncidentDateGiven")
    def _on_incident_date_given(self, env: Envelope, p: Any,
                                pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        if case.record_incident_date(incident_date=p.incident_date,
                                     filing_deadline=p.filing_deadline,
                                     filed_late=p.filed_late,
                                     trace=self.reaction_trace(env, "routing"),
                                     now=self.clock()):
            pe.collect_events(case)

    @handles("notify.ReplySent")
    def _on_reply_sent(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        record_delivery(case, env, p, close_after_reply=self.auto_close_after_reply,
                        trace=self.reaction_trace(env, "routing"), now=self.clock())
        pe.collect_events(case)

    @handles("notify.NotificationFailed")
    def _on_notification_failed(self, env: Envelope, p: Any,
                                pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        note_failed_delivery(case, p, trace=self.reaction_trace(env, "routing"),
                             now=self.clock())
        pe.collect_events(case)

    @handles("intake.DeliveryBounced")
    def _on_bounced(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        note_bounce(case, p, trace=self.reaction_trace(env, "routing"), now=self.clock())
        pe.collect_events(case)

    @handles("sla.DeadlineApproaching", "sla.DeadlineBreached")
    def _on_deadline(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return  # not routing's case: tracked, ignored
        record_deadline_report(case, p, info_timeout=self.customer_info_timeout,
                               trace=self.reaction_trace(env, "routing"), now=self.clock())
        pe.collect_events(case)

    @handles("sla.DeadlineSet", "sla.DeadlineReplanned")
    def _on_deadline_set(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """The reply clock's last day (the first one, then a reopen's, and wherever sla
        moves it: a newer calendar notice, a pause ended): a department's due date may not
        pass it."""
        if p.clock != "reply":
            return
        case = self._find(env.complaint_id)
        if case is None:
            return  # not routing's case: tracked, ignored
        if case.note_reply_deadline(last_day=p.last_day,
                                    trace=self.reaction_trace(env, "routing"),
                                    now=self.clock()):
            pe.collect_events(case)

    # ---- staff commands ----------------------------------------------------------------

    def act(self, complaint_id: uuid.UUID, action: Action, *, role: str,
            actor_department: str | None, trace: dict[str, str | None],
            **arguments: Any) -> Case:
        """One staff action: authorised, checked by the aggregate, saved — or refused with
        an error and no event (see ``staff.perform``).

        When something else saved the case between our load and our save (most often
        routing's own reaction to another service's event, e.g. a deadline noted), the
        action is tried again on the newer case — its guards decide afresh — a few times
        before the caller is told to reload."""
        for _ in range(self.ACT_ATTEMPTS):
            case = self._require(complaint_id)
            perform(case, action, role=role, actor_department=actor_department,
                    catalogue=self.catalogue, deadline_policy=self.deadline_policy,
                    trace=trace, now=self.clock(), **arguments)
            try:
                self.save(case)
            except IntegrityError:
                continue
            return case
        raise ConcurrentChange(f"case {case.reference} was changed at the same time; "
                               "reload it and try again", "concurrent_change")

    # ---- queries -----------------------------------------------------------------------

    def get_case(self, complaint_id: uuid.UUID) -> Case:
        return self._require(complaint_id)

    def _find(self, complaint_id: uuid.UUID) -> Case | None:
        try:
            case: Case = self.repository.get(Case.create_id(complaint_id))
        except AggregateNotFoundError:
            return None
        return case

    def _require(self, complaint_id: uuid.UUID) -> Case:
        case = self._find(complaint_id)
        if case is None:
            raise CaseNotFound(str(complaint_id))
        return case

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, e: Any) -> WireEvent | None:
        return wire_event(e, self._case_at)

    def _case_at(self, case_id: uuid.UUID, version: int) -> Case:
        """Only for events stored before published events named their case."""
        case: Case = self.repository.get(case_id, version=version)
        return case
