"""SLA clocks: one aggregate per (complaint, clock kind). Pure: times are passed in.

Guards make every deadline event happen at most once per clock; optimistic concurrency
on the aggregate makes it exactly once even when two replicas race."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.contracts.envelope import HOTRO_NAMESPACE


class ClockError(Exception):
    pass


class Clock(Aggregate):
    @staticmethod
    def create_id(complaint_id: uuid.UUID, kind: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"sla/clock/{complaint_id}/{kind}")

    @event("Set", topic="hotro.sla:Clock.Set")
    def __init__(self, *, complaint_id: uuid.UUID, kind: str, reference: str, start: str,
                 last_day: str, due_at: str, working_days: int, rule: str, explanation: str,
                 calendar_version: str, trace: dict[str, str | None]) -> None:
        self.complaint_id = complaint_id
        self.kind = kind
        self.reference = reference
        self.start = start
        self.last_day = last_day
        self.due_at = due_at
        self.working_days = working_days
        self.rule = rule
        self.explanation = explanation
        self.calendar_version = calendar_version
        self.trace = trace
        self.status = "running"  # running | met | breached | stopped
        self.approached = False
        self.breached_at: str | None = None
        self.met_at: str | None = None

    @property
    def is_open(self) -> bool:
        """Still watched: running, or breached but not yet met (a late reply is recorded)."""
        return self.status in ("running", "breached")

    def due(self) -> datetime:
        return datetime.fromisoformat(self.due_at)

    @event("Approaching", topic="hotro.sla:Clock.Approaching")
    def _approaching(self, *, working_days_left: int, trace: dict[str, str | None]) -> None:
        self.approached = True

    def approach(self, *, working_days_left: int, trace: dict[str, str | None]) -> None:
        if self.status != "running" or self.approached:
            raise ClockError(f"clock {self.kind} cannot approach in state {self.status}")
        self._approaching(working_days_left=working_days_left, trace=trace)

    @event("Breached", topic="hotro.sla:Clock.Breached")
    def _breached(self, *, at: str, trace: dict[str, str | None]) -> None:
        self.status = "breached"
        self.breached_at = at

    def breach(self, *, now: datetime, trace: dict[str, str | None]) -> None:
        if self.status != "running":
            raise ClockError(f"clock {self.kind} cannot breach in state {self.status}")
        if now < self.due():
            raise ClockError(f"clock {self.kind} is not due before {self.due_at}")
        self._breached(at=now.isoformat(), trace=trace)

    @event("Met", topic="hotro.sla:Clock.Met")
    def _met(self, *, at: str, on_time: bool, trace: dict[str, str | None]) -> None:
        self.status = "met"
        self.met_at = at

    def meet(self, *, at: datetime, trace: dict[str, str | None]) -> None:
        if not self.is_open:
            raise ClockError(f"clock {self.kind} already {self.status}")
        self._met(at=at.isoformat(), on_time=at < self.due(), trace=trace)

    @event("Stopped", topic="hotro.sla:Clock.Stopped")
    def _stopped(self, *, reason: str, trace: dict[str, str | None]) -> None:
        self.status = "stopped"

    def stop(self, *, reason: str, trace: dict[str, str | None]) -> None:
        if not self.is_open:
            raise ClockError(f"clock {self.kind} already {self.status}")
        self._stopped(reason=reason, trace=trace)

    @event("Replanned", topic="hotro.sla:Clock.Replanned")
    def _replanned(self, *, previous_last_day: str, last_day: str, due_at: str,
                   working_days: int, rule: str, explanation: str, calendar_version: str,
                   reason: str, trace: dict[str, str | None]) -> None:
        self.last_day = last_day
        self.due_at = due_at
        self.working_days = working_days
        self.rule = rule
        self.explanation = explanation
        self.calendar_version = calendar_version
        self.status = "running"
        self.approached = False
        self.breached_at = None

    def replan(self, *, last_day: str, due_at: str, working_days: int, rule: str,
               explanation: str, calendar_version: str, reason: str,
               trace: dict[str, str | None]) -> None:
        if not self.is_open:
            raise ClockError(
                f"clock {self.kind} is {self.status}: closed clocks are never rewritten")
        if last_day == self.last_day and calendar_version == self.calendar_version:
            raise ClockError("nothing to replan")
        self._replanned(previous_last_day=self.last_day, last_day=last_day, due_at=due_at,
                        working_days=working_days, rule=rule, explanation=explanation,
                        calendar_version=calendar_version, reason=reason, trace=trace)

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "start": self.start,
                "last_day": self.last_day, "due_at": self.due_at, "rule": self.rule,
                "working_days": self.working_days, "approached": self.approached,
                "met_at": self.met_at, "breached_at": self.breached_at,
                "calendar_version": self.calendar_version, "explanation": self.explanation}


class CaseClocks(Aggregate):
    """The clocks one complaint has, so they can be listed without a scan."""

    @staticmethod
    def create_id(complaint_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"sla/case-clocks/{complaint_id}")

    @event("Started", topic="hotro.sla:CaseClocks.Started")
    def __init__(self, *, complaint_id: uuid.UUID, trace: dict[str, str | None]) -> None:
        self.complaint_id = complaint_id
        self.trace = trace
        self.kinds: list[str] = []

    @event("ClockAdded", topic="hotro.sla:CaseClocks.ClockAdded")
    def add(self, *, kind: str, trace: dict[str, str | None]) -> None:
        self.kinds.append(kind)
