"""SLA service layer: clocks started, met and stopped by upstream events; the timer
raises approaching and breached deadlines."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from services.sla.domain import CaseClocks, Clock, ClockError
from services.sla.planning import Plan, Planner
from shared.contracts import events as wire
from shared.contracts.envelope import Envelope
from shared.contracts.topology import subscriptions_of
from shared.eventstore.application import Handler, ServiceApplication, WireEvent
from shared.eventstore.trace import Trace

MAX_INFO_ROUNDS = 20


class SlaApplication(ServiceApplication):
    name: ClassVar[str] = "sla"
    subscriptions: ClassVar[dict[str, tuple[str, ...]]] = subscriptions_of("sla")

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 planner: Planner, approaching_lead_days: int = 2,
                 first_contact_clock: bool = True) -> None:
        super().__init__(env, clock)
        self.planner = planner
        self.lead_days = approaching_lead_days
        self.first_contact_clock = first_contact_clock

    # ---- reactions ---------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {
            "ComplaintReceived": self._on_received,
            "AcknowledgementSent": self._on_first_contact,
            "InfoRequested": self._on_info_requested,
            "InfoProvided": self._on_info_provided,
            "ReferredToDepartment": self._on_referred,
            "DepartmentResponded": self._on_department_responded,
            "ReplySent": self._on_reply_sent,
            "ComplaintClosed": self._on_closed,
        }

    def _on_received(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        received = p.received_at
        clocks = [("reply", self.planner.plan("reply", received, product=p.product,
                                              category=p.category))]
        if self.first_contact_clock:
            clocks.append(("first_contact", self.planner.plan(
                "first_contact", received, product=p.product, category=p.category)))
        for kind, plan in clocks:
            self._start(pe, env, kind, p.reference, plan)

    def _on_first_contact(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self._meet(pe, env, "first_contact", p.sent_at)

    def _on_info_requested(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        plan = self.planner.plan_until("customer_info", env.occurred_at, p.due_date,
                                       rule=f"due date set by support (round {p.round})")
        self._start(pe, env, f"customer_info/{p.round}", p.reference, plan)
        self._meet(pe, env, "first_contact", env.occurred_at)

    def _on_info_provided(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        for n in range(MAX_INFO_ROUNDS, 0, -1):
            if self._meet(pe, env, f"customer_info/{n}", env.occurred_at):
                return

    def _on_referred(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if p.internal_due is not None:
            plan = self.planner.plan_until("department", env.occurred_at, p.internal_due,
                                           rule=f"internal due date for {p.department}")
        else:
            plan = self.planner.plan("department", env.occurred_at)
        self._start(pe, env, f"department/{p.department}", p.reference, plan)

    def _on_department_responded(self, env: Envelope, p: Any,
                                 pe: ProcessingEvent[uuid.UUID]) -> None:
        self._meet(pe, env, f"department/{p.department}", env.occurred_at)

    def _on_reply_sent(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if p.purpose in ("reply", "refusal"):
            self._meet(pe, env, "reply", p.sent_at)

    def _on_closed(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        for clock in self.clocks_of(env.complaint_id):
            if clock.status == "running":
                clock.stop(reason=f"case closed: {p.reason}",
                           trace=self.reaction_trace(env, "sla"))
                pe.collect_events(clock)

    # ---- timer -------------------------------------------------------------------------

    def check_clock(self, clock_id: uuid.UUID, now: datetime) -> str | None:
        """Raise what is due on one clock. Returns the event raised, if any.
        Safe to call from several replicas: the loser of a race gets nothing."""
        try:
            clock: Clock = self.repository.get(clock_id)
        except AggregateNotFoundError:
            return None
        trace = Trace.system("sla-timer", correlation_id=clock.trace["correlation_id"]).as_dict()
        raised: str | None = None
        if clock.status != "running":
            return None
        if now >= clock.due():
            clock.breach(now=now, trace=trace)
            raised = "breached"
        elif not clock.approached and self.planner.in_working_hours(now):
            left = self.planner.working_days_left(now, date.fromisoformat(clock.last_day))
            if left <= self.lead_days:
                clock.approach(working_days_left=left, trace=trace)
                raised = "approaching"
        if raised is None:
            return None
        try:
            self.save(clock)
        except IntegrityError:
            return None  # another replica raised it first
        return raised

    # ---- queries -----------------------------------------------------------------------

    def clocks_of(self, complaint_id: uuid.UUID) -> list[Clock]:
        try:
            index: CaseClocks = self.repository.get(CaseClocks.create_id(complaint_id))
        except AggregateNotFoundError:
            return []
        return [self.repository.get(Clock.create_id(complaint_id, k)) for k in index.kinds]

    # ---- helpers -----------------------------------------------------------------------

    def _start(self, pe: ProcessingEvent[uuid.UUID], env: Envelope, kind: str, reference: str,
               plan: Plan) -> None:
        clock_id = Clock.create_id(env.complaint_id, kind)
        try:
            self.repository.get(clock_id)
            return  # already running (e.g. the same referral twice)
        except AggregateNotFoundError:
            pass
        index = self._index(pe, env)
        index.add(kind=kind, trace=self.reaction_trace(env, "sla"))
        clock = Clock(complaint_id=env.complaint_id, kind=kind, reference=reference,
                      start=plan.start.isoformat(), last_day=plan.last_day.isoformat(),
                      due_at=plan.due_at.isoformat(), working_days=plan.working_days,
                      rule=plan.rule, explanation=plan.explanation,
                      calendar_version=plan.calendar_version,
                      trace=self.reaction_trace(env, "sla"))
        pe.collect_events(index, clock)

    def _index(self, pe: ProcessingEvent[uuid.UUID], env: Envelope) -> CaseClocks:
        index_id = CaseClocks.create_id(env.complaint_id)
        in_flight = pe.aggregates.get(index_id)  # already changed in this processing event
        if isinstance(in_flight, CaseClocks):
            return in_flight
        try:
            found: CaseClocks = self.repository.get(index_id)
            return found
        except AggregateNotFoundError:
            return CaseClocks(complaint_id=env.complaint_id, trace=self.reaction_trace(env, "sla"))

    def _meet(self, pe: ProcessingEvent[uuid.UUID], env: Envelope, kind: str,
              at: datetime) -> bool:
        try:
            clock: Clock = self.repository.get(Clock.create_id(env.complaint_id, kind))
        except AggregateNotFoundError:
            return False
        try:
            clock.meet(at=at, trace=self.reaction_trace(env, "sla"))
        except ClockError:
            return False
        pe.collect_events(clock)
        return True

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        if not isinstance(domain_event, Clock.Event) or isinstance(domain_event, Clock.Stopped):
            return None
        clock: Clock = self.repository.get(domain_event.originator_id,
                                           version=domain_event.originator_version)
        base = {"reference": clock.reference, "clock": clock.kind.split("/")[0],
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
        elif isinstance(domain_event, Clock.Replanned):
            payload = wire.DeadlineReplanned(**base,
                                             previous_last_day=domain_event.previous_last_day,
                                             reason=domain_event.reason)
        else:
            return None
        return WireEvent(clock.complaint_id, payload)


