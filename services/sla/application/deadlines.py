"""The timer's use case: raise what is due on a running clock (approaching, breached) and
re-plan a running clock under a newer calendar version."""

from __future__ import annotations

from datetime import date, datetime

from hotro.services.sla.domain.clock import Clock, TraceDict
from hotro.services.sla.domain.planning import CalendarPlanner, pauses_of
from hotro.shared.eventstore.trace import Trace

TIMER_ACTOR = "sla-timer"


def raise_due(clock: Clock, now: datetime, planner: CalendarPlanner,
              lead_days: int) -> str | None:
    """Record what is due on ``clock`` at ``now``: "breached", "approaching" or None.
    Approaching is raised in working hours only, ``lead_days`` working days before."""
    if clock.status != "running":
        return None
    if now >= clock.due():
        clock.breach(now=now, trace=_timer_trace(clock))
        return "breached"
    if clock.approached or not planner.in_working_hours(now):
        return None
    left = planner.working_days_left(now, date.fromisoformat(clock.last_day))
    if left > lead_days:
        return None
    clock.approach(working_days_left=left, trace=_timer_trace(clock))
    return "approaching"


def replan_to_calendar(clock: Clock, planner: CalendarPlanner) -> bool:
    """Re-plan a running counted clock under the planner's calendar when that is a newer
    notice than the one the clock was planned with. True if the deadline moved. Met,
    stopped and breached clocks are never rewritten; dates a person chose are not moved;
    a paused clock is re-planned when it resumes."""
    if clock.status != "running" or not clock.counted or \
            not planner.is_newer_than(clock.calendar_version):
        return False
    plan = planner.plan_counted(date.fromisoformat(clock.start), clock.working_days,
                                clock.rule, pauses_of(clock.closed_pauses()))
    if plan.last_day.isoformat() == clock.last_day:
        return False
    clock.replan(last_day=plan.last_day.isoformat(), due_at=plan.due_at.isoformat(),
                 working_days=plan.working_days, rule=plan.rule,
                 explanation=plan.explanation, calendar_version=plan.calendar_version,
                 reason=f"calendar {clock.calendar_version} replaced by "
                        f"{plan.calendar_version} (a newer Government notice)",
                 trace=_timer_trace(clock))
    return True


def _timer_trace(clock: Clock) -> TraceDict:
    return Trace.system(TIMER_ACTOR, correlation_id=clock.trace["correlation_id"]).as_dict()
