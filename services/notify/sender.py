"""The delivery loop: send every pending dispatch of the partitions this replica holds.

Intent is recorded once (Dispatch.Requested, keyed by complaint, purpose and cause);
delivery is at-least-once: if the process dies after the SMTP server accepted a message
but before Dispatch.Sent is stored, the message is sent again on restart — with the same
Message-ID, which is the idempotency key a receiving system can dedupe on. That window
is the time of one ``save``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from services.notify.application import NotifyApplication
from services.notify.delivery import Deliverer
from services.notify.domain import Dispatch
from shared.contracts.subjects import partition_of
from shared.eventstore.follower import LogFollower

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    complaint_id: uuid.UUID
    not_before: float = 0.0


class DeliveryLoop:
    def __init__(self, app: NotifyApplication, deliverer: Deliverer,
                 held_partitions: Callable[[], list[int]], partitions: int, *,
                 period_s: float = 0.1, backoff_s: tuple[float, ...] = (1, 2, 5, 15, 60)
                 ) -> None:
        self.app = app
        self.deliverer = deliverer
        self.held_partitions = held_partitions
        self.partitions = partitions
        self.period_s = period_s
        self.backoff_s = backoff_s
        self.pending: dict[uuid.UUID, _Pending] = {}
        self.follower = LogFollower(app, self._apply)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.follower.catch_up)
                held = set(self.held_partitions())
                for dispatch_id, p in list(self.pending.items()):
                    if stop.is_set():
                        break
                    if p.not_before > loop.time():
                        continue
                    if partition_of(p.complaint_id, self.partitions) not in held:
                        continue
                    status = await asyncio.to_thread(self.app.attempt, dispatch_id,
                                                     self.deliverer)
                    if status == "pending":
                        attempts = self.app.get_dispatch(dispatch_id).attempts
                        delay = self.backoff_s[min(attempts - 1, len(self.backoff_s) - 1)]
                        p.not_before = loop.time() + delay
            except Exception:
                log.warning("delivery round failed", exc_info=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.period_s)

    def _apply(self, event: object) -> None:
        if isinstance(event, Dispatch.Requested):
            if event.method not in ("phone", "in_person"):  # staff tasks are not sent by us
                self.pending[event.originator_id] = _Pending(event.complaint_id)
        elif isinstance(event, Dispatch.Sent | Dispatch.Failed):
            self.pending.pop(event.originator_id, None)
