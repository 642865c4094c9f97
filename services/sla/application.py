"""SLA service layer: clocks started, paused, met and stopped by upstream events; the timer
raises approaching and breached deadlines and re-plans clocks under a newer calendar."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from hotro.services.sla.domain import CaseClocks, Clock, ClockError, PausePolicy, base_kind
from hotro.services.sla.planning import Plan, Planner
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.application import ServiceApplication, WireEvent, handles
from hotro.shared.eventstore.trace import Trace

TIMER_ACTOR = "sla-timer"


class ClockNotFound(LookupError):
    pass


class SlaApplication(ServiceApplication):
    name = "sla"

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 planner: Planner, approaching_lead_days: int = 2,
                 first_contact_clock: bool = True,
                 pause_policy: PausePolicy | None = None) -> None:
        super().__init__(env, clock)
        self.planner = planner
        self.lead_days = approaching_lead_days
        self.first_contact_clock = first_contact_clock
        self.pause_policy = pause_policy or PausePolicy()

    # ---- reactions ---------------------------------------------------------------------

    @handles("intake.ComplaintReceived")
    def _on_received(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        kinds = ["reply", "first_contact"] if self.first_contact_clock else ["reply"]
        for kind in kinds:
            plan = self.planner.plan(kind, p.received_at, product=p.product,
                                     category=p.category)
            self._start(pe, env, kind, p.reference, plan, counted=True)

    @handles("notify.AcknowledgementSent")
    def _on_first_contact(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self._meet(pe, env, "first_contact", p.sent_at)

    @handles("routing.InfoRequested")
    def _on_info_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        plan = self.planner.plan_until("customer_info", env.occurred_at, p.due_date,
                                       rule=f"due date set by support (round {p.round})")
        self._start(pe, env, f"customer_info/{p.round}", p.reference, plan, counted=False)
        self._meet(pe, env, "first_contact", env.occurred_at)  # engaging with the customer
        on = self.planner.local_date(env.occurred_at).isoformat()
        for clock in self._open_clocks(pe, env.complaint_id):
            if clock.status == "running" and \
                    self.pause_policy.pauses_while_awaiting_customer(clock.kind):
                try:
                    clock.pause(at=env.occurred_at, on=on,
                                reason=f"awaiting the customer's information (round {p.round})",
                                trace=self.reaction_trace(env, "sla"))
                except ClockError:
                    continue  # already due: the timer breaches it
                pe.collect_events(clock)

    @handles("intake.InfoProvided", "routing.InfoProvided")
    def _on_info_provided(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        info = [c for c in self._open_clocks(pe, env.complaint_id)
                if base_kind(c.kind) == "customer_info"]
        for clock in info:  # the information answers every open request
            clock.meet(at=env.occurred_at, trace=self.reaction_trace(env, "sla"))
            pe.collect_events(clock)
        on = self.planner.local_date(env.occurred_at)
        for clock in self._open_clocks(pe, env.complaint_id):
            if clock.status == "paused":
                self._resume(pe, env, clock, on)

    @handles("routing.ReferredToDepartment")
    def _on_referred(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if p.internal_due is not None:
            plan = self.planner.plan_until("department", env.occurred_at, p.internal_due,
                                           rule=f"internal due date for {p.department}")
            counted = False
        else:
            plan = self.planner.plan("department", env.occurred_at)
            counted = True
        self._start(pe, env, f"department/{p.department}", p.reference, plan, counted=counted)

    @handles("routing.DepartmentResponded")
    def _on_department_responded(self, env: Envelope, p: Any,
                                 pe: ProcessingEvent[uuid.UUID]) -> None:
        self._meet(pe, env, f"department/{p.department}", env.occurred_at)

    @handles("routing.ReplySent", "notify.ReplySent")
    def _on_reply_sent(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if p.purpose in ("reply", "refusal"):
            self._meet(pe, env, "reply", p.sent_at)
        self._meet(pe, env, "first_contact", p.sent_at)  # any message to the customer engages

    @handles("routing.ComplaintClosed")
    def _on_closed(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        for clock in self._open_clocks(pe, env.complaint_id):
            clock.stop(reason=f"case closed: {p.reason}", trace=self.reaction_trace(env, "sla"))
            pe.collect_events(clock)

    # ---- timer -------------------------------------------------------------------------

    def check_clock(self, clock_id: uuid.UUID, now: datetime) -> str | None:
        """Raise what is due on one clock: "breached", "approaching" or None.

        Safe to call from several replicas at once: the guards refuse a second raise and
        the loser of a concurrent save gets an IntegrityError (optimistic concurrency)."""
        try:
            clock: Clock = self.repository.get(clock_id)
        except AggregateNotFoundError:
            return None
        if clock.status != "running":
            return None
        trace = Trace.system(TIMER_ACTOR, correlation_id=clock.trace["correlation_id"]).as_dict()
        if now >= clock.due():
            clock.breach(now=now, trace=trace)
            raised = "breached"
        elif not clock.approached and self.planner.in_working_hours(now):
            left = self.planner.working_days_left(now, date.fromisoformat(clock.last_day))
            if left > self.lead_days:
                return None
            clock.approach(working_days_left=left, trace=trace)
            raised = "approaching"
        else:
            return None
        return raised if self._save_or_lose(clock) else None

    def replan_to_calendar(self, clock_id: uuid.UUID) -> bool:
        """Re-plan a running counted clock under the configured calendar when that is a
        newer notice than the one the clock was planned with. Returns True if the deadline
        moved (DeadlineReplanned). Met, stopped, breached clocks are never rewritten; dates a
        person chose are not moved; a paused clock is re-planned when it resumes."""
        try:
            clock: Clock = self.repository.get(clock_id)
        except AggregateNotFoundError:
            return False
        if clock.status != "running" or not clock.counted or \
                not self.planner.is_newer_than(clock.calendar_version):
            return False
        plan = self.planner.plan_counted(date.fromisoformat(clock.start), clock.working_days,
                                         clock.rule, _pauses(clock.closed_pauses()))
        if plan.last_day.isoformat() == clock.last_day:
            return False
        trace = Trace.system(TIMER_ACTOR, correlation_id=clock.trace["correlation_id"]).as_dict()
        clock.replan(last_day=plan.last_day.isoformat(), due_at=plan.due_at.isoformat(),
                     working_days=plan.working_days, rule=plan.rule,
                     explanation=plan.explanation, calendar_version=plan.calendar_version,
                     reason=f"calendar {clock.calendar_version} replaced by "
                            f"{plan.calendar_version} (a newer Government notice)",
                     trace=trace)
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
        return [self.repository.get(Clock.create_id(complaint_id, k)) for k in index.kinds]

    def get_clock(self, clock_id: uuid.UUID) -> Clock:
        try:
            clock: Clock = self.repository.get(clock_id)
        except AggregateNotFoundError:
            raise ClockNotFound(str(clock_id)) from None
        return clock

    # ---- helpers -----------------------------------------------------------------------

    def _load(self, pe: ProcessingEvent[uuid.UUID], aggregate_id: uuid.UUID) -> Any:
        """The aggregate as already changed in this processing event, else as stored."""
        in_flight = pe.aggregates.get(aggregate_id)
        if in_flight is not None:
            return in_flight
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _open_clocks(self, pe: ProcessingEvent[uuid.UUID],
                     complaint_id: uuid.UUID) -> list[Clock]:
        index = self._load(pe, CaseClocks.create_id(complaint_id))
        if index is None:
            return []
        clocks = [self._load(pe, Clock.create_id(complaint_id, k)) for k in index.kinds]
        return [c for c in clocks if c is not None and c.is_open]

    def _start(self, pe: ProcessingEvent[uuid.UUID], env: Envelope, kind: str, reference: str,
               plan: Plan, *, counted: bool) -> None:
        clock_id = Clock.create_id(env.complaint_id, kind)
        if self._load(pe, clock_id) is not None:
            return  # already started (e.g. the same referral twice): the first one stands
        trace = self.reaction_trace(env, "sla")
        index = self._load(pe, CaseClocks.create_id(env.complaint_id)) or \
            CaseClocks(complaint_id=env.complaint_id, trace=trace)
        index.add(kind=kind, trace=trace)
        clock = Clock(complaint_id=env.complaint_id, kind=kind, reference=reference,
                      start=plan.start.isoformat(), last_day=plan.last_day.isoformat(),
                      due_at=plan.due_at.isoformat(), working_days=plan.working_days,
                      rule=plan.rule, explanation=plan.explanation,
                      calendar_version=plan.calendar_version, counted=counted, trace=trace)
        pe.collect_events(index, clock)

    def _meet(self, pe: ProcessingEvent[uuid.UUID], env: Envelope, kind: str,
              at: datetime) -> bool:
        clock = self._load(pe, Clock.create_id(env.complaint_id, kind))
        if clock is None or not clock.is_open:
            return False
        clock.meet(at=at, trace=self.reaction_trace(env, "sla"))
        pe.collect_events(clock)
        return True

    def _resume(self, pe: ProcessingEvent[uuid.UUID], env: Envelope, clock: Clock,
                on: date) -> None:
        pauses = _pauses(clock.pauses_if_resumed_on(on.isoformat()))
        plan = self.planner.plan_counted(date.fromisoformat(clock.start), clock.working_days,
                                         clock.rule, pauses)
        clock.resume(at=env.occurred_at, on=on.isoformat(), last_day=plan.last_day.isoformat(),
                     due_at=plan.due_at.isoformat(), explanation=plan.explanation,
                     calendar_version=plan.calendar_version,
                     reason=f"the customer's information arrived on {on.isoformat()}: the "
                            f"clock counts again (paused since {pauses[-1][0].isoformat()})",
                     trace=self.reaction_trace(env, "sla"))
        pe.collect_events(clock)

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        if not isinstance(domain_event, Clock.Set | Clock.Approaching | Clock.Breached |
                          Clock.Met | Clock.Replanned | Clock.Resumed):
            return None  # Paused, Stopped and the case index stay internal
        clock: Clock = self.repository.get(domain_event.originator_id,
                                           version=domain_event.originator_version)
        base: dict[str, Any] = {"reference": clock.reference, "clock": base_kind(clock.kind),
                                "last_day": clock.last_day, "due_at": clock.due_at,
                                "calendar_version": clock.calendar_version}
        payload: wire.Payload
        if isinstance(domain_event, Clock.Set):
            payload = wire.DeadlineSet(**base, working_days=clock.working_days,
                                       start=clock.start, rule=clock.rule,
                                       explanation=clock.explanation)
        elif isinstance(domain_event, Clock.Approaching):
            payload = wire.DeadlineApproaching(
                **base, working_days_left=domain_event.working_days_left)
        elif isinstance(domain_event, Clock.Breached):
            payload = wire.DeadlineBreached(**base)
        elif isinstance(domain_event, Clock.Met):
            payload = wire.DeadlineMet(**base, met_at=domain_event.at)
        else:  # Replanned, Resumed: a new deadline, with its reason
            payload = wire.DeadlineReplanned(**base,
                                             previous_last_day=domain_event.previous_last_day,
                                             reason=domain_event.reason)
        return WireEvent(clock.complaint_id, payload)


def _pauses(pairs: list[tuple[str, str]]) -> list[tuple[date, date]]:
    return [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in pairs]
