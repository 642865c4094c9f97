"""The SLA timer: raises approaching/breached deadlines and re-plans clocks under a newer
calendar.

Every replica follows its store's log into a ``ClockBoard`` (open clocks, due time, last
day) and keeps a ``DueQueue``: each running clock at the next instant worth checking it
(approaching, or due). A tick checks only the clocks whose instant has come, at the
injected clock's "now"; between ticks the timer sleeps until the next instant (at most
``period_s``, the safety net for clocks another replica stored), and wakes at once when this
process stores events (a clock set or changed) or when a settable clock is moved.

The board's rows live in an on-disk table; what the timer itself keeps in memory is bounded
by the clocks open now, not by every clock ever seen: the queue (one entry per running
clock, about 300 bytes each), the parked clocks and the re-plan marks all forget a clock
once it leaves the board. The queue stays in the timer, not in the board's table: timers
holding different partitions may share one board, each with its own schedule.

A deadline that passed while sla was down is raised at the first tick after start (the
board is rebuilt from the log, and "due" is ``now >= due_at``, not an edge). Exactly once
comes from the Clock aggregate (guards + optimistic concurrency), not from this loop: two
replicas briefly holding the same partition still record one event.

Calendar versions: a running counted clock planned under an older calendar version than the
configured one is re-planned once by whichever replica sees it first (any partition: a
re-plan is idempotent and races are lost harmlessly).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from hotro.services.sla.application import SlaApplication
from hotro.services.sla.due_queue import DueQueue, next_check
from hotro.services.sla.views import ClockBoard, ClockRow
from hotro.shared.clock import on_moved, seconds_until
from hotro.shared.contracts.subjects import partition_of
from hotro.shared.runtime.periodic import run_every, waker

log = logging.getLogger(__name__)

#: a clock checked without result is looked at again after this much clock time, unless
#: its row changes first (the usual case: another replica raised the event)
RECHECK_AFTER = timedelta(minutes=1)
#: a check that failed (store down) is tried again after this many real seconds
RETRY_S = 1.0


class SlaTimer:
    def __init__(self, app: SlaApplication, board: ClockBoard,
                 held_partitions: Callable[[], list[int]], partitions: int,
                 period_s: float = 30.0, min_gap_s: float = 0.05) -> None:
        self.app = app
        self.board = board
        self.held_partitions = held_partitions
        self.partitions = partitions
        self.period_s = period_s
        #: ticks woken by commits come at most this often (deadlines are days long; a
        #: tick per commit cost sla about a sixth of its CPU under load)
        self.min_gap_s = min_gap_s
        self.raised = 0
        self.replanned = 0
        self.ticks = 0
        #: calls of ``check_clock`` (a check per due clock, not per open clock)
        self.checks = 0
        self.wakeup = asyncio.Event()
        #: the calendar version each open clock was last looked at for a re-plan under
        #: (dropped when the clock leaves the board, so it stays as small as the board)
        self._replan_checked: dict[uuid.UUID, str] = {}
        self._queue = DueQueue()
        #: due clocks of partitions this replica does not hold (checked once it does)
        self._parked: dict[uuid.UUID, int] = {}
        self._held: set[int] = set()
        self._retry_soon = False
        self._changed_lock = threading.Lock()
        self._changed: set[uuid.UUID] = set(board.watch(self._row_changed))

    async def run(self, stop: asyncio.Event) -> None:
        wake = waker(self.wakeup)
        removers = [self.app.add_commit_listener(wake), on_moved(self.app.clock, wake)]
        try:
            await run_every(self._sleep_s, lambda: asyncio.to_thread(self.tick), stop,
                            what="sla timer tick", wakeup=self.wakeup,
                            min_gap_s=self.min_gap_s)
        finally:
            for remove in removers:
                remove()

    def tick(self) -> int:
        """One pass over the clocks whose instant has come. Returns how many deadline
        events this replica raised."""
        self.board.refresh(from_memory=True)
        now = self.app.clock()
        self._retry_soon = False
        self._reschedule_changed(now)
        held = set(self.held_partitions())
        if held - self._held:
            for clock_id, p in list(self._parked.items()):
                if p in held:
                    del self._parked[clock_id]
                    self._queue.schedule(clock_id, now)
        self._held = held
        raised = 0
        later: list[tuple[uuid.UUID, datetime]] = []
        for clock_id in self._queue.pop_due(now):
            row = self.board.row(clock_id)
            if row is None or row.status != "running":
                continue
            partition = partition_of(row.complaint_id, self.partitions)
            if partition not in held:
                self._parked[clock_id] = partition
                continue
            if not self._worth_checking(row, now):
                instant = next_check(row, now, self.app.planner, self.app.lead_days)
                if instant is not None and instant <= now:  # never spin on a bad hint
                    instant = now + RECHECK_AFTER
                later.append((clock_id, instant or now + RECHECK_AFTER))
                continue
            self.checks += 1
            try:
                result = self.app.check_clock(row.clock_id, now)
            except Exception:
                log.warning("checking clock %s failed; retrying", clock_id, exc_info=True)
                self._retry_soon = True
                later.append((clock_id, now))
                continue
            if result is not None:
                raised += 1
            # Its new row (approached, breached) reschedules it at the next refresh.
            later.append((clock_id, now + RECHECK_AFTER))
        for clock_id, instant in later:
            self._queue.schedule(clock_id, instant)
        self.raised += raised
        self.ticks += 1
        return raised

    def _sleep_s(self) -> float:
        """Real seconds until the next clock is due (at most the safety-net period)."""
        if self._retry_soon:
            return min(RETRY_S, self.period_s)
        instant = self._queue.next_instant()
        if instant is None:
            return self.period_s
        return min(self.period_s, seconds_until(self.app.clock, instant))

    def _row_changed(self, clock_id: uuid.UUID) -> None:
        with self._changed_lock:
            self._changed.add(clock_id)

    def _reschedule_changed(self, now: datetime) -> None:
        with self._changed_lock:
            changed, self._changed = self._changed, set()
        for clock_id in changed:
            self._parked.pop(clock_id, None)
            row = self.board.row(clock_id)
            if row is None:  # it left the board: forget it everywhere
                self._queue.schedule(clock_id, None)
                self._replan_checked.pop(clock_id, None)
                continue
            try:
                self._replan(row)
            except Exception:  # the store is down: look at it again soon
                log.warning("re-planning clock %s failed; retrying", clock_id, exc_info=True)
                self._row_changed(clock_id)
                self._retry_soon = True
            self._queue.schedule(clock_id, next_check(row, now, self.app.planner,
                                                      self.app.lead_days))

    def _worth_checking(self, row: ClockRow, now: datetime) -> bool:
        if now >= row.due_at:
            return True
        if row.approached or not self.app.planner.in_working_hours(now):
            return False
        left = self.app.planner.working_days_left(now, row.last_day)
        return left <= self.app.lead_days

    def _replan(self, row: ClockRow) -> None:
        if row.status != "running" or not row.counted or \
                self._replan_checked.get(row.clock_id) == row.calendar_version or \
                not self.app.planner.is_newer_than(row.calendar_version):
            return
        if self.app.replan_to_calendar(row.clock_id):
            self.replanned += 1
        self._replan_checked[row.clock_id] = row.calendar_version
