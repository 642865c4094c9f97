"""The base of every service's eventsourcing Application.

A service application is an ``EventSourcedProjection``: HTTP commands save aggregates
directly; upstream events arrive as wire ``Envelope``s and are processed with a tracking
record written in the same transaction as the new events (exactly-once effects). The
notification log is the outbox: ``outbox_page`` turns stored events into envelopes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification, Recording, Tracking
from eventsourcing.projection import EventSourcedProjection
from eventsourcing.utils import EnvType

from hotro.shared.contracts.envelope import Actor, Envelope, event_id_for
from hotro.shared.contracts.events import Payload, parse_payload
from hotro.shared.eventstore.checked_envelopes import CheckedEnvelopes
from hotro.shared.eventstore.collecting import CollectingEvent
from hotro.shared.eventstore.committed_log import CommittedLog
from hotro.shared.eventstore.repository import ServiceRepository
from hotro.shared.eventstore.trace import Trace
from hotro.shared.eventstore.tracking import has_exact_tracking

log = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope, Any, ProcessingEvent[uuid.UUID]], None]
HandlerT = TypeVar("HandlerT", bound=Handler)


def handles(*events: str) -> Callable[[HandlerT], HandlerT]:
    """Mark a method as the policy for upstream events named ``"producer.EventType"``.

    The marks are the only source of a service's subscriptions: provisioning builds the
    consumers' filters from them, so nothing is delivered that no handler takes."""
    pairs = []
    for name in events:
        producer, _, event_type = name.partition(".")
        if not producer or not event_type:
            raise ValueError(f"expected 'producer.EventType', got {name!r}")
        pairs.append((producer, event_type))

    def mark(method: HandlerT) -> HandlerT:
        method.__dict__.setdefault("_hotro_handles", []).extend(pairs)
        return method
    return mark


@dataclass(frozen=True)
class Inbound:
    """An upstream envelope on its way to the policy, with its payload if already decoded."""

    envelope: Envelope
    payload: Payload | None


@dataclass(frozen=True)
class WireEvent:
    """What a stored domain event becomes on the wire (None = internal only)."""

    complaint_id: uuid.UUID
    payload: Payload


@dataclass(frozen=True)
class OutboxItem:
    notification_id: int
    envelope: Envelope | None


class ServiceApplication(EventSourcedProjection[uuid.UUID]):
    """Subclasses set ``name`` (fixed forever: it names tables and tracking rows),
    mark their policy methods with ``@handles("producer.EventType")`` and implement
    ``to_wire``."""

    name = ""  # a class attribute in subclasses, as eventsourcing expects
    #: (producer, EventType) -> name of the method that handles it (from ``@handles``)
    _handler_names: ClassVar[dict[tuple[str, str], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = dict(cls._handler_names)
        for attr, value in vars(cls).items():
            for pair in getattr(value, "_hotro_handles", ()):
                if pair in names and names[pair] != attr:
                    raise TypeError(f"{cls.__name__}: {pair} handled by {names[pair]} "
                                    f"and {attr}")
                names[pair] = attr
        cls._handler_names = names

    @classmethod
    def subscriptions(cls) -> dict[str, tuple[str, ...]]:
        """{producer: (EventType, ...)} this service consumes, from its handlers."""
        found: dict[str, list[str]] = {}
        for producer, event_type in sorted(cls._handler_names):
            found.setdefault(producer, []).append(event_type)
        return {producer: tuple(types) for producer, types in found.items()}

    def __init__(self, env: EnvType | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        if not self.name:
            raise TypeError(f"{type(self).__name__} must set a fixed name")
        super().__init__(env)
        self.clock = clock or (lambda: datetime.now(UTC))
        #: called after every commit that stored events, in the committing (worker) thread
        self._commit_listeners: list[Callable[[], None]] = []
        #: envelopes built at save time (``wire_from_event_alone``), for this process's relay
        self._checked_envelopes = CheckedEnvelopes()
        #: this process's committed notifications, for its own log followers
        self._committed_log = CommittedLog()

    def construct_repository(self) -> ServiceRepository:
        """The library's repository without its protocol check per event replayed
        (``repository.py``). It leaves out the library's aggregate cache settings, which
        no service uses: every load reads the store, so replicas never see stale state."""
        return ServiceRepository(event_store=self.events, snapshot_store=self.snapshots)

    # The library's two bodies, each with a ``CollectingEvent`` (``collecting.py``), less
    # its deprecated ``notify`` hook, which no service implements.
    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[uuid.UUID]]:
        processing_event = CollectingEvent()
        processing_event.collect_events(*objs, **kwargs)
        recordings: list[Recording[uuid.UUID]] = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        processing_event = CollectingEvent(tracking=tracking)
        self.policy(domain_event, processing_event)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)

    def add_commit_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after each commit that stored events (in the saving thread:
        hand over to a loop with ``call_soon_threadsafe``). Returns the remover."""
        self._commit_listeners.append(listener)

        def remove() -> None:
            if listener in self._commit_listeners:
                self._commit_listeners.remove(listener)
        return remove

    def _notify(self, recordings: list[Any]) -> None:
        super()._notify(recordings)
        if recordings:
            for listener in list(self._commit_listeners):
                try:
                    listener()
                except Exception:  # a listener only speeds things up: never fail a save
                    log.warning("commit listener failed", exc_info=True)

    # ---- inbound: exactly-once processing of upstream events -------------------------

    def handle(self, envelope: Envelope, payload: Payload | None = None) -> bool:
        """Apply one upstream event once. Returns False if it was already processed.
        ``payload``: the envelope's payload already validated (the consumer decodes it
        once); without it, the policy validates it.

        No look-up first: a redelivery is rare, and its tracking row's primary key refuses
        it in the same transaction (or the policy, meeting its own earlier effects, refuses
        it before). Only a failure asks whether this position was already processed."""
        try:
            # The policy takes our wire envelope as its "domain event" (a singledispatch input).
            self.process_event(Inbound(envelope, payload),
                               Tracking(envelope.producer, envelope.notification_id))
        except Exception:
            if has_exact_tracking(self.recorder, envelope.producer, envelope.notification_id):
                return False
            raise  # e.g. an aggregate version conflict: the caller retries
        return True

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]) -> None:
        inbound = (domain_event if isinstance(domain_event, Inbound)
                   else Inbound(domain_event, None))
        envelope = inbound.envelope
        name = self._handler_names.get((envelope.producer, envelope.event_type))
        if name is None:
            return  # not ours: tracked anyway, so it is never looked at again
        payload = inbound.payload
        if payload is None:
            payload = parse_payload(envelope.event_type, envelope.schema_version,
                                    envelope.payload)
        getattr(self, name)(envelope, payload, processing_event)

    @staticmethod
    def reaction_trace(envelope: Envelope, actor_id: str) -> dict[str, str | None]:
        """Trace for events created in reaction to ``envelope`` (same correlation)."""
        return Trace(actor_kind="system", actor_id=actor_id,
                     correlation_id=str(envelope.correlation_id),
                     causation_id=str(envelope.event_id)).as_dict()

    # ---- outbound: the notification log is the outbox --------------------------------

    #: ``to_wire`` needs nothing but the event (no repository read): then every event is
    #: checked before it is stored (intake, which takes outside input, sets it).
    wire_from_event_alone: ClassVar[bool] = False

    def _record(self, processing_event: ProcessingEvent[uuid.UUID]) -> Any:
        # Whatever is stored will be published by the relay, in order: an event that cannot
        # become a valid envelope would stop the relay for every later event. Refuse it here,
        # before anything is written (the caller gets the validation error).
        if not self.wire_from_event_alone:
            recordings: list[Recording[uuid.UUID]] = super()._record(processing_event)
            self._committed_log.keep(r.notification for r in recordings)
            return recordings
        built = {(str(event.originator_id), event.originator_version): self.envelope_of(1, event)
                 for event in processing_event.events}
        recordings = super()._record(processing_event)
        self._committed_log.keep(r.notification for r in recordings)
        # committed: the relay may take them as they are, at the ids they were stored at
        self._checked_envelopes.keep(built, {
            (str(r.domain_event.originator_id), r.domain_event.originator_version):
                r.notification.id for r in recordings})
        return recordings

    def to_wire(self, domain_event: Any) -> WireEvent | None:
        return None

    def max_notification_id(self) -> int:
        return self.recorder.max_notification_id() or 0

    def outbox_page(self, after: int, limit: int) -> list[OutboxItem]:
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        return [OutboxItem(n.id, self._outbox_envelope(n)) for n in notifications]

    def committed_page(self, after: int, limit: int) -> list[OutboxItem] | None:
        """``outbox_page`` without reading the store, when this process committed every
        notification after ``after`` that it knows of (``CheckedEnvelopes.take_run``);
        None otherwise. No I/O: the relay calls it on its event loop."""
        run = self._checked_envelopes.take_run(after, limit)
        return None if run is None else [OutboxItem(n, envelope) for n, envelope in run]

    def committed_run(self, after: int, limit: int) -> list[Notification] | None:
        """The stored notifications after ``after`` that this process committed, while
        their ids run on without a gap (``CommittedLog``); None when ``after + 1`` is not
        one of them. No I/O."""
        return self._committed_log.run_after(after, limit)

    def _outbox_envelope(self, notification: Notification) -> Envelope | None:
        found, envelope = self._checked_envelopes.take(
            (str(notification.originator_id), notification.originator_version), notification.id)
        if found:
            return envelope
        return self.envelope_of(notification.id, self.mapper.to_domain_event(notification))

    def envelopes(self, after: int = 0, page: int = 1000) -> Iterable[Envelope]:
        """Every published event of this service, in log order (for audit and replay)."""
        while True:
            items = self.outbox_page(after, page)
            if not items:
                return
            for item in items:
                if item.envelope is not None:
                    yield item.envelope
            after = items[-1].notification_id

    def envelope_of(self, notification_id: int, event: Any) -> Envelope | None:
        """The wire envelope of one stored event (None for internal events)."""
        wire = self.to_wire(event)
        if wire is None:
            return None
        trace = Trace.of(event)
        return Envelope(
            event_id=event_id_for(self.name, event.originator_id, event.originator_version),
            event_type=wire.payload.EVENT_TYPE,
            schema_version=wire.payload.SCHEMA_VERSION,
            complaint_id=wire.complaint_id,
            producer=self.name,
            notification_id=notification_id,
            occurred_at=event.timestamp,
            actor=Actor(kind=trace.actor_kind, id=trace.actor_id, role=trace.actor_role),
            correlation_id=uuid.UUID(trace.correlation_id),
            causation_id=uuid.UUID(trace.causation_id) if trace.causation_id else None,
            payload=wire.payload.model_dump(mode="json"),
        )


def collect(processing_event: ProcessingEvent[uuid.UUID], *aggregates: Aggregate) -> None:
    processing_event.collect_events(*aggregates)
