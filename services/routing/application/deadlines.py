"""Deadlines reported by sla: shown on the case while they still describe it."""

from __future__ import annotations

from datetime import datetime

from hotro.services.routing.application.customer_info import (
    InfoTimeoutOutcome,
    customer_never_answered,
)
from hotro.services.routing.domain.case import Case, TraceDict
from hotro.services.routing.domain.workflow import State
from hotro.shared.contracts import events as wire

DeadlineReport = wire.DeadlineApproaching | wire.DeadlineBreached

#: Clocks whose approaching/breached status routing shows, and the states where each one
#: still describes the case (other reports are stale: the case moved on).
_CLOCK_APPLIES: dict[str, frozenset[State]] = {
    "customer_info": frozenset({State.AWAITING_CUSTOMER_INFO}),
    "department": frozenset({State.REFERRED_TO_DEPARTMENT}),
    "reply": frozenset(State) - {State.REPLIED, State.CLOSED, State.REFUSED,
                                 State.WITHDRAWN},
    "first_contact": frozenset({State.NEW, State.ANALYSING}),
}


def record_deadline_report(case: Case, report: DeadlineReport, *,
                           info_timeout: InfoTimeoutOutcome, trace: TraceDict,
                           now: datetime) -> None:
    """Record the status unless it is stale, not routing's concern, or already known; a
    breached customer_info clock also ends the wait for the customer."""
    if not _applies(case, report):
        return
    status = "breached" if isinstance(report, wire.DeadlineBreached) else "approaching"
    known = case.deadlines.get(report.clock)
    if known and known["status"] == status and \
            known["last_day"] == report.last_day.isoformat():
        return
    case.record_deadline(clock=report.clock, status=status, last_day=report.last_day,
                         due_at=report.due_at,
                         working_days_left=getattr(report, "working_days_left", None),
                         trace=trace, now=now)
    if status == "breached" and report.clock == "customer_info":
        customer_never_answered(case, info_timeout, trace=trace, now=now)


def _applies(case: Case, report: DeadlineReport) -> bool:
    states = _CLOCK_APPLIES.get(report.clock)
    if states is None or case.state not in states:
        return False
    if report.clock == "customer_info":  # only the current round's due date counts
        return bool(case.info_due_date == report.last_day.isoformat())
    return True
