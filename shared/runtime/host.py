"""Run one service process: NATS connection, leases, outbox relay, partition consumers,
and the HTTP surface (health, readiness, metrics, the service's own API)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from nats.js import JetStreamContext
from pydantic import BaseModel, Field

from hotro.shared.contracts.subjects import EVENTS_STREAM, LEASES_BUCKET, durable_name
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.messaging.connection import NatsConnection
from hotro.shared.messaging.consumer import PartitionConsumer
from hotro.shared.messaging.leases import LeaseKeeper
from hotro.shared.messaging.provision import wait_provisioned
from hotro.shared.messaging.relay import OutboxRelay
from hotro.shared.observability.metrics import ServiceMetrics
from hotro.shared.privacy.kv import KeyRingUnavailable
from hotro.shared.runtime.heap import settle_heap
from hotro.shared.runtime.integrity import build_integrity_router
from hotro.shared.runtime.limits import RequestLimits
from hotro.shared.runtime.openapi import (
    KEY_RING_RETRY_AFTER_S,
    STORE_RETRY_AFTER_S,
    Refused,
    document_errors,
    error_responses,
    invalid,
    refused_response,
)
from hotro.shared.runtime.operator_actions import record_operator_action
from hotro.shared.runtime.periodic import run_every
from hotro.shared.seals import SealKeeper
from hotro.shared.settings import ServiceSettings
from hotro.shared.staff.http import Principal, internal, operator

log = logging.getLogger(__name__)

Background = Callable[[asyncio.Event], Awaitable[None]]

#: the operator calling an ops endpoint (``/ops/…``): the operator role only …
Operator = Annotated[Principal, Depends(operator())]
#: … and only on the service's own listener (a proxied request is answered 404); the
#: gateway never forwards ``/ops/`` either. Health, readiness and metrics: the same.
OWN_LISTENER = [Depends(internal())]
#: the largest notification id a replay may name (an int64 for any store)
MAX_POSITION = 2**63 - 1


@dataclass
class _Running:
    stop: asyncio.Event
    task: asyncio.Task[None]
    consumer: PartitionConsumer


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    app: ServiceApplication
    metrics: ServiceMetrics
    background: Sequence[Background] = ()
    #: awaited by the relay before it publishes a page (it retries while this raises);
    #: its argument says whether every event on the page is this process's own
    before_publish: Callable[[bool], Awaitable[None]] | None = None
    on_fatal: Callable[[], None] | None = None
    conn: NatsConnection | None = None
    js: JetStreamContext | None = None
    leases: LeaseKeeper | None = None
    relay: OutboxRelay | None = None
    ready: bool = False
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _partitions: dict[int, _Running] = field(default_factory=dict)
    #: backpressure signals (metrics and /readyz): stored events this replica's relay has
    #: not yet published (None: not the relay holder) and messages waiting per partition
    relay_lag: int | None = None
    consumer_lag: dict[int, int] = field(default_factory=dict)
    _published: int | None = None

    @property
    def name(self) -> str:
        return self.app.name

    async def start(self) -> None:
        s = self.settings
        self.conn = NatsConnection(s.nats_servers(), f"{self.name}:{s.replica_id}",
                                   on_fatal=self.on_fatal, credentials=s.nats_credentials())
        nc = await self.conn.connect(attempts_timeout_s=s.start_timeout_s)
        self.js = nc.jetstream(timeout=5)
        subs = self.app.subscriptions()
        await wait_provisioned(self.js, self.name, s.partitions, needs_consumers=bool(subs),
                               timeout_s=s.start_timeout_s)
        kv = await self.js.key_value(LEASES_BUCKET)
        self.leases = LeaseKeeper(
            self.js, kv, self.name, s.replica_id, s.partitions, s.lease_ttl_s,
            consume_partitions=bool(subs),
            on_partition_acquired=self._start_partition,
            on_partition_lost=self._stop_partition,
        )
        self.relay = OutboxRelay(self.app, self.js, s.partitions, self.metrics,
                                 batch=s.relay_batch, idle_s=s.relay_idle_s,
                                 is_leader=self.leases.holds_relay,
                                 before_publish=self.before_publish)
        self._spawn(self.leases.run(self._stop), "leases")
        self._spawn(self.relay.run(self._stop), "relay")
        # Audit seals of this service's log, published by the relay-lease holder.
        seals = SealKeeper(self.app, lambda: self.js, self.leases.holds_relay)
        self._spawn(seals.run(self._stop), "seals")
        self._spawn(run_every(5.0, self._report_lag, self._stop, what="lag report"), "lag")
        for i, job in enumerate(self.background):
            self._spawn(job(self._stop), f"background-{i}")
        self.ready = True
        log.info("%s replica %s started", self.name, s.replica_id)

    async def stop(self) -> None:
        self.ready = False
        self._stop.set()
        # together: each hands back what its last fetch had brought
        await asyncio.gather(*(self._stop_partition(p) for p in list(self._partitions)))
        for task in self._tasks:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5)
        if self.conn is not None:
            await self.conn.close()
        self.app.close()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}-{name}")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and not self._stop.is_set():
            log.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    async def _start_partition(self, partition: int) -> None:
        if partition in self._partitions or self.js is None:
            return
        s = self.settings
        leases = self.leases

        def holds() -> bool:  # asked before each message: a lapsed lease stops it at once
            return leases is not None and leases.holds_partition(partition)

        consumer = PartitionConsumer(self.app, self.js, partition, self.metrics,
                                     batch=s.consumer_batch, max_deliver=s.max_deliver,
                                     backoff_s=s.retry_backoff_s,
                                     fetch_timeout_s=s.consumer_fetch_s, holds=holds)
        stop = asyncio.Event()
        task = asyncio.ensure_future(consumer.run(stop))
        task.set_name(f"{self.name}-p{partition}")
        task.add_done_callback(self._task_done)
        self._partitions[partition] = _Running(stop, task, consumer)
        self.metrics.partitions_held.labels(self.name).set(len(self._partitions))

    async def _stop_partition(self, partition: int) -> None:
        running = self._partitions.pop(partition, None)
        if running is None:
            return
        running.stop.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(running.task, timeout=10)
        self.metrics.partitions_held.labels(self.name).set(len(self._partitions))

    async def _report_lag(self) -> None:
        # Relay lag from the last position this replica published while it held the relay
        # lease — kept while NATS is unreachable (no replica can publish then, and that is
        # when the lag grows), dropped once another replica may hold the lease.
        nc = self.conn.client if self.conn else None
        holds = bool(self.leases and self.leases.holds_relay())
        if holds and self.relay is not None and self.relay.position is not None:
            self._published = self.relay.position
        elif not holds and nc is not None and nc.is_connected:
            self._published = None
        if self._published is None:
            self.relay_lag = None
        else:
            with contextlib.suppress(Exception):  # the store is down: the next round
                head = await asyncio.to_thread(self.app.max_notification_id)
                self.relay_lag = max(0, head - self._published)
                self.metrics.relay_lag.labels(self.name).set(self.relay_lag)
        if self.js is None:
            return
        lags = {p: n for p, n in self.consumer_lag.items() if p in self._partitions}
        for p in list(self._partitions):
            with contextlib.suppress(Exception):  # a gauge: the next round tries again
                info = await self.js.consumer_info(EVENTS_STREAM, durable_name(self.name, p))
                lags[p] = (info.num_pending or 0) + (info.num_ack_pending or 0)
                self.metrics.consumer_lag.labels(self.name, str(p)).set(lags[p])
        self.consumer_lag = lags

    def health(self) -> dict[str, object]:
        nc = self.conn.client if self.conn else None
        return {
            "service": self.name,
            "replica": self.settings.replica_id,
            "instance": self.settings.instance_id,
            "ready": self.ready,
            "nats_connected": bool(nc and nc.is_connected),
            "relay_leader": bool(self.leases and self.leases.holds_relay()),
            "partitions": sorted(self._partitions),
            "relay_position": self.relay.position if self.relay else None,
            "relay_error": self.relay.error if self.relay else None,
            "leases_error": self.leases.stalled() if self.leases else None,
            "relay_lag": self.relay_lag,
            "consumer_lag": {str(p): n for p, n in sorted(self.consumer_lag.items())},
        }


def _unavailable(detail: str, retry_after_s: int) -> JSONResponse:
    """A temporary state: 503 with Retry-After (and the reason) rather than a 500."""
    return JSONResponse({"detail": f"{detail}; try again in {retry_after_s} seconds"},
                        status_code=503, headers={"Retry-After": str(retry_after_s)})


async def key_ring_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The customers' data keys cannot be reached (NATS down, no stream leader)."""
    log.warning("request refused, the data-key store is unavailable: %s", exc)
    return _unavailable("the customers' data keys cannot be reached right now (the key "
                        f"store is unavailable: {exc})", KEY_RING_RETRY_AFTER_S)


async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The event store cannot be reached (a database restarting, its connections cut, a
    lock not granted in time): the transaction was rolled back, so nothing was recorded
    and a client may retry (with its idempotency key)."""
    log.warning("%s %s refused, the event store is unavailable: %s",
                request.method, request.url.path, exc)
    return _unavailable("the service's event store cannot be reached right now "
                        f"({type(exc).__name__}: {exc}); nothing was recorded",
                        STORE_RETRY_AFTER_S)


class ReplayStarted(BaseModel):
    replaying_from: int = Field(description="the relay publishes every event after this")
    until: int = Field(description="the end of the log when the replay was asked for")


def build_http_app(runtime: ServiceRuntime, routers: Sequence[APIRouter] = (),
                   title: str | None = None, *,
                   validation_error: type[BaseModel] | None = None) -> FastAPI:
    """The service's HTTP app: its routers, the runtime's own routes (health, readiness,
    metrics: ``internal()``; relay replay: ``operator()`` on the own listener), request
    limits (``RequestLimits``, from the settings) and error responses documented
    (``document_errors``; ``validation_error``: the body model of the service's 422s when
    its own handler shapes them). Every route declares its policy (shared/staff/http.py)."""
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        log.info("%s: %d start-up objects frozen out of the collector's full passes",
                 runtime.name, settle_heap())
        try:
            yield
        finally:
            await runtime.stop()

    http = FastAPI(title=title or f"Hotro {runtime.name}", lifespan=lifespan)
    http.state.runtime = runtime

    @http.get("/healthz", tags=["ops"], dependencies=OWN_LISTENER)
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @http.get("/readyz", tags=["ops"], dependencies=OWN_LISTENER,
              responses={503: {"description": "not ready (the body says why)"}})
    async def readyz() -> JSONResponse:
        state = runtime.health()
        ok = bool(state["ready"] and state["nats_connected"] and not state["relay_error"]
                  and not state["leases_error"])
        return JSONResponse(state, status_code=200 if ok else 503)

    @http.get("/metrics", tags=["ops"], dependencies=OWN_LISTENER,
              response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")

    #: the end of the log when the last replay was asked for (None: none yet)
    replaying: dict[str, int | None] = {"until": None}

    @http.post("/ops/relay/replay", tags=["ops"], dependencies=OWN_LISTENER,
               response_model=ReplayStarted, responses=error_responses(409))
    async def replay_relay(
            who: Operator,
            from_position: Annotated[int, Query(
                ge=0, le=MAX_POSITION,
                description="publish every event after this notification id again "
                            "(0: the whole log); at most the end of the log")],
    ) -> dict[str, Any]:
        """Operator: publish this service's log again after a position (the stream's
        duplicate window and the consumers' tracking make it harmless). Refused beyond
        the end of the log (422), beyond what the relay has published (409: it would
        skip events), while a replay is still running (409), and on a replica that does
        not hold the relay lease (409). Recorded as an OperatorAction."""
        relay, leases = runtime.relay, runtime.leases
        if relay is None or leases is None or not leases.holds_relay():
            raise HTTPException(409, "this replica does not hold the relay lease")
        end = await asyncio.to_thread(runtime.app.max_notification_id)
        if from_position > end:
            raise invalid(("query", "from_position"),
                          f"beyond the end of the log ({end})", from_position)
        published = relay.position
        if published is None or from_position > published:
            raise HTTPException(409, f"the relay has published up to {published} only: "
                                     "replaying from beyond that would skip events")
        until = replaying["until"]
        if until is not None and published < until:
            raise HTTPException(409, f"a replay is running ({published} of {until})")
        arguments = {"from_position": from_position, "log_end": end}
        await asyncio.to_thread(record_operator_action, runtime.app, who, "relay.replay",
                                arguments)
        replaying["until"] = end
        relay.replay_from(from_position)
        return {"replaying_from": from_position, "until": end}

    for router in routers:
        http.include_router(router)
    # the auditor's per-case check of this service's log against its newest seal
    http.include_router(build_integrity_router(runtime.app, lambda: runtime.js))
    settings = runtime.settings
    http.add_middleware(RequestLimits, max_body_bytes=settings.http_max_body_bytes(),
                        body_timeout_s=settings.http_body_timeout_s)
    http.add_exception_handler(KeyRingUnavailable, key_ring_unavailable)
    http.add_exception_handler(Refused, refused_response)
    for unreachable in (OperationalError, InterfaceError):
        http.add_exception_handler(unreachable, store_unavailable)
    document_errors(http, validation_error=validation_error, unavailable=True)
    return http
