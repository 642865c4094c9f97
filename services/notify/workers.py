"""The sender: every pending dispatch of the partitions this replica holds is handed to
its channel, on ``run_every``.

Intent is recorded once (Dispatch.Requested, keyed by complaint, purpose and cause);
sending is at-least-once. The crash window: if the process dies after the SMTP server
accepted a message but before Dispatch.Sent is stored, the dispatch is still pending in
the log, so the sender of the next owner of the partition sends it again — once, with the
same Message-ID (the idempotency key a receiving system or mail client dedupes on) — and
Sent is then recorded once. The window is the duration of one ``save``. Tested in
``tests/unit/notify/test_crash_window.py``.

Only the replica holding a complaint's partition sends its dispatches, so two replicas
do not race on one message; if they ever do (a lease handed over mid-attempt), the
aggregate's version check keeps a single Sent.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from hotro.services.notify.application import (
    DispatchNotFound,
    NotifyApplication,
    OutcomeNotRecorded,
)
from hotro.services.notify.application.channel import Channel
from hotro.services.notify.domain import STAFF_TASK, Dispatch
from hotro.shared.contracts.subjects import partition_of
from hotro.shared.eventstore.follower import LogFollower
from hotro.shared.runtime.periodic import run_every

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    complaint_id: uuid.UUID
    not_before: float = 0.0


class DispatchSender:
    def __init__(self, app: NotifyApplication, channel: Channel,
                 held_partitions: Callable[[], list[int]], partitions: int, *,
                 period_s: float = 0.1, backoff_s: tuple[float, ...] = (1, 2, 5, 15, 60)
                 ) -> None:
        if not backoff_s:
            raise ValueError("backoff_s needs at least one delay")
        self.app = app
        self.channel = channel
        self.held_partitions = held_partitions
        self.partitions = partitions
        self.period_s = period_s
        self.backoff_s = backoff_s
        self.pending: dict[uuid.UUID, _Pending] = {}
        #: sent, but storing that failed: store it later, never send it again
        self.unrecorded: dict[uuid.UUID, str] = {}
        self.follower = LogFollower(app, self._apply)

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(self.period_s, lambda: self.run_once(stop), stop, what="sending round")

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Catch up with the log and attempt every due dispatch once. Returns attempts made."""
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.follower.catch_up)
        held = set(self.held_partitions())
        made = 0
        for dispatch_id, p in list(self.pending.items()):
            if stop is not None and stop.is_set():
                break
            if p.not_before > loop.time():
                continue
            if partition_of(p.complaint_id, self.partitions) not in held:
                continue
            made += 1
            status, attempts = await asyncio.to_thread(self._attempt, dispatch_id)
            if status == "pending":
                delay = self.backoff_s[min(max(attempts, 1) - 1, len(self.backoff_s) - 1)]
                p.not_before = loop.time() + delay
            else:
                self.pending.pop(dispatch_id, None)
        return made

    def _attempt(self, dispatch_id: uuid.UUID) -> tuple[str, int]:
        try:
            proof = self.unrecorded.get(dispatch_id)
            if proof is not None:
                self.app.record_delivered(dispatch_id, proof)
                self.unrecorded.pop(dispatch_id, None)
            else:
                self.app.attempt(dispatch_id, self.channel)
            dispatch = self.app.get_dispatch(dispatch_id)
        except DispatchNotFound:
            return "gone", 0
        except OutcomeNotRecorded as exc:
            log.warning("%s; will record it without sending again", exc, exc_info=exc.__cause__)
            self.unrecorded[dispatch_id] = exc.proof
            return "pending", 1
        except Exception:
            log.warning("sending %s failed", dispatch_id, exc_info=True)
            return "pending", 1
        return str(dispatch.status), int(dispatch.attempts)

    def _apply(self, event: object) -> None:
        if isinstance(event, Dispatch.Requested):
            if event.method not in STAFF_TASK:  # staff tasks are not sent by us
                self.pending[event.originator_id] = _Pending(event.complaint_id)
        elif isinstance(event, Dispatch.Sent | Dispatch.Failed | Dispatch.LetterPrinted):
            self.pending.pop(event.originator_id, None)
            self.unrecorded.pop(event.originator_id, None)
