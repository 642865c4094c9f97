"""What the SLA service needs from the working-day calendar, behind one small interface."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


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
    def plan(self, kind: str, start: datetime, *, product: str | None = None,
             category: str | None = None, working_days: int | None = None) -> Plan: ...

    def plan_until(self, kind: str, start: datetime, last_day: date, rule: str) -> Plan: ...

    def working_days_left(self, now: datetime, last_day: date) -> int: ...

    def in_working_hours(self, now: datetime) -> bool: ...
