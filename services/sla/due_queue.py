"""When a clock is next worth checking, and a queue of clocks ordered by that instant.

The timer checks a clock only once its instant has come: the moment the deadline
becomes "approaching" (working hours of the first day with ``lead_days`` working days or
fewer left) or its due time, whichever is first. The instant is a hint, never a decision:
the Clock aggregate decides what to raise, and a clock whose row changes is scheduled again.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from datetime import date, datetime, timedelta

from hotro.services.sla.domain.planning import CalendarPlanner
from hotro.services.sla.views import ClockRow

#: days looked ahead for the approaching instant before settling for a later re-check
LOOKAHEAD_DAYS = 400


def next_check(row: ClockRow, now: datetime, planner: CalendarPlanner,
               lead_days: int) -> datetime | None:
    """The first instant at or after ``now`` at which checking ``row`` may raise something
    (None: nothing, while it is not running)."""
    if row.status != "running":
        return None
    if now >= row.due_at or row.approached:
        return max(now, row.due_at)
    approaching = _approaching_from(row.last_day, now, planner, lead_days)
    return row.due_at if approaching is None else min(approaching, row.due_at)


def _approaching_from(last_day: date, now: datetime, planner: CalendarPlanner,
                      lead_days: int) -> datetime | None:
    calendar = planner.calendar
    tz = calendar.timezone
    start, end = planner.working_hours
    today = calendar.local_date(now)
    for offset in range(LOOKAHEAD_DAYS):
        day = today + timedelta(days=offset)
        if day > last_day:
            return None  # the due time (24:00 of the last day) comes first
        if not calendar.is_working_day(day):
            continue
        opening = datetime.combine(day, start, tz)
        candidate = max(now, opening)
        if candidate >= datetime.combine(day, end, tz):
            continue
        if planner.working_days_left(candidate, last_day) <= lead_days:
            return candidate
    return datetime.combine(today + timedelta(days=LOOKAHEAD_DAYS), start, tz)


class DueQueue:
    """Clocks by the instant they are next worth checking. Rescheduling a clock replaces
    its earlier instant (stale heap entries are skipped when they surface)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, uuid.UUID]] = []
        self._instant: dict[uuid.UUID, datetime] = {}
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._instant)

    def schedule(self, clock_id: uuid.UUID, instant: datetime | None) -> None:
        if instant is None:
            self._instant.pop(clock_id, None)
            return
        if self._instant.get(clock_id) == instant:
            return
        self._instant[clock_id] = instant
        heapq.heappush(self._heap, (instant, next(self._order), clock_id))
        if len(self._heap) > 2 * len(self._instant) + 64:  # mostly stale: compact
            self._heap = [(t, next(self._order), c) for c, t in self._instant.items()]
            heapq.heapify(self._heap)

    def next_instant(self) -> datetime | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: datetime) -> list[uuid.UUID]:
        """Every clock whose instant is at or before ``now`` (taken off the queue)."""
        due = []
        while (instant := self.next_instant()) is not None and instant <= now:
            _, _, clock_id = heapq.heappop(self._heap)
            del self._instant[clock_id]
            due.append(clock_id)
        return due

    def _drop_stale(self) -> None:
        while self._heap:
            instant, _, clock_id = self._heap[0]
            if self._instant.get(clock_id) == instant:
                return
            heapq.heappop(self._heap)
