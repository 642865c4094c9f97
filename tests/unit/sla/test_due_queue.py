"""The SLA timer checks only the clocks whose instant has come (a due-time queue, not a
scan of every open clock), sleeps until the next one, and wakes when a settable clock is
moved or when this process stores a clock."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

from hotro.services.sla.domain.clock import Clock
from hotro.services.sla.domain.planning import CalendarPlanner
from hotro.services.sla.due_queue import DueQueue, next_check
from hotro.services.sla.views import ClockBoard
from hotro.services.sla.workers import SlaTimer
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from tests.support.waiting import eventually
from tests.unit.sla.builders import domain_events, envelope, make_app, received


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM_TZ)


class CountingBoard(ClockBoard):
    """Counts the rows the timer looks at and refuses whole-board scans."""

    looked_at = 0

    def row(self, clock_id: uuid.UUID) -> Any:
        self.looked_at += 1
        return super().row(clock_id)

    def open_clocks(self) -> Any:
        raise AssertionError("the timer scanned every open clock")


def _receive(app: Any, clock: SettableClock, n: int,
             received_at: datetime | None = None) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    for cid in ids:
        app.handle(envelope(cid, received(received_at or clock()), clock()))
    return ids


def test_a_jump_past_due_checks_the_due_clocks_only() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    early = _receive(app, clock, 5)  # reply due 24:00 16/3, first contact 11/3
    board = CountingBoard(app)
    timer = SlaTimer(app, board, lambda: [0, 1, 2, 3], 4)
    assert timer.tick() == 0
    assert timer.checks == 0  # nothing is due: nothing checked
    clock.set(at(2026, 3, 19, 9))
    _receive(app, clock, 15)  # 30 more open clocks, due in April
    clock.set(at(2026, 3, 20, 10))  # past both deadlines of the first five only
    board.looked_at = 0
    assert timer.tick() == 10
    assert timer.checks == 10  # one check per due clock, none for the 30 others
    assert board.looked_at <= 10 + 30  # the due ones, and the 30 new rows once
    breached = {e.originator_id for e in domain_events(app) if isinstance(e, Clock.Breached)}
    assert breached == {Clock.create_id(c, k) for c in early
                        for k in ("reply", "first_contact")}
    board.looked_at = 0
    assert timer.tick() == 0  # the breaches are read back: those clocks leave the queue
    assert timer.checks == 10
    assert board.looked_at <= 10


def test_clocks_of_a_partition_acquired_later_are_checked_then() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    _receive(app, clock, 6)
    clock.set(at(2026, 4, 1))
    held: list[int] = []
    timer = SlaTimer(app, ClockBoard(app), lambda: held, 4)
    assert timer.tick() == 0
    held.extend([0, 1, 2, 3])
    assert timer.tick() == 12


def test_next_check_is_the_approaching_instant_then_the_due_time() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    [cid] = _receive(app, clock, 1)
    board = ClockBoard(app)
    board.refresh()
    row = board.row(Clock.create_id(cid, "reply"))
    assert row is not None and row.last_day.isoformat() == "2026-03-16"
    planner: CalendarPlanner = app.planner
    # Two working days left (Fri 13/3, Mon 16/3) from the opening of Friday's hours.
    assert next_check(row, clock(), planner, 2) == at(2026, 3, 13, 8)
    # After hours that Friday: Monday's opening (the weekend is not worked).
    assert next_check(row, at(2026, 3, 13, 18), planner, 2) == at(2026, 3, 16, 8)
    assert next_check(row, at(2026, 3, 13, 11), planner, 2) == at(2026, 3, 13, 11)


def test_due_queue_keeps_the_latest_instant_per_clock() -> None:
    queue = DueQueue()
    a, b = uuid.uuid4(), uuid.uuid4()
    queue.schedule(a, at(2026, 3, 5))
    queue.schedule(b, at(2026, 3, 3))
    queue.schedule(a, at(2026, 3, 2))  # moved earlier
    queue.schedule(b, None)  # left
    assert queue.next_instant() == at(2026, 3, 2)
    assert queue.pop_due(at(2026, 3, 4)) == [a]
    assert queue.pop_due(at(2026, 4, 1)) == []
    assert len(queue) == 0


async def test_moving_the_clock_wakes_the_sleeping_timer() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    [cid] = await asyncio.to_thread(_receive, app, clock, 1)
    timer = SlaTimer(app, ClockBoard(app), lambda: [0, 1, 2, 3], 4, period_s=30.0)
    stop = asyncio.Event()
    task = asyncio.ensure_future(timer.run(stop))
    try:
        await eventually(lambda: timer.ticks >= 1, message="first tick")
        ticks = timer.ticks
        moved = time.monotonic()
        clock.set(at(2026, 3, 20, 10))
        await eventually(lambda: timer.raised == 2, timeout=30, interval=0.01,
                         message="both deadlines breached")
        assert time.monotonic() - moved < 2.0, "the timer slept through the clock's move"
        assert timer.checks == 2
        # A clock stored by this process wakes it too (received weeks ago, as after an
        # outage upstream: overdue at once).
        await asyncio.to_thread(_receive, app, clock, 1, at(2026, 3, 2, 9))
        await eventually(lambda: timer.raised == 4, timeout=30, interval=0.01,
                         message="the new clocks breached")
        assert time.monotonic() - moved < 4.0
        assert timer.ticks < ticks + 20  # woken, not spinning
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert Clock.create_id(cid, "reply") in {
        e.originator_id for e in domain_events(app) if isinstance(e, Clock.Breached)}
