"""Read models following sla's own notification log: the board of open clocks and reply
compliance.

The timer uses the board to know which clocks to check, the API for the overdue list and
the open clocks of every case: one catch-up reads only what was stored since the last one,
so no request scans the store. Rows live in each model's private on-disk table
(``ReadModelDb``), not in Python dicts, so sla's resident memory does not grow with the
cases its store holds. Thread-safe (the timer and HTTP handlers run in worker threads).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from eventsourcing.domain import Aggregate

from hotro.services.sla.domain.clock import Clock, department_of
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.follower import LogFollower
from hotro.shared.eventstore.read_model_db import ReadModelDb

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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


def _instant(moment: datetime) -> int:
    """Microseconds since the epoch: ISO text with different offsets does not sort as the
    instants it names, this does."""
    return (moment - _EPOCH) // _MICROSECOND


_BOARD_SCHEMA = """
CREATE TABLE clocks (
    clock_id TEXT PRIMARY KEY,
    complaint_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    last_day TEXT NOT NULL,
    due_at TEXT NOT NULL,
    due_us INTEGER NOT NULL,
    approached INTEGER NOT NULL,
    calendar_version TEXT NOT NULL,
    counted INTEGER NOT NULL
);
CREATE INDEX clocks_by_due ON clocks (due_us, reference, kind);
CREATE INDEX clocks_by_complaint ON clocks (complaint_id);
CREATE TABLE case_departments (
    complaint_id TEXT NOT NULL,
    department TEXT NOT NULL,
    PRIMARY KEY (complaint_id, department)
) WITHOUT ROWID;
"""

_ROW_COLUMNS = ("clock_id, complaint_id, reference, kind, status, last_day, due_at, "
                "approached, calendar_version, counted")
#: ties (same instant, reference and kind) keep the order clocks were set in
_BOARD_ORDER = "ORDER BY due_us, reference, kind, rowid"


def _clock_row(found: sqlite3.Row) -> ClockRow:
    return ClockRow(
        clock_id=uuid.UUID(found["clock_id"]), complaint_id=uuid.UUID(found["complaint_id"]),
        reference=found["reference"], kind=found["kind"], status=found["status"],
        last_day=date.fromisoformat(found["last_day"]),
        due_at=datetime.fromisoformat(found["due_at"]), approached=bool(found["approached"]),
        calendar_version=found["calendar_version"], counted=bool(found["counted"]))


class ClockBoard:
    """Open clocks (``clocks``) and the departments each case was ever referred to
    (``case_departments``: its ``department/<code>`` clocks, closed ones included — what a
    department member may see)."""

    def __init__(self, app: ServiceApplication) -> None:
        self._db = ReadModelDb(_BOARD_SCHEMA)
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
            return [uuid.UUID(r[0]) for r in
                    self._db.rows("SELECT clock_id FROM clocks ORDER BY rowid")]

    def row(self, clock_id: uuid.UUID) -> ClockRow | None:
        with self._lock:
            found = self._db.one(f"SELECT {_ROW_COLUMNS} FROM clocks WHERE clock_id = ?",
                                 (str(clock_id),))
        return None if found is None else _clock_row(found)

    def refresh(self, *, from_memory: bool = False) -> int:
        """Read what was stored since the last refresh. Returns how many events were read.
        ``from_memory``: the timer's refresh after this process's own commits
        (``LogFollower.catch_up``); a query's refresh reads the store."""
        with self._lock:
            return self._follower.catch_up_into(self._db, from_memory=from_memory)

    @property
    def position(self) -> int:
        return self._follower.position

    def open_clocks(self) -> list[ClockRow]:
        with self._lock:
            found = self._db.rows(f"SELECT {_ROW_COLUMNS} FROM clocks {_BOARD_ORDER}")
        return [_clock_row(r) for r in found]

    def overdue(self, now: datetime) -> list[ClockRow]:
        with self._lock:
            found = self._db.rows(
                f"SELECT {_ROW_COLUMNS} FROM clocks WHERE status = 'breached' OR "
                f"(status = 'running' AND due_us <= ?) {_BOARD_ORDER}", (_instant(now),))
        return [_clock_row(r) for r in found]

    def referred_to(self, complaint_id: uuid.UUID, department: str) -> bool:
        """Whether the case was ever referred to ``department`` (as far as read)."""
        with self._lock:
            return self._db.one(
                "SELECT 1 FROM case_departments WHERE complaint_id = ? AND department = ?",
                (str(complaint_id), department)) is not None

    def _apply(self, event: object) -> None:
        if not isinstance(event, Aggregate.Event):
            return
        clock_id = event.originator_id
        on_board = self._apply_row(event)
        if on_board and self._watchers and isinstance(clock_id, uuid.UUID):
            for watcher in self._watchers:
                watcher(clock_id)

    def _apply_row(self, event: Aggregate.Event) -> bool:
        """Apply one event; returns whether its clock was on the board before or is now."""
        if isinstance(event, Clock.Set):
            self._set(event)
            return True
        key = (str(event.originator_id),)
        if isinstance(event, Clock.Replanned | Clock.Resumed):
            due_at = datetime.fromisoformat(event.due_at)
            return self._db.execute(
                "UPDATE clocks SET status = 'running', last_day = ?, due_at = ?, due_us = ?, "
                "calendar_version = ? WHERE clock_id = ?",
                (date.fromisoformat(event.last_day).isoformat(), due_at.isoformat(),
                 _instant(due_at), event.calendar_version, *key)) > 0
        if isinstance(event, Clock.Approaching):
            return self._db.execute(
                "UPDATE clocks SET approached = 1 WHERE clock_id = ?", key) > 0
        if isinstance(event, Clock.Paused | Clock.Breached):
            status = "paused" if isinstance(event, Clock.Paused) else "breached"
            return self._db.execute(
                "UPDATE clocks SET status = ? WHERE clock_id = ?", (status, *key)) > 0
        if isinstance(event, Clock.Met | Clock.Stopped):
            return self._db.execute("DELETE FROM clocks WHERE clock_id = ?", key) > 0
        # not a clock (the case index), or an event that changes no column of its row
        return self._db.one("SELECT 1 FROM clocks WHERE clock_id = ?", key) is not None

    def _set(self, event: Clock.Set) -> None:
        department = department_of(event.kind)
        if department is not None:
            self._db.execute(
                "INSERT OR IGNORE INTO case_departments (complaint_id, department) "
                "VALUES (?, ?)", (str(event.complaint_id), department))
        due_at = datetime.fromisoformat(event.due_at)
        self._db.execute(
            f"INSERT INTO clocks ({_ROW_COLUMNS}, due_us) VALUES (?, ?, ?, ?, 'running', ?, "
            "?, 0, ?, ?, ?) ON CONFLICT (clock_id) DO UPDATE SET "
            "complaint_id = excluded.complaint_id, reference = excluded.reference, "
            "kind = excluded.kind, status = excluded.status, last_day = excluded.last_day, "
            "due_at = excluded.due_at, due_us = excluded.due_us, approached = 0, "
            "calendar_version = excluded.calendar_version, counted = excluded.counted",
            (str(event.originator_id), str(event.complaint_id), event.reference, event.kind,
             date.fromisoformat(event.last_day).isoformat(), due_at.isoformat(),
             event.calendar_version, int(event.counted), _instant(due_at)))


_COMPLIANCE_SCHEMA = """
CREATE TABLE reply_clocks (
    clock_id TEXT PRIMARY KEY,
    complaint_id TEXT NOT NULL,
    month TEXT NOT NULL,
    first_reply INTEGER NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX reply_clocks_first ON reply_clocks (first_reply);
"""


class ReplyCompliance:
    """Reply clocks by the month they started (Vietnam date): on time, late (met after the
    due time, or breached), still open; clocks stopped without a reply do not count (the
    supervisor's dashboard; ``hotro report compliance`` adds channel, product and
    department from the other stores). One row per reply clock in ``reply_clocks``
    (``first_reply``: the case's ``reply`` clock, not a reopened case's ``reply/<n>``)."""

    def __init__(self, app: ServiceApplication) -> None:
        self._db = ReadModelDb(_COMPLIANCE_SCHEMA)
        self._lock = threading.Lock()
        self._follower = LogFollower(app, self._apply)

    def by_month(self) -> dict[str, dict[str, int | float]]:
        with self._lock:
            self._follower.catch_up_into(self._db)
            found = self._db.rows(
                "SELECT month, status, COUNT(*) FROM reply_clocks WHERE status != 'stopped' "
                "GROUP BY month, status")
        counts: dict[str, dict[str, int | float]] = {}
        for month, status, n in found:
            counts.setdefault(month, {"on_time": 0, "late": 0, "open": 0})[status] = n
        for row in counts.values():
            decided = row["on_time"] + row["late"]
            row["rate"] = round(100.0 * row["on_time"] / decided, 1) if decided else 0.0
        return dict(sorted(counts.items()))

    def outcomes(self) -> dict[str, str]:
        """Each case's first reply clock: on_time, late or open (stopped ones left out) —
        what ``hotro report compliance`` counts, for the dashboard to group by routing's
        channel, product and department."""
        with self._lock:
            self._follower.catch_up_into(self._db)
            found = self._db.rows(
                "SELECT complaint_id, status FROM reply_clocks "
                "WHERE first_reply = 1 AND status != 'stopped' ORDER BY rowid")
        return {complaint_id: status for complaint_id, status in found}

    def _apply(self, event: object) -> None:
        if isinstance(event, Clock.Set):
            if event.kind == "reply" or event.kind.startswith("reply/"):
                self._db.execute(
                    "INSERT INTO reply_clocks (clock_id, complaint_id, month, first_reply, "
                    "status) VALUES (?, ?, ?, ?, 'open') ON CONFLICT (clock_id) DO UPDATE "
                    "SET month = excluded.month",
                    (str(event.originator_id), str(event.complaint_id), str(event.start)[:7],
                     int(event.kind == "reply")))
            return
        if not isinstance(event, Aggregate.Event):
            return
        key = str(event.originator_id)
        if isinstance(event, Clock.Met):
            self._set_status(key, "on_time" if event.on_time else "late")
        elif isinstance(event, Clock.Breached):
            self._set_status(key, "late")
        elif isinstance(event, Clock.Stopped):
            self._db.execute("UPDATE reply_clocks SET status = 'stopped' "
                             "WHERE clock_id = ? AND status != 'late'", (key,))

    def _set_status(self, clock_id: str, status: str) -> None:
        self._db.execute("UPDATE reply_clocks SET status = ? WHERE clock_id = ?",
                         (status, clock_id))
