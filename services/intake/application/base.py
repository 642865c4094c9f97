"""What every intake use case stands on: the store, the data keys, the look-ups."""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application.allocation import ReferenceBlocks
from hotro.services.intake.domain import (
    ChannelRules,
    FilingCheck,
    HotlineCall,
    MessageIndex,
    ReferenceCounter,
    ReferenceIndex,
    Request,
    filing_window_check,
)
from hotro.shared.calendar import load_calendar, load_policy
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.repository import ServiceRepository
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.pending import FallbackKeyRing, pending_keys_for
from hotro.shared.privacy.sealing import KeyRing, process_keyring
from hotro.shared.privacy.secrets import ephemeral_hash_secret

log = logging.getLogger(__name__)

#: versions between snapshots of an aggregate that gains an event per request
SNAPSHOT_EVERY = 20


class RequestNotFound(LookupError):
    pass


class IntakeBase(ServiceApplication):
    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 filing_check: FilingCheck | None = None,
                 channel_rules: ChannelRules | None = None,
                 link_window: timedelta = timedelta(days=60),
                 keyring: KeyRing | None = None, hash_secret: bytes | None = None,
                 duplicate_window: timedelta = timedelta(days=7)) -> None:
        super().__init__(env, clock)
        #: data keys (one per complaint): the customer's contact is stored sealed
        #: keys made while the shared key store is unreachable (shared.privacy.pending)
        self.pending_keys = pending_keys_for(self.recorder)
        self.keyring: KeyRing = (FallbackKeyRing(keyring, self.pending_keys)
                                 if keyring is not None else process_keyring())
        #: HMAC secret of the phone/email index keys
        self.hash_secret = hash_secret or ephemeral_hash_secret()
        #: reference numbers leased by this process (``allocation.py``)
        self.reference_blocks = ReferenceBlocks(self._lease_references)
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self.filing_check = filing_check or filing_window_check(load_calendar(), load_policy())
        self.channel_rules = channel_rules or ChannelRules()
        self.link_window = link_window
        #: the same customer about the same product or order within this: possible duplicate
        self.duplicate_window = duplicate_window

    def construct_repository(self) -> ServiceRepository:
        # Only the reference counter has snapshots: every other load would ask the
        # snapshot table for nothing. The counter is loaded by ``_counter`` instead.
        repository = super().construct_repository()
        repository.snapshot_store = None
        return repository

    # ---- reference numbers -----------------------------------------------------------

    def _lease_references(self, prefix: str, year: int, size: int,
                          retries: int = 20) -> range:
        """Lease the next ``size`` numbers of (prefix, year): one counter event, committed
        before any of them is handed out; a concurrent lease (another replica) retries."""
        trace = Trace.system("intake").as_dict()
        for attempt in range(retries):
            counter = self._counter(prefix, year, trace)
            numbers = counter.lease(size, holder=self._holder, trace=trace)
            try:
                self.save(counter)
            except IntegrityError:
                backoff(attempt)
                continue
            return numbers
        raise RuntimeError("could not lease reference numbers (too much contention)")

    def _counter(self, prefix: str, year: int,
                 trace: dict[str, str | None]) -> ReferenceCounter:
        counter_id = ReferenceCounter.create_id(prefix, year)
        # From its latest snapshot: counters stored before blocks hold an event per request.
        try:
            counter: ReferenceCounter = self.from_snapshot(counter_id)
        except AggregateNotFoundError:
            counter = ReferenceCounter(prefix=prefix, year=year, trace=trace)
        return counter

    def from_snapshot(self, aggregate_id: uuid.UUID) -> Any:
        """Load from the latest snapshot and the events after it (for the few aggregates
        that gain an event per request: the counter, the phone index)."""
        return ServiceRepository(event_store=self.events, snapshot_store=self.snapshots).get(
            aggregate_id)

    def snapshot_now_and_then(self, aggregate: Any) -> None:
        """Snapshot ``aggregate`` as just saved, every ``SNAPSHOT_EVERY`` versions:
        from the copy in hand — eventsourcing's own snapshotting would replay the whole
        history to take it. A cache beside the log: if it fails, loads replay more."""
        if aggregate.version % SNAPSHOT_EVERY or self.snapshots is None:
            return
        snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
        if snapshot_class is None:
            return
        try:
            self.snapshots.put([snapshot_class.take(aggregate)])
        except Exception:
            log.warning("snapshot of %s at version %s failed", aggregate.id, aggregate.version,
                        exc_info=True)

    # ---- look-ups --------------------------------------------------------------------

    def get_request(self, request_id: uuid.UUID) -> Request:
        try:
            request: Request = self.repository.get(request_id)
        except AggregateNotFoundError:
            raise RequestNotFound(str(request_id)) from None
        return request

    def find(self, id_or_reference: str) -> Request:
        try:
            return self.get_request(uuid.UUID(id_or_reference))
        except ValueError:
            pass
        try:
            index: ReferenceIndex = self.repository.get(ReferenceIndex.create_id(id_or_reference))
        except AggregateNotFoundError:
            raise RequestNotFound(id_or_reference) from None
        return self.get_request(index.request_id)

    def request_for_message(self, message_id: str) -> uuid.UUID | None:
        index = self.message_index(message_id)
        return index.request_id if index is not None else None

    def message_index(self, message_id: str) -> MessageIndex | None:
        try:
            index: MessageIndex = self.repository.get(MessageIndex.create_id(message_id))
        except AggregateNotFoundError:
            return None
        return index

    def is_recorded(self, request_id: uuid.UUID) -> bool:
        return self._request_or_none(request_id) is not None

    def _request_or_none(self, request_id: uuid.UUID) -> Request | None:
        try:
            return self.get_request(request_id)
        except RequestNotFound:
            return None

    def _call(self, call_id: str) -> HotlineCall | None:
        try:
            call: HotlineCall = self.repository.get(HotlineCall.create_id(call_id))
        except AggregateNotFoundError:
            return None
        return call


def backoff(attempt: int) -> None:
    """Jittered pause before retrying a save that lost an optimistic-concurrency race."""
    time.sleep(random.uniform(0, min(0.2, 0.005 * (attempt + 1))))
