"""Read model of open clocks, following sla's own notification log.

The timer uses it to know which clocks to check, the API for the overdue list and the
open clocks of every case: one catch-up reads only what was stored since the last one, so
no request scans the store. Thread-safe (the timer and HTTP handlers run in worker threads).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
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
        #: the departments each case was ever referred to (its ``department/<code>``
        #: clocks, closed ones included): what a department member may see
        self._departments: dict[uuid.UUID, set[str]] = {}
        self._lock = threading.Lock()
        #: told the id of every clock whose row changed (or left), under the board's lock
        self._watchers: list[Callable[[uuid.UUID], None]] = []
        self._follower = LogFollower(app, self._apply)

    def watch(self, watcher: Callable[[uuid.UUID], None]) -> list[uuid.UUID]:
        """Tell ``watcher`` the id of every clock whose row changes from now on (it must
        be quick: it runs under the board's lock). Returns the clocks on the board now,
        so nothing falls between the two."""
        with self._lock:
            self._watchers.append(watcher)
            return list(self._rows)

    def row(self, clock_id: uuid.UUID) -> ClockRow | None:
        with self._lock:
            return self._rows.get(clock_id)

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

    def referred_to(self, complaint_id: uuid.UUID, department: str) -> bool:
        """Whether the case was ever referred to ``department`` (as far as read)."""
        with self._lock:
            return department in self._departments.get(complaint_id, ())

    def _apply(self, event: object) -> None:
        clock_id = getattr(event, "originator_id", None)
        was_open = clock_id in self._rows
        self._apply_row(event)
        if self._watchers and isinstance(clock_id, uuid.UUID) and \
                (was_open or clock_id in self._rows):
            for watcher in self._watchers:
                watcher(clock_id)

    def _apply_row(self, event: object) -> None:
        if isinstance(event, Clock.Set):
            if event.kind.startswith("department/"):
                self._departments.setdefault(event.complaint_id, set()).add(
                    event.kind.split("/", 1)[1])
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


class ReplyCompliance:
    """Reply clocks by the month they started (Vietnam date): on time, late (met after the
    due time, or breached), still open; clocks stopped without a reply do not count (the
    supervisor's dashboard; ``hotro report compliance`` adds channel, product and
    department from the other stores)."""

    def __init__(self, app: ServiceApplication) -> None:
        self._months: dict[uuid.UUID, str] = {}
        self._status: dict[uuid.UUID, str] = {}
        self._first_reply: dict[uuid.UUID, str] = {}  # clock id → complaint id
        self._lock = threading.Lock()
        self._follower = LogFollower(app, self._apply)

    def by_month(self) -> dict[str, dict[str, int | float]]:
        with self._lock:
            self._follower.catch_up()
            counts: dict[str, dict[str, int | float]] = {}
            for clock_id, month in self._months.items():
                status = self._status.get(clock_id, "open")
                if status == "stopped":
                    continue
                row = counts.setdefault(month, {"on_time": 0, "late": 0, "open": 0})
                row[status] += 1
        for row in counts.values():
            decided = row["on_time"] + row["late"]
            row["rate"] = round(100.0 * row["on_time"] / decided, 1) if decided else 0.0
        return dict(sorted(counts.items()))

    def outcomes(self) -> dict[str, str]:
        """Each case's first reply clock: on_time, late or open (stopped ones left out) —
        what ``hotro report compliance`` counts, for the dashboard to group by routing's
        channel, product and department."""
        with self._lock:
            self._follower.catch_up()
            found = {}
            for clock_id, complaint_id in self._first_reply.items():
                status = self._status.get(clock_id, "open")
                if status != "stopped":
                    found[complaint_id] = status
            return found

    def _apply(self, event: object) -> None:
        if isinstance(event, Clock.Set):
            if event.kind == "reply" or event.kind.startswith("reply/"):
                self._months[event.originator_id] = str(event.start)[:7]
            if event.kind == "reply":
                self._first_reply[event.originator_id] = str(event.complaint_id)
            return
        if not isinstance(event, Aggregate.Event) or event.originator_id not in self._months:
            return
        if isinstance(event, Clock.Met):
            self._status[event.originator_id] = "on_time" if event.on_time else "late"
        elif isinstance(event, Clock.Breached):
            self._status[event.originator_id] = "late"
        elif isinstance(event, Clock.Stopped) and \
                self._status.get(event.originator_id) != "late":
            self._status[event.originator_id] = "stopped"
