"""Read model of open clocks, following sla's own notification log.

The timer uses it to know which clocks to check, the API for the overdue list and the
open clocks of every case: one catch-up reads only what was stored since the last one, so
no request scans the store. Thread-safe (the timer and HTTP handlers run in worker threads).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime

from eventsourcing.domain import Aggregate

from hotro.services.sla.domain.clock import Clock
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.follower import LogFollower


@dataclass(frozen=True)
class ClockRow:
    clock_id: uuid.UUID
    complaint_id: uuid.UUID
    reference: str
    kind: str
    status: str  # running | paused | breached (closed clocks leave the board)
    last_day: date
    due_at: datetime
    approached: bool
    calendar_version: str
    counted: bool

    def is_overdue(self, now: datetime) -> bool:
        return self.status == "breached" or (self.status == "running" and now >= self.due_at)


class ClockBoard:
    def __init__(self, app: ServiceApplication) -> None:
        self._rows: dict[uuid.UUID, ClockRow] = {}
        self._lock = threading.Lock()
        self._follower = LogFollower(app, self._apply)

    def refresh(self) -> int:
        """Read what was stored since the last refresh. Returns how many events were read."""
        with self._lock:
            return self._follower.catch_up()

    @property
    def position(self) -> int:
        return self._follower.position

    def open_clocks(self) -> list[ClockRow]:
        with self._lock:
            return sorted(self._rows.values(), key=lambda r: (r.due_at, r.reference, r.kind))

    def overdue(self, now: datetime) -> list[ClockRow]:
        return [row for row in self.open_clocks() if row.is_overdue(now)]

    def _apply(self, event: object) -> None:
        if isinstance(event, Clock.Set):
            self._rows[event.originator_id] = ClockRow(
                clock_id=event.originator_id, complaint_id=event.complaint_id,
                reference=event.reference, kind=event.kind, status="running",
                last_day=date.fromisoformat(event.last_day),
                due_at=datetime.fromisoformat(event.due_at), approached=False,
                calendar_version=event.calendar_version, counted=event.counted)
            return
        if not isinstance(event, Aggregate.Event):
            return
        clock_id = event.originator_id
        row = self._rows.get(clock_id)
        if row is None:
            return  # not a clock (the case index), or one that already left the board
        if isinstance(event, Clock.Replanned | Clock.Resumed):
            self._rows[clock_id] = replace(
                row, status="running", last_day=date.fromisoformat(event.last_day),
                due_at=datetime.fromisoformat(event.due_at),
                calendar_version=event.calendar_version)
        elif isinstance(event, Clock.Approaching):
            self._rows[clock_id] = replace(row, approached=True)
        elif isinstance(event, Clock.Paused):
            self._rows[clock_id] = replace(row, status="paused")
        elif isinstance(event, Clock.Breached):
            self._rows[clock_id] = replace(row, status="breached")
        elif isinstance(event, Clock.Met | Clock.Stopped):
            del self._rows[clock_id]
