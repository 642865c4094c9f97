"""What the SLA service needs from the working-day calendar, behind one small interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

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


class Planner(Protocol):
    @property
    def calendar_version(self) -> str: ...

    def local_date(self, moment: datetime) -> date: ...

    def plan(self, kind: str, start: datetime | date, *, product: str | None = None,
             category: str | None = None, working_days: int | None = None) -> Plan: ...

    def plan_counted(self, start: date, working_days: int, rule: str,
                     pauses: Sequence[Pause] = ()) -> Plan: ...

    def plan_until(self, kind: str, start: datetime, last_day: date, rule: str) -> Plan: ...

    def working_days_left(self, now: datetime, last_day: date) -> int: ...

    def in_working_hours(self, now: datetime) -> bool: ...

    def is_newer_than(self, version: str) -> bool: ...
