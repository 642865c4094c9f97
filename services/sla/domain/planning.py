"""How a deadline is planned: the deadline policy gives the working days, the shared
working-day calendar counts them. Pure: the calendar, the policy and the order of the
calendar versions are passed in (``adapters.calendar_data`` reads them).

Counting (shared.calendar, Civil Code 2015 art. 147–148): N working days from the day after
the event; the deadline ends at 24:00 local time of the N-th working day. A pause (the pause
policy) takes the working days in (pause day, resume day] out of the count: the days up to
and including the pause day are consumed, the rest is counted again from the day after the
resume day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from hotro.shared.calendar.rules import DeadlinePolicy
from hotro.shared.calendar.working_calendar import WorkingCalendar

WORKING_HOURS = (time(8, 0), time(17, 0))

#: A pause: working days in (from, to] are not counted (local dates).
Pause = tuple[date, date]


@dataclass(frozen=True)
class Plan:
    start: date
    last_day: date
    due_at: datetime
    working_days: int
    rule: str
    explanation: str
    calendar_version: str


class CalendarPlanner:
    """Plans deadlines on one calendar version under one deadline policy.

    ``version_order``: every calendar version id, oldest first — which notice is newer
    (``is_newer_than``)."""

    def __init__(self, calendar: WorkingCalendar, policy: DeadlinePolicy, *,
                 version_order: Sequence[str],
                 working_hours: tuple[time, time] = WORKING_HOURS) -> None:
        self.calendar = calendar
        self.policy = policy
        if not working_hours[0] < working_hours[1]:
            raise ValueError(f"working hours must start before they end: {working_hours}")
        self.working_hours = working_hours
        self.version_order = list(version_order)

    @property
    def calendar_version(self) -> str:
        return self.calendar.version

    def local_date(self, moment: datetime) -> date:
        return self.calendar.local_date(moment)

    def plan(self, kind: str, start: datetime | date, *, product: str | None = None,
             category: str | None = None, working_days: int | None = None) -> Plan:
        """N working days from ``start`` for ``kind``: the policy's product override, then
        its category override, then its default (unless ``working_days`` is given)."""
        if working_days is None:
            working_days, rule = self.policy.resolve_working_days(kind, product, category)
        else:
            rule = f"{kind}: {working_days} working days (set explicitly)"
        return self.plan_counted(self.calendar.local_date(start), working_days, rule)

    def plan_counted(self, start: date, working_days: int, rule: str,
                     pauses: Sequence[Pause] = ()) -> Plan:
        remaining, anchor = working_days, start
        notes: list[str] = []
        for since, until in sorted(pauses):
            since = max(since, anchor)
            if until <= since:
                continue
            consumed = self.calendar.working_days_between(anchor, since)
            if consumed >= remaining:
                break  # the deadline fell before this pause
            remaining -= consumed
            frozen = self.calendar.working_days_between(since, until)
            notes.append(
                f"Paused after {since.isoformat()} until {until.isoformat()} (awaiting the "
                f"customer): {frozen} working day(s) not counted; {remaining} working day(s) "
                f"still to count from {(until + timedelta(days=1)).isoformat()}.")
            anchor = until
        computed = self.calendar.add_working_days(anchor, remaining)
        explanation = computed.explain()
        if notes:
            explanation = "\n".join(
                [f"{rule}: {working_days} working day(s) from {start.isoformat()}, "
                 f"paused {len(notes)} time(s):", *notes, explanation])
        return Plan(start=start, last_day=computed.last_day, due_at=computed.ends_at,
                    working_days=working_days, rule=rule, explanation=explanation,
                    calendar_version=self.calendar.version)

    def plan_until(self, kind: str, start: datetime, last_day: date, rule: str) -> Plan:
        """A deadline a person chose (e.g. the customer's information due date)."""
        begin = self.calendar.local_date(start)
        days = self.calendar.working_days_between(begin, last_day)
        ends_at = datetime.combine(last_day + timedelta(days=1), time(0),
                                   tzinfo=self.calendar.timezone)
        explanation = (f"{rule}: last day {last_day.isoformat()}, {days} working day(s) after "
                       f"{begin.isoformat()}; ends at 24:00 that day ({ends_at.isoformat()}), "
                       f"Civil Code 2015 art. 148.")
        return Plan(start=begin, last_day=last_day, due_at=ends_at, working_days=days,
                    rule=rule, explanation=explanation, calendar_version=self.calendar.version)

    def working_days_left(self, now: datetime, last_day: date) -> int:
        """Working days from today (included when it is one) to the last day (included)."""
        today = self.calendar.local_date(now)
        if today > last_day:
            return 0
        left = self.calendar.working_days_between(today, last_day)
        return left + (1 if self.calendar.is_working_day(today) else 0)

    def in_working_hours(self, now: datetime) -> bool:
        local = now.astimezone(self.calendar.timezone)
        start, end = self.working_hours
        return self.calendar.is_working_day(local.date()) and start <= local.time() < end

    def is_newer_than(self, version: str) -> bool:
        """Is the configured calendar a later notice than ``version``? An unknown version
        counts as older. Never true for an older configured calendar, so replicas of two
        configurations (a rolling deploy) cannot re-plan a clock back and forth."""
        mine = self.calendar.version
        if version == mine:
            return False
        if version not in self.version_order:
            return True
        if mine not in self.version_order:
            return False
        return self.version_order.index(mine) > self.version_order.index(version)


def pauses_of(pairs: Iterable[tuple[str, str]]) -> list[Pause]:
    """A clock's pause intervals (ISO local dates, as stored) as dates."""
    return [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in pairs]
