"""The sender: every pending dispatch of the partitions this replica holds is handed to
its channel, several at once (``parallel``, a bound), never one dispatch twice at once.

It wakes when this process records something (a new intent: ``add_commit_listener``), when
an attempt ends, and when the next retry is due; ``period_s`` is only the safety net (a
partition acquired, an intent another replica stored).

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
from concurrent.futures import ThreadPoolExecutor
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
from hotro.shared.runtime.periodic import wait_for_either, waker

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    complaint_id: uuid.UUID
    not_before: float = 0.0


class DispatchSender:
    def __init__(self, app: NotifyApplication, channel: Channel,
                 held_partitions: Callable[[], list[int]], partitions: int, *,
                 period_s: float = 2.0, backoff_s: tuple[float, ...] = (1, 2, 5, 15, 60),
                 parallel: int = 8) -> None:
        if not backoff_s:
            raise ValueError("backoff_s needs at least one delay")
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.app = app
        self.channel = channel
        self.held_partitions = held_partitions
        self.partitions = partitions
        self.period_s = period_s
        self.backoff_s = backoff_s
        self.parallel = parallel
        self.pending: dict[uuid.UUID, _Pending] = {}
        #: sent, but storing that failed: store it later, never send it again
        self.unrecorded: dict[uuid.UUID, str] = {}
        self.follower = LogFollower(app, self._apply)
        #: attempts under way, by dispatch: a dispatch is never attempted twice at once
        self.in_flight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.wakeup = asyncio.Event()
        # Its own threads: slow SMTP servers must not take the default pool's threads
        # from the consumers and the HTTP handlers.
        self._threads = ThreadPoolExecutor(parallel, thread_name_prefix="notify-send")

    async def run(self, stop: asyncio.Event) -> None:
        remove = self.app.add_commit_listener(waker(self.wakeup))
        try:
            while not stop.is_set():
                self.wakeup.clear()  # before reading the log: a commit meanwhile wakes us
                try:
                    await self._launch_due(stop)
                except Exception:
                    log.warning("sending round failed; trying again", exc_info=True)
                await wait_for_either(stop, self.wakeup, self._next_wait())
        finally:
            remove()
            if self.in_flight:  # let attempts under way record their outcome
                await asyncio.wait(list(self.in_flight.values()))
            self._threads.shutdown(wait=False)

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Catch up with the log and attempt every due dispatch once, waiting for the
        attempts to end. Returns attempts made."""
        started = await self._launch_due(stop)
        if started:
            await asyncio.wait(started)
        return len(started)

    async def _launch_due(self, stop: asyncio.Event | None) -> list[asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        # this process's own commits are taken from memory, on the loop (no store read, no
        # thread); anything else is read from the store
        if self.follower.catch_up_from_memory() is None:
            await asyncio.to_thread(self.follower.catch_up)
        held = set(self.held_partitions())
        started: list[asyncio.Task[None]] = []
        for dispatch_id, p in list(self.pending.items()):
            if (stop is not None and stop.is_set()) or len(self.in_flight) >= self.parallel:
                break  # at the bound: an attempt that ends wakes the loop again
            if dispatch_id in self.in_flight or p.not_before > loop.time() or \
                    partition_of(p.complaint_id, self.partitions) not in held:
                continue
            task = asyncio.ensure_future(self._attempt_once(dispatch_id, p))
            self.in_flight[dispatch_id] = task
            started.append(task)
        return started

    async def _attempt_once(self, dispatch_id: uuid.UUID, p: _Pending) -> None:
        loop = asyncio.get_running_loop()
        try:
            status, attempts = await loop.run_in_executor(self._threads, self._attempt,
                                                          dispatch_id)
            if status == "pending":
                delay = self.backoff_s[min(max(attempts, 1) - 1, len(self.backoff_s) - 1)]
                p.not_before = loop.time() + delay
            else:
                self.pending.pop(dispatch_id, None)
        finally:
            self.in_flight.pop(dispatch_id, None)
            self.wakeup.set()

    def _next_wait(self) -> float:
        """Seconds until the next retry is due (at most the safety-net period). Dispatches
        already due wait for an attempt to end (at the bound) or for their partition."""
        now = asyncio.get_running_loop().time()
        later = [p.not_before - now for p in list(self.pending.values()) if p.not_before > now]
        return min([self.period_s, *later])

    def _attempt(self, dispatch_id: uuid.UUID) -> tuple[str, int]:
        try:
            proof = self.unrecorded.get(dispatch_id)
            if proof is not None:
                status = self.app.record_delivered(dispatch_id, proof)
                self.unrecorded.pop(dispatch_id, None)
            else:
                status = self.app.attempt(dispatch_id, self.channel)
            if status != "pending":
                return status, 0
            # only a retry needs the attempts so far (its backoff): no reload after a send
            attempts = int(self.app.get_dispatch(dispatch_id).attempts)
        except DispatchNotFound:
            return "gone", 0
        except OutcomeNotRecorded as exc:
            log.warning("%s; will record it without sending again", exc, exc_info=exc.__cause__)
            self.unrecorded[dispatch_id] = exc.proof
            return "pending", 1
        except Exception:
            log.warning("sending %s failed", dispatch_id, exc_info=True)
            return "pending", 1
        return "pending", attempts

    def _apply(self, event: object) -> None:
        if isinstance(event, Dispatch.Requested):
            if event.method not in STAFF_TASK:  # staff tasks are not sent by us
                self.pending[event.originator_id] = _Pending(event.complaint_id)
        elif isinstance(event, Dispatch.Sent | Dispatch.Failed | Dispatch.LetterPrinted):
            self.pending.pop(event.originator_id, None)
            self.unrecorded.pop(event.originator_id, None)
