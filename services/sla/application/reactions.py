"""The case's events move its clocks: a complaint received starts the reply and
first-contact clocks; a request for information starts the customer's clock (and pauses
the clocks the pause policy names); a referral starts the department's; answers meet them;
closing or refusing the case stops them; reopening it starts a new reply clock. A late
filing's reply clock waits for the supervisor's acceptance."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent, Repository

from hotro.services.sla.domain.clock import (
    CaseClocks,
    Clock,
    ClockError,
    PausePolicy,
    TraceDict,
    base_kind,
    department_kind,
    department_of,
    reopened_reply_kind,
)
from hotro.services.sla.domain.planning import CalendarPlanner, Plan, pauses_of
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope


class ClocksOfCase:
    """One case's clocks as one upstream event changes them. A clock is read as already
    changed while this event is processed, else as stored; every change is collected into
    the processing event, which stores it with the tracking record (exactly once)."""

    def __init__(self, repository: Repository[uuid.UUID], pe: ProcessingEvent[uuid.UUID],
                 envelope: Envelope, trace: TraceDict) -> None:
        self._repository = repository
        self._pe = pe
        self.complaint_id = envelope.complaint_id
        self.occurred_at = envelope.occurred_at
        self.trace = trace
        self._index: CaseClocks | None = None
        self._index_read = False

    def index(self) -> CaseClocks | None:
        """The case's index of clocks, read once per reaction (every change to it goes
        through the object returned)."""
        if not self._index_read:
            self._index = self._load(CaseClocks.create_id(self.complaint_id))
            self._index_read = True
        return self._index

    def clock(self, kind: str) -> Clock | None:
        clock: Clock | None = self._load(Clock.create_id(self.complaint_id, kind))
        return clock

    def department_kinds(self, department: str) -> list[str]:
        """The kinds of the department's clocks this case has, in the order started."""
        index = self.index()
        return [k for k in index.kinds if department_of(k) == department] if index else []

    def open_clocks(self) -> list[Clock]:
        index = self.index()
        clocks = [self.clock(kind) for kind in index.kinds] if index else []
        return [c for c in clocks if c is not None and c.is_open]

    def start(self, kind: str, reference: str, plan: Plan, *, counted: bool) -> None:
        # A clock is only ever created with its kind added to the case's index, in one
        # save: the index alone says whether it exists (one read, not two; none of the
        # clocks of a case just received is there to be read)
        index = self.index()
        if index is not None and kind in index.kinds:
            return  # already started (e.g. the same referral twice): the first one stands
        if index is None:
            index = self._index = CaseClocks(complaint_id=self.complaint_id, trace=self.trace)
        index.add(kind=kind, trace=self.trace)
        clock = Clock(complaint_id=self.complaint_id, kind=kind, reference=reference,
                      start=plan.start.isoformat(), last_day=plan.last_day.isoformat(),
                      due_at=plan.due_at.isoformat(), working_days=plan.working_days,
                      rule=plan.rule, explanation=plan.explanation,
                      calendar_version=plan.calendar_version, counted=counted,
                      trace=self.trace)
        self._pe.collect_events(index, clock)

    def meet(self, clock: Clock, at: datetime) -> None:
        clock.meet(at=at, trace=self.trace)
        self.changed(clock)

    def meet_kind(self, kind: str, at: datetime) -> None:
        """Meet the clock of ``kind`` if the case has it open."""
        clock = self.clock(kind)
        if clock is not None and clock.is_open:
            self.meet(clock, at)

    def changed(self, clock: Clock) -> None:
        self._pe.collect_events(clock)

    def note_answer(self) -> None:
        """Remember the customer's answer on the case index (see ``await_customer``)."""
        index = self.index() or CaseClocks(complaint_id=self.complaint_id, trace=self.trace)
        index.customer_answered(at=self.occurred_at.isoformat(), trace=self.trace)
        self._pe.collect_events(index)

    def answered_since(self, instant: datetime) -> datetime | None:
        index = self.index()
        return index.answer_since(instant) if index is not None else None

    def _load(self, aggregate_id: uuid.UUID) -> Any:
        in_flight = self._pe.aggregates.get(aggregate_id)
        if in_flight is not None:
            return in_flight
        try:
            return self._repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


def start_on_receipt(case: ClocksOfCase, planner: CalendarPlanner,
                     p: wire.ComplaintReceived, *, first_contact: bool) -> None:
    """The reply clock counts from receipt — except for a late filing: that is not
    accepted (thụ lý) until a supervisor waives the deadline, so its reply clock starts
    from that decision (``start_reply_on_acceptance``); a refusal needs no reply clock.
    The customer is still acknowledged, so the first-contact clock runs either way."""
    kinds = ("first_contact",) if first_contact else ()
    if not p.filed_late:
        kinds = ("reply", *kinds)
    for kind in kinds:
        plan = planner.plan(kind, p.received_at, product=p.product, category=p.category)
        case.start(kind, p.reference, plan, counted=True)


def start_reply_on_acceptance(case: ClocksOfCase, planner: CalendarPlanner,
                              p: wire.LateFilingAccepted) -> None:
    """A late filing accepted by a supervisor: its reply clock counts from the decision,
    with the working days the policy gives its product or category."""
    plan = planner.plan("reply", case.occurred_at, product=p.product, category=p.category)
    # a late filing found after receipt had a reply clock from receipt (stopped when the
    # review opened): the decision's clock is a new one
    kind = "reply" if case.clock("reply") is None else FOUND_LATE_REPLY
    case.start(kind, p.reference, plan, counted=True)


#: the reply clock of a late filing found after receipt, accepted by a supervisor
FOUND_LATE_REPLY = "reply/filing-review"


def stop_for_filing_review(case: ClocksOfCase, p: wire.LateFilingFound) -> None:
    """The incident date given later shows a late filing: under review no reply clock runs
    and nothing is awaited from the customer (the policy, as for a late filing at
    receipt); the first-contact clock, met by the acknowledgement, is left alone."""
    for clock in case.open_clocks():
        if base_kind(clock.kind) in ("reply", "customer_info"):
            clock.stop(reason=f"late filing found (deadline {p.filing_deadline.isoformat()}):"
                              " awaiting the supervisor's filing review", trace=case.trace)
            case.changed(clock)


def await_customer(case: ClocksOfCase, planner: CalendarPlanner, pause_policy: PausePolicy,
                   p: wire.InfoRequested) -> None:
    """The customer is asked for information: their clock runs until the due date support
    set, the customer counts as engaged, and the clocks the pause policy names pause."""
    plan = planner.plan_until("customer_info", case.occurred_at, p.due_date,
                              rule=f"due date set by support (round {p.round})")
    kind = f"customer_info/{p.round}"
    case.start(kind, p.reference, plan, counted=False)
    case.meet_kind("first_contact", case.occurred_at)
    answer = case.answered_since(case.occurred_at)
    if answer is not None:  # the answer reached sla first: met at once, nothing paused
        clock = case.clock(kind)
        if clock is not None and clock.is_open:
            case.meet(clock, answer)
        return
    on = planner.local_date(case.occurred_at).isoformat()
    for clock in case.open_clocks():
        if clock.status == "running" and \
                pause_policy.pauses_while_awaiting_customer(clock.kind):
            try:
                clock.pause(at=case.occurred_at, on=on,
                            reason=f"awaiting the customer's information (round {p.round})",
                            trace=case.trace)
            except ClockError:
                continue  # already due: the timer breaches it
            case.changed(clock)


def customer_answered(case: ClocksOfCase, planner: CalendarPlanner) -> None:
    """The information answers every open request; paused clocks count again. The answer
    is remembered for a request that has not reached sla yet."""
    case.note_answer()
    for clock in case.open_clocks():
        if base_kind(clock.kind) == "customer_info":
            case.meet(clock, case.occurred_at)
    on = planner.local_date(case.occurred_at)
    for clock in case.open_clocks():
        if clock.status == "paused":
            _resume(case, planner, clock, on)


def start_department(case: ClocksOfCase, planner: CalendarPlanner,
                     p: wire.ReferredToDepartment) -> None:
    """A referral starts the department's clock. Referred to it again once it answered
    (a follow-up question; the case reopened), the new referral gets a clock of its own;
    while the department's last clock is still open, that referral is the one waited for."""
    rounds = case.department_kinds(p.department)
    if rounds:
        last = case.clock(rounds[-1])
        if last is not None and last.is_open:
            return
    if p.internal_due is not None:
        plan = planner.plan_until("department", case.occurred_at, p.internal_due,
                                  rule=f"internal due date for {p.department}")
    else:
        plan = planner.plan("department", case.occurred_at)
    case.start(department_kind(p.department, len(rounds) + 1), p.reference, plan,
               counted=p.internal_due is None)


def department_responded(case: ClocksOfCase, p: wire.DepartmentResponded,
                         at: datetime) -> None:
    """The department's answer meets its open clock (its latest referral's)."""
    for kind in reversed(case.department_kinds(p.department)):
        clock = case.clock(kind)
        if clock is not None and clock.is_open:
            case.meet(clock, at)
            return


def reply_sent(case: ClocksOfCase, p: wire.ReplySent) -> None:
    """A reply (or a refusal written by staff) meets the case's open reply clocks; any
    message to the customer engages them."""
    if p.purpose in ("reply", "refusal"):
        for clock in case.open_clocks():
            if base_kind(clock.kind) == "reply":
                case.meet(clock, p.sent_at)
    case.meet_kind("first_contact", p.sent_at)


def start_reply_again(case: ClocksOfCase, planner: CalendarPlanner,
                      p: wire.ComplaintReopened) -> None:
    """A reopened case is to be answered again: a new reply clock counted from the reopen
    instant, with the working days the policy gave the case's first reply clock (its
    product's or category's rule); the policy's default if sla never had one."""
    index = case.index()
    first = case.clock("reply")
    if first is not None:
        plan = planner.plan_counted(planner.local_date(case.occurred_at), first.working_days,
                                    first.rule)
    else:
        plan = planner.plan("reply", case.occurred_at)
    case.start(reopened_reply_kind(index.kinds if index else ()), p.reference, plan,
               counted=True)


def stop_all(case: ClocksOfCase, reason: str) -> None:
    for clock in case.open_clocks():
        clock.stop(reason=reason, trace=case.trace)
        case.changed(clock)


def _resume(case: ClocksOfCase, planner: CalendarPlanner, clock: Clock, on: date) -> None:
    pauses = pauses_of(clock.pauses_if_resumed_on(on.isoformat()))
    plan = planner.plan_counted(date.fromisoformat(clock.start), clock.working_days,
                                clock.rule, pauses)
    clock.resume(at=case.occurred_at, on=on.isoformat(), last_day=plan.last_day.isoformat(),
                 due_at=plan.due_at.isoformat(), explanation=plan.explanation,
                 calendar_version=plan.calendar_version,
                 reason=f"the customer's information arrived on {on.isoformat()}: the "
                        f"clock counts again (paused since {pauses[-1][0].isoformat()})",
                 trace=case.trace)
    case.changed(clock)
