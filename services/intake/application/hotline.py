"""Calls the call-centre software reports: linked to the caller's open request, else kept
as a draft the agent turns into a request (``Receiving``) or leaves.

Each signed notice is accepted once: its ``WebhookDelivery`` record (keyed by the
signature's digest) is saved in the same transaction as the notice's effect, so a replay
conflicts in the store on any replica and is refused (``ReplayedDelivery``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application.base import backoff
from hotro.services.intake.application.personal_data import PersonalData
from hotro.services.intake.domain import HotlineCall, PhoneIndex, WebhookDelivery


class ReplayedDelivery(ValueError):
    """This signed notice was accepted before."""


@dataclass(frozen=True)
class Delivery:
    """A signed webhook notice: the digest of its signature and the signed timestamp."""

    digest: str
    signed_at: int


class Hotline(PersonalData):
    def call_started(self, *, call_id: str, caller: str, caller_raw: str, at: str | None,
                     trace: dict[str, str | None], delivery: Delivery | None = None,
                     retries: int = 10) -> HotlineCall:
        for attempt in range(retries):
            stamp = self._stamp(delivery, "call.started", call_id, trace)
            existing = self._call(call_id)
            if existing is not None:
                call: HotlineCall = existing
                aggregates: list[Any] = []  # a repeated notice: nothing but its stamp
            else:
                call, aggregates = self._new_call(call_id, caller, caller_raw, at, trace)
                aggregates.append(call)
            if not aggregates and not stamp:
                return call
            try:
                self.save(*aggregates, *stamp)
                return call
            except IntegrityError:
                backoff(attempt)
        raise RuntimeError(f"could not record call {call_id} (contention)")

    def call_ended(self, *, call_id: str, caller: str, caller_raw: str, at: str | None,
                   recording_ref: str | None, trace: dict[str, str | None],
                   delivery: Delivery | None = None, retries: int = 10) -> HotlineCall:
        for attempt in range(retries):
            stamp = self._stamp(delivery, "call.ended", call_id, trace)
            call = self._call(call_id)
            aggregates: list[Any] = []
            if call is None:  # the "started" notice was lost: the call still counts
                call, aggregates = self._new_call(call_id, caller, caller_raw, None, trace)
            if call.ended_at is None and call.recording_ref is None:
                call.end(ended_at=at, recording_ref=recording_ref, trace=trace)
                aggregates.append(call)
            if not aggregates and not stamp:
                return call
            try:
                self.save(*aggregates, *stamp)
                return call
            except IntegrityError:
                backoff(attempt)
        raise RuntimeError(f"could not record the end of call {call_id} (contention)")

    def _stamp(self, delivery: Delivery | None, event: str, call_id: str,
               trace: dict[str, str | None]) -> list[WebhookDelivery]:
        """The notice's replay record to save with its effect; ReplayedDelivery if it
        exists already (also after a conflicting save: the retry looks again)."""
        if delivery is None:
            return []
        try:
            self.repository.get(WebhookDelivery.create_id(delivery.digest))
        except AggregateNotFoundError:
            return [WebhookDelivery(digest=delivery.digest, signed_at=delivery.signed_at,
                                    event=event, call_id=call_id, trace=trace)]
        raise ReplayedDelivery("this signed notice was already received")

    def open_request_for_phone(self, phone: str) -> tuple[uuid.UUID, str] | None:
        """The newest request received with this number within the link window, not closed."""
        try:
            index: PhoneIndex = self.from_snapshot(PhoneIndex.create_id(self.phone_key(phone)))
        except AggregateNotFoundError:
            return None
        horizon = self.clock() - self.link_window
        for entry in reversed(index.requests):
            if datetime.fromisoformat(entry["received_at"]) < horizon:
                return None
            request = self.get_request(uuid.UUID(entry["request_id"]))
            if not request.closed:
                return request.id, request.reference
        return None

    def _new_call(self, call_id: str, caller: str, caller_raw: str, at: str | None,
                  trace: dict[str, str | None]) -> tuple[HotlineCall, list[Any]]:
        linked = self.open_request_for_phone(caller) if caller else None
        key_id = HotlineCall.key_id(call_id)
        call = HotlineCall(call_id=call_id, caller=self._seal_value(key_id, caller),
                           caller_raw=self._seal_value(key_id, caller_raw), started_at=at,
                           linked_request_id=str(linked[0]) if linked else None,
                           linked_reference=linked[1] if linked else None, trace=trace)
        if linked is None:
            return call, []
        request = self.get_request(linked[0])
        request.link_call(call_id=call_id, caller=self._seal_value(key_id, caller), at=at,
                          trace=trace)
        return call, [request]
