"""Outbox relay: publish a service's notification log to JetStream, in order, once.

* Where to resume is read from the stream itself (the newest message this producer
  published carries its notification id), so the relay keeps no state of its own and a
  stream that lost its tail gets it re-published. (A direct get: in a cluster a replica
  may answer a moment behind the leader; resuming a little early only re-publishes
  messages the duplicate window drops.)
* Every message carries ``Nats-Msg-Id = <producer>:<notification id>``: a re-publish
  inside the stream's duplicate window is dropped by the server; outside it, consumers'
  tracking rows drop it.
* Publishes are sequential and each awaits its PubAck: a timeout has an unknown outcome,
  so the same message (same id) is retried until acknowledged — never skipped. They are
  not pipelined: nats-py writes concurrent publishes in call order, but when the
  connection drops, what was already on the socket is lost while the rest of its buffer
  goes out after the reconnect — a later event would land before an earlier one, and a
  relay restarted then would resume after the later one and never publish the earlier.
* The relay wakes when this process commits events (``add_commit_listener``); ``idle_s``
  is only the safety net for events another process stored (a replica, a tool). A page
  shorter than ``batch`` reached the log's end: the relay sleeps then, without reading an
  empty page to find out (a commit during the step has set the wake-up already).
* A page this process committed whole is taken from memory (``committed_page``: no
  store read, no thread hand-off); any other page is read from the store.
* The lag gauge is the runtime's periodic lag report, not a head read after every page.
* Only the holder of the ``<service>.relay`` lease runs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from hotro.shared.contracts.envelope import Envelope
from hotro.shared.contracts.subjects import EVENTS_STREAM, event_subject, producer_filter
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.runtime.periodic import wait_for_either, wait_or_stop, waker

log = logging.getLogger(__name__)

HDR_NOTIFICATION_ID = "Hotro-Notification-Id"
HDR_EVENT_TYPE = "Hotro-Event-Type"
HDR_CORRELATION = "Hotro-Correlation-Id"


def headers_for(envelope: Envelope) -> dict[str, str]:
    return {
        "Nats-Msg-Id": envelope.msg_id(),
        HDR_NOTIFICATION_ID: str(envelope.notification_id),
        HDR_EVENT_TYPE: envelope.event_type,
        HDR_CORRELATION: str(envelope.correlation_id),
    }


class StreamAheadOfStore(RuntimeError):
    """The stream already holds this producer's events beyond the end of this store: the
    store was replaced or restored from a backup. Publishing would reuse notification ids
    (dropped as duplicates) — so the relay refuses, loudly, until an operator decides."""


class OutboxRelay:
    def __init__(self, app: ServiceApplication, js: JetStreamContext, partitions: int,
                 metrics: ServiceMetrics, *, batch: int = 500, idle_s: float = 2.0,
                 publish_timeout_s: float = 2.0, is_leader: Callable[[], bool] = lambda: True,
                 before_publish: Callable[[bool], Awaitable[None]] | None = None) -> None:
        self.app = app
        self.js = js
        self.partitions = partitions
        self.metrics = metrics
        self.batch = batch
        self.idle_s = idle_s
        self.publish_timeout_s = publish_timeout_s
        self.is_leader = is_leader
        self.before_publish = before_publish
        self.position: int | None = None  # None: ask the stream before publishing again
        self.wakeup = asyncio.Event()
        self.error: str | None = None

    async def resume_position(self) -> int:
        try:
            # Direct get with the filter in the request subject
            # ($JS.API.DIRECT.GET.HOTRO_EVENTS.hotro.evt.<service>.>): the service's NATS
            # user may ask for its own subjects' last message and nothing else of the
            # stream (docs/security.md, "Bus permissions").
            last = await self.js.get_msg(EVENTS_STREAM, subject=producer_filter(self.app.name),
                                         direct=True)
        except NotFoundError:
            return 0
        headers = last.headers or {}
        position = int(headers.get(HDR_NOTIFICATION_ID, "0"))
        stored = await asyncio.to_thread(self.app.max_notification_id)
        if position > stored:
            raise StreamAheadOfStore(
                f"stream {EVENTS_STREAM} holds {self.app.name} events up to notification "
                f"{position}, but this store ends at {stored}: another or a restored store. "
                "Refusing to publish (docs/architecture.md, 'Relay').")
        return position

    def replay_from(self, position: int) -> None:
        """Operator action: publish everything after ``position`` again (dedupe applies)."""
        self.position = position
        self.wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        remove = self.app.add_commit_listener(waker(self.wakeup))
        try:
            await self._run(stop)
        finally:
            remove()

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before reading the log: a commit during the step wakes the next one.
            self.wakeup.clear()
            if not self.is_leader():
                self.position = None
                await wait_or_stop(stop, 0.5)
                continue
            try:
                published = await self.step()
            except StreamAheadOfStore as exc:
                if self.error != str(exc):
                    log.critical("%s", exc)
                self.error = str(exc)
                self.position = None
                await wait_or_stop(stop, 5.0)
                continue
            except Exception:  # broker or store down: retry, resuming from the stream
                log.warning("relay step failed; will resume from the stream", exc_info=True)
                self.position = None
                await wait_or_stop(stop, 0.5)
                continue
            self.error = None
            if published < self.batch:
                await self._pause(stop, self.idle_s)

    async def step(self) -> int:
        """Publish one page. Returns how many notifications were consumed."""
        if self.position is None:
            self.position = await self.resume_position()
            log.info("relay resumes after notification %s", self.position)
        items = self.app.committed_page(self.position, self.batch)
        own = items is not None
        if items is None:
            items = await asyncio.to_thread(self.app.outbox_page, self.position, self.batch)
        if items and self.before_publish is not None:
            await self.before_publish(own)  # own: every event on the page is this process's
        for item in items:
            if not self.is_leader():
                self.position = None
                return 0
            if item.envelope is not None:
                await self._publish(item.envelope)
            self.position = item.notification_id
        return len(items)

    async def _publish(self, envelope: Envelope) -> None:
        subject = event_subject(envelope.producer, envelope.event_type, envelope.complaint_id,
                                self.partitions)
        body = envelope.model_dump_json().encode()
        delay = 0.1
        while True:
            try:
                await self.js.publish(subject, body, timeout=self.publish_timeout_s,
                                      stream=EVENTS_STREAM, headers=headers_for(envelope))
                self.metrics.relay_published.labels(self.app.name).inc()
                return
            except Exception as exc:
                if not self.is_leader():
                    raise
                log.warning("publish of %s failed (%s); retrying", envelope.msg_id(), exc,
                            extra={"complaint_id": envelope.complaint_id,
                                   "msg_id": envelope.msg_id()})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        await wait_for_either(stop, self.wakeup, seconds)
