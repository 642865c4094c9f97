"""The SLA timer: raises approaching/breached deadlines and re-plans clocks under a newer
calendar.

Every replica follows its store's log into a ``ClockBoard`` (open clocks, due time, last
day) and, each tick, checks the running clocks of the partitions it holds, at the injected
clock's "now". A deadline that passed while sla was down is raised at the first tick after
start (the board is rebuilt from the log, and "due" is ``now >= due_at``, not an edge).
Exactly once comes from the Clock aggregate (guards + optimistic concurrency), not from
this loop: two replicas briefly holding the same partition still record one event.

Calendar versions: a running counted clock planned under an older calendar version than the
configured one is re-planned once by whichever replica sees it first (any partition: a
re-plan is idempotent and races are lost harmlessly).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime

from hotro.services.sla.application import SlaApplication
from hotro.services.sla.views import ClockBoard, ClockRow
from hotro.shared.contracts.subjects import partition_of
from hotro.shared.runtime.periodic import run_every


class SlaTimer:
    def __init__(self, app: SlaApplication, board: ClockBoard,
                 held_partitions: Callable[[], list[int]], partitions: int,
                 period_s: float = 1.0) -> None:
        self.app = app
        self.board = board
        self.held_partitions = held_partitions
        self.partitions = partitions
        self.period_s = period_s
        self.raised = 0
        self.replanned = 0
        self.ticks = 0
        self._replan_checked: set[tuple[uuid.UUID, str]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(self.period_s, lambda: asyncio.to_thread(self.tick), stop,
                        what="sla timer tick")

    def tick(self) -> int:
        """One pass. Returns how many deadline events this replica raised."""
        self.board.refresh()
        now = self.app.clock()
        rows = self.board.open_clocks()
        self._replan(rows)
        held = set(self.held_partitions())
        raised = 0
        for row in rows:
            if row.status != "running" or \
                    partition_of(row.complaint_id, self.partitions) not in held:
                continue
            if self._worth_checking(row, now) and \
                    self.app.check_clock(row.clock_id, now) is not None:
                raised += 1
        self.raised += raised
        self.ticks += 1
        return raised

    def _worth_checking(self, row: ClockRow, now: datetime) -> bool:
        if now >= row.due_at:
            return True
        if row.approached or not self.app.planner.in_working_hours(now):
            return False
        left = self.app.planner.working_days_left(now, row.last_day)
        return left <= self.app.lead_days

    def _replan(self, rows: list[ClockRow]) -> None:
        for row in rows:
            key = (row.clock_id, row.calendar_version)
            if row.status != "running" or not row.counted or key in self._replan_checked or \
                    not self.app.planner.is_newer_than(row.calendar_version):
                continue
            if self.app.replan_to_calendar(row.clock_id):
                self.replanned += 1
            self._replan_checked.add(key)
