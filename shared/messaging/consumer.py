"""One partition's durable pull consumer: decode, apply once, ack — in order.

* Messages of one partition are handled one after another, so one complaint's events
  are applied in the order they were published.
* Infrastructure failure (database down, version conflict): the message and the rest of
  the fetched batch are NAKed with the same backoff delay and this partition pauses for
  that delay, so they come back in order; the server counts deliveries.
* A message that cannot be decoded, or that still fails on its last allowed delivery,
  is a poison message: published to ``hotro.dlq.<service>.…`` with the reason, logged
  with its id, counted, and terminated — the partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from hotro.shared.contracts.envelope import Envelope
from hotro.shared.contracts.events import Payload, UnknownEventType, parse_payload
from hotro.shared.contracts.subjects import EVENTS_STREAM, dlq_subject, durable_name
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.messaging.pull import fetch_unless, release
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.runtime.periodic import wait_or_stop

log = logging.getLogger(__name__)


class PoisonMessage(Exception):
    pass


#: how often a consumer whose lease lapsed looks whether it holds it again
HELD_AGAIN_POLL_S = 0.05


class PartitionConsumer:
    def __init__(self, app: ServiceApplication, js: JetStreamContext, partition: int,
                 metrics: ServiceMetrics, *, batch: int = 64, max_deliver: int = 8,
                 backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0),
                 fetch_timeout_s: float = 5.0,
                 handle: Callable[[Envelope], bool] | None = None,
                 holds: Callable[[], bool] | None = None) -> None:
        """``handle``: instead of ``app.handle`` (tests); it gets the envelope alone.
        ``holds``: whether this replica may still act on the partition (its lease is
        valid), asked before each message; the rest of a batch fetched just before the
        lease lapsed goes back to the server for the next owner."""
        self.app = app
        self.js = js
        self.partition = partition
        self.metrics = metrics
        self.batch = batch
        self.max_deliver = max_deliver
        self.backoff_s = backoff_s
        self.fetch_timeout_s = fetch_timeout_s
        self._handle: Callable[[Envelope, Payload], bool] = (
            app.handle if handle is None else lambda envelope, _payload: handle(envelope))
        self.holds = holds or (lambda: True)
        self.durable = durable_name(app.name, partition)
        self.processed = 0

    async def _attach(self, stop: asyncio.Event) -> JetStreamContext.PullSubscription | None:
        """Bind to the durable consumer, retrying until it answers or ``stop``: a broker
        outage or a cluster electing a new leader at this moment must not leave the
        partition held by a consumer that never started (its lease would still be
        renewed, so nobody else would take it over)."""
        delay = 0.2
        while not stop.is_set():
            try:
                info = await self.js.consumer_info(EVENTS_STREAM, self.durable)
                if info.config.max_deliver and info.config.max_deliver > 0:
                    # The server stops redelivering after its max_deliver: dead-letter on
                    # that very delivery, or the message would be dropped without a trace.
                    self.max_deliver = info.config.max_deliver
                return await self.js.pull_subscribe_bind(durable=self.durable,
                                                         stream=EVENTS_STREAM)
            except Exception as exc:
                log.warning("cannot attach to %s yet (%r); retrying in %.1fs", self.durable,
                            exc, delay, extra={"partition": self.partition})
                await wait_or_stop(stop, delay)
                delay = min(delay * 2, 5.0)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._attach(stop)
        if sub is None:
            return
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                if not self.holds():
                    # Lease lapsed, and the owner has not stopped us yet (it may be busy
                    # stopping another partition): fetching now would hand the same message
                    # back again and again, each time a delivery, until the server's
                    # max_deliver drops it unprocessed — seen in the chaos runs.
                    await wait_or_stop(stop, HELD_AGAIN_POLL_S)
                    continue
                try:
                    msgs = await fetch_unless(stopped, sub, self.batch, self.fetch_timeout_s)
                except Exception:
                    log.warning("fetch failed on %s", self.durable, exc_info=True)
                    await wait_or_stop(stop, 0.5)
                    continue
                if msgs is None:
                    break
                await self._process_batch(msgs, stop)
        finally:
            stopped.cancel()
            try:
                handed = await release(sub)
            except Exception:
                log.info("%s could not hand back on release (the connection is closed?): "
                         "what it held comes back after ack_wait", self.durable, exc_info=True)
            else:
                if handed:
                    log.info("%s handed %d message(s) back on release", self.durable, handed)

    async def _process_batch(self, msgs: list[Msg], stop: asyncio.Event) -> None:
        for i, msg in enumerate(msgs):
            if stop.is_set() or not self.holds():
                await _nak_all(msgs[i:], delay=None)  # hand back in order to the next owner
                return
            delay = await self._process_one(msg)
            if delay is not None:
                await _nak_all(msgs[i:], delay=delay)
                await wait_or_stop(stop, delay)
                return

    async def _process_one(self, msg: Msg) -> float | None:
        """Returns a retry delay when the batch must be handed back, else None."""
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        if deliveries > 1:
            self.metrics.redeliveries.labels(self.app.name).inc()
        try:
            envelope, payload = decode(msg.data)
        except PoisonMessage as exc:
            await self._dead_letter(msg, "undecodable", str(exc))
            return None
        extra = {"complaint_id": envelope.complaint_id, "correlation_id": envelope.correlation_id,
                 "event_type": envelope.event_type, "msg_id": envelope.msg_id(),
                 "partition": self.partition}
        try:
            # decoded once: the policy takes the validated payload as it is
            applied = await asyncio.to_thread(self._handle, envelope, payload)
        except Exception as exc:
            if deliveries >= self.max_deliver:
                log.error("giving up on %s after %d deliveries", envelope.msg_id(), deliveries,
                          extra=extra, exc_info=True)
                await self._dead_letter(msg, "max_deliveries", repr(exc))
                return None
            delay = self.backoff_s[min(deliveries - 1, len(self.backoff_s) - 1)]
            log.warning("handling %s failed (delivery %d); retry in %.1fs: %r",
                        envelope.msg_id(), deliveries, delay, exc, extra=extra)
            self.metrics.events_handled.labels(self.app.name, envelope.event_type, "retry").inc()
            return delay
        outcome = "applied" if applied else "duplicate"
        self.metrics.events_handled.labels(self.app.name, envelope.event_type, outcome).inc()
        self.processed += 1
        await msg.ack()
        return None

    async def _dead_letter(self, msg: Msg, reason: str, detail: str) -> None:
        producer, event_type = _subject_parts(msg.subject)
        # Server directives of the original publish (Nats-Msg-Id, Nats-Expected-Stream…) must
        # not apply to the dead letter.
        headers = {k: v for k, v in (msg.headers or {}).items() if not k.startswith("Nats-")}
        headers.update({
            "Hotro-Dead-Letter-Reason": reason,
            "Hotro-Dead-Letter-Detail": detail[:500].replace("\r", " ").replace("\n", " "),
            "Hotro-Original-Subject": msg.subject,
            "Hotro-Consumer": self.durable,
        })
        if msg.metadata is not None:
            headers["Hotro-Original-Sequence"] = str(msg.metadata.sequence.stream)
        await self.js.publish(dlq_subject(self.app.name, producer, event_type), msg.data,
                              headers=headers)
        self.metrics.dead_letters.labels(self.app.name, reason).inc()
        log.error("dead-lettered %s from %s: %s (%s)", headers.get("Hotro-Original-Sequence"),
                  msg.subject, reason, detail[:200], extra={"partition": self.partition})
        await msg.term()


def decode(data: bytes) -> tuple[Envelope, Payload]:
    """The envelope and its validated payload; PoisonMessage if either is invalid."""
    try:
        envelope = Envelope.model_validate_json(data)
        payload = parse_payload(envelope.event_type, envelope.schema_version, envelope.payload)
    except (ValidationError, UnknownEventType, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PoisonMessage(str(exc)[:1000]) from None
    return envelope, payload


def _subject_parts(subject: str) -> tuple[str, str]:
    parts = subject.split(".")
    if len(parts) >= 4:
        return parts[2], parts[3]
    return "unknown", "unknown"


async def _nak_all(msgs: list[Msg], delay: float | None) -> None:
    for m in msgs:
        with contextlib.suppress(Exception):
            await m.nak(delay=delay)



