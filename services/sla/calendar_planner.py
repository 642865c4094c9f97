"""The Planner on top of the shared working-day calendar and the deadline policy."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.sla.planning import Plan
from shared.calendar.registry import load_calendar
from shared.calendar.rules import DeadlinePolicy, default_policy
from shared.calendar.working_calendar import WorkingCalendar


class CalendarPlanner:
    def __init__(self, calendar: WorkingCalendar | None = None,
                 policy: DeadlinePolicy | None = None, *,
                 working_hours: tuple[time, time] = (time(8, 0), time(17, 0))) -> None:
        self.calendar = calendar or load_calendar()
        self.policy = policy or default_policy()
        self.working_hours = working_hours

    def plan(self, kind: str, start: datetime, *, product: str | None = None,
             category: str | None = None, working_days: int | None = None) -> Plan:
        if working_days is None:
            working_days, rule = self.policy.resolve_working_days(kind, product, category)
        else:
            rule = f"{kind}: {working_days} working days (set explicitly)"
        computed = self.calendar.add_working_days(start, working_days)
        return Plan(start=computed.event_date, last_day=computed.last_day,
                    due_at=computed.ends_at, working_days=working_days, rule=rule,
                    explanation=computed.explain(), calendar_version=self.calendar.version)

    def plan_until(self, kind: str, start: datetime, last_day: date, rule: str) -> Plan:
        begin = self.calendar.local_date(start)
        days = self.calendar.working_days_between(begin, last_day)
        ends_at = datetime.combine(last_day + timedelta(days=1), time(0),
                                   tzinfo=self.calendar.timezone)
        explanation = (f"{rule}: last day {last_day.isoformat()}, {days} working day(s) after "
                       f"{begin.isoformat()}; ends at 24:00 that day ({ends_at.isoformat()}).")
        return Plan(start=begin, last_day=last_day, due_at=ends_at, working_days=days,
                    rule=rule, explanation=explanation, calendar_version=self.calendar.version)

    def working_days_left(self, now: datetime, last_day: date) -> int:
        today = self.calendar.local_date(now)
        if today > last_day:
            return 0
        left = self.calendar.working_days_between(today, last_day)
        return left + (1 if self.calendar.is_working_day(today) else 0)

    def in_working_hours(self, now: datetime) -> bool:
        local = now.astimezone(self.calendar.timezone)
        start, end = self.working_hours
        return self.calendar.is_working_day(local.date()) and start <= local.time() < end
