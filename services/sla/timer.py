"""The SLA timer: watches open clocks and raises approaching/breached deadlines.

Each replica tails its own store's notification log to keep an index of open clocks
(due time, last day), and checks only clocks of the partitions it holds. A deadline that
passed while sla was down is raised at the first tick after start. Exactly once comes
from the Clock aggregate (guards + optimistic concurrency), not from this loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from services.sla.application import SlaApplication
from services.sla.domain import Clock
from shared.contracts.subjects import partition_of
from shared.eventstore.follower import LogFollower

log = logging.getLogger(__name__)


@dataclass
class _Watched:
    complaint_id: uuid.UUID
    due_at: datetime
    last_day: date
    approached: bool


class SlaTimer:
    def __init__(self, app: SlaApplication, held_partitions: Callable[[], list[int]],
                 partitions: int, period_s: float = 1.0) -> None:
        self.app = app
        self.held_partitions = held_partitions
        self.partitions = partitions
        self.period_s = period_s
        self.follower = LogFollower(app, self._apply)
        self.watched: dict[uuid.UUID, _Watched] = {}
        self.raised = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.warning("sla timer tick failed", exc_info=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.period_s)

    def tick(self) -> int:
        self.follower.catch_up()
        now = self.app.clock()
        held = set(self.held_partitions())
        raised = 0
        for clock_id, w in list(self.watched.items()):
            if partition_of(w.complaint_id, self.partitions) not in held:
                continue
            due = now >= w.due_at or (not w.approached and self._maybe_approaching(now, w))
            if due and self.app.check_clock(clock_id, now) is not None:
                raised += 1
        self.raised += raised
        return raised

    def _maybe_approaching(self, now: datetime, w: _Watched) -> bool:
        if not self.app.planner.in_working_hours(now):
            return False
        return self.app.planner.working_days_left(now, w.last_day) <= self.app.lead_days

    def _apply(self, event: object) -> None:
        if isinstance(event, Clock.Set | Clock.Replanned):
            clock_id = event.originator_id  # type: ignore[union-attr]
            complaint_id = getattr(event, "complaint_id", None)
            if complaint_id is None:
                complaint_id = self.watched[clock_id].complaint_id if clock_id in self.watched \
                    else self.app.repository.get(clock_id).complaint_id
            self.watched[clock_id] = _Watched(
                complaint_id=complaint_id,
                due_at=datetime.fromisoformat(event.due_at),  # type: ignore[union-attr]
                last_day=date.fromisoformat(event.last_day),  # type: ignore[union-attr]
                approached=False)
        elif isinstance(event, Clock.Approaching) and event.originator_id in self.watched:
            self.watched[event.originator_id].approached = True
        elif isinstance(event, Clock.Met | Clock.Stopped | Clock.Breached):
            self.watched.pop(event.originator_id, None)
