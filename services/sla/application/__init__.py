"""SLA service layer: the case's events start, pause, meet and stop its clocks
(``reactions``); the timer raises approaching and breached deadlines and re-plans clocks
under a newer calendar (``deadlines``); the outbox publishes deadline events built from
the stored events (``publishing``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from hotro.services.sla.application import deadlines, reactions
from hotro.services.sla.application.publishing import wire_event
from hotro.services.sla.application.reactions import ClocksOfCase
from hotro.services.sla.domain.clock import CaseClocks, Clock, PausePolicy
from hotro.services.sla.domain.planning import CalendarPlanner
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.application import ServiceApplication, WireEvent, handles


class ClockNotFound(LookupError):
    pass


class SlaApplication(ServiceApplication):
    name = "sla"
    #: Published events carry what their payload needs, so each is checked before it is
    #: stored (an event the relay could not publish would stop it).
    wire_from_event_alone = True

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 planner: CalendarPlanner, approaching_lead_days: int = 2,
                 first_contact_clock: bool = True,
                 pause_policy: PausePolicy | None = None) -> None:
        super().__init__(env, clock)
        self.planner = planner
        self.lead_days = approaching_lead_days
        self.first_contact_clock = first_contact_clock
        self.pause_policy = pause_policy or PausePolicy()

    # ---- reactions ---------------------------------------------------------------------

    @handles("intake.ComplaintReceived")
    def _on_received(self, env: Envelope, p: wire.ComplaintReceived,
                     pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.start_on_receipt(self._case(env, pe), self.planner, p,
                                   first_contact=self.first_contact_clock)

    @handles("notify.AcknowledgementSent")
    def _on_first_contact(self, env: Envelope, p: wire.AcknowledgementSent,
                          pe: ProcessingEvent[uuid.UUID]) -> None:
        self._case(env, pe).meet_kind("first_contact", p.sent_at)

    @handles("routing.InfoRequested")
    def _on_info_requested(self, env: Envelope, p: wire.InfoRequested,
                           pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.await_customer(self._case(env, pe), self.planner, self.pause_policy, p)

    @handles("intake.InfoProvided", "routing.InfoProvided")
    def _on_info_provided(self, env: Envelope, p: wire.InfoProvided,
                          pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.customer_answered(self._case(env, pe), self.planner)

    @handles("routing.ReferredToDepartment")
    def _on_referred(self, env: Envelope, p: wire.ReferredToDepartment,
                     pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.start_department(self._case(env, pe), self.planner, p)

    @handles("routing.DepartmentResponded")
    def _on_department_responded(self, env: Envelope, p: wire.DepartmentResponded,
                                 pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.department_responded(self._case(env, pe), p, env.occurred_at)

    @handles("routing.ReplySent", "notify.ReplySent")
    def _on_reply_sent(self, env: Envelope, p: wire.ReplySent,
                       pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.reply_sent(self._case(env, pe), p)

    @handles("routing.ComplaintClosed")
    def _on_closed(self, env: Envelope, p: wire.ComplaintClosed,
                   pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.stop_all(self._case(env, pe), f"case closed: {p.reason}")

    @handles("routing.ComplaintRefused")
    def _on_refused(self, env: Envelope, p: wire.ComplaintRefused,
                    pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.stop_all(self._case(env, pe), f"case refused: {p.reason}")

    @handles("routing.ComplaintReopened")
    def _on_reopened(self, env: Envelope, p: wire.ComplaintReopened,
                     pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.start_reply_again(self._case(env, pe), self.planner, p)

    @handles("routing.LateFilingAccepted")
    def _on_late_filing_accepted(self, env: Envelope, p: wire.LateFilingAccepted,
                                 pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.start_reply_on_acceptance(self._case(env, pe), self.planner, p)

    @handles("routing.LateFilingFound")
    def _on_late_filing_found(self, env: Envelope, p: wire.LateFilingFound,
                              pe: ProcessingEvent[uuid.UUID]) -> None:
        reactions.stop_for_filing_review(self._case(env, pe), p)

    def _case(self, env: Envelope, pe: ProcessingEvent[uuid.UUID]) -> ClocksOfCase:
        return ClocksOfCase(self.repository, pe, env, self.reaction_trace(env, "sla"))

    # ---- timer -------------------------------------------------------------------------

    def check_clock(self, clock_id: uuid.UUID, now: datetime) -> str | None:
        """Raise what is due on one clock: "breached", "approaching" or None.

        Safe to call from several replicas at once: the guards refuse a second raise and
        the loser of a concurrent save gets an IntegrityError (optimistic concurrency)."""
        clock = self._find(clock_id)
        if clock is None:
            return None
        raised = deadlines.raise_due(clock, now, self.planner, self.lead_days)
        return raised if raised is not None and self._save_or_lose(clock) else None

    def replan_to_calendar(self, clock_id: uuid.UUID) -> bool:
        """Re-plan one clock under the configured calendar if that is a newer notice
        (``deadlines.replan_to_calendar``). True if the deadline moved (DeadlineReplanned)."""
        clock = self._find(clock_id)
        if clock is None or not deadlines.replan_to_calendar(clock, self.planner):
            return False
        return self._save_or_lose(clock)

    def _save_or_lose(self, clock: Clock) -> bool:
        try:
            self.save(clock)
        except IntegrityError:
            return False  # another replica changed this clock first
        return True

    # ---- queries -----------------------------------------------------------------------

    def clocks_of(self, complaint_id: uuid.UUID) -> list[Clock]:
        try:
            index: CaseClocks = self.repository.get(CaseClocks.create_id(complaint_id))
        except AggregateNotFoundError:
            return []
        return [self.get_clock(Clock.create_id(complaint_id, k)) for k in index.kinds]

    def get_clock(self, clock_id: uuid.UUID) -> Clock:
        clock = self._find(clock_id)
        if clock is None:
            raise ClockNotFound(str(clock_id))
        return clock

    def _find(self, clock_id: uuid.UUID) -> Clock | None:
        try:
            clock: Clock = self.repository.get(clock_id)
        except AggregateNotFoundError:
            return None
        return clock

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        return wire_event(domain_event, self._clock_at)

    def _clock_at(self, clock_id: uuid.UUID, version: int) -> Clock:
        clock: Clock = self.repository.get(clock_id, version=version)
        return clock
