"""Upstream envelopes and ready-made SLA applications for unit tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Any

from hotro.services.sla.adapters.calendar_data import load_planner
from hotro.services.sla.application import SlaApplication
from hotro.services.sla.domain.clock import PausePolicy
from hotro.shared.calendar.rules import DeadlinePolicy
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Actor, Envelope, Producer

_positions = itertools.count(1)

PRODUCERS: dict[str, Producer] = {"ComplaintReceived": "intake", "InfoProvided": "intake",
                                  "AcknowledgementSent": "notify", "ReplySent": "notify"}


def envelope(complaint_id: uuid.UUID, payload: wire.Payload, occurred_at: datetime) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), event_type=payload.EVENT_TYPE,
                    schema_version=payload.SCHEMA_VERSION, complaint_id=complaint_id,
                    producer=PRODUCERS.get(payload.EVENT_TYPE, "routing"),
                    notification_id=next(_positions), occurred_at=occurred_at,
                    actor=Actor(kind="system", id="test"), correlation_id=uuid.uuid4(),
                    payload=payload.model_dump(mode="json"))


def received(at: datetime, *, reference: str = "KN-1", product: str | None = None,
             category: str | None = None) -> wire.ComplaintReceived:
    return wire.ComplaintReceived(
        reference=reference, kind="complaint", channel="web",
        customer=wire.CustomerContact(name="Nguyễn Văn A", email="a@example.com"),
        product=product, category=category, received_at=at, description="hỏng")


def make_app(clock: SettableClock, *, env: dict[str, str] | None = None,
             calendar_version: str | None = None, policy: DeadlinePolicy | None = None,
             pause: frozenset[str] = frozenset(), lead_days: int = 2,
             **planner_kw: Any) -> SlaApplication:
    planner = load_planner(calendar_version, policy=policy, **planner_kw)
    return SlaApplication(env=env or {"PERSISTENCE_MODULE": "eventsourcing.popo"},
                          clock=clock, planner=planner, approaching_lead_days=lead_days,
                          pause_policy=PausePolicy(pause))


def sqlite_env(path: object) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path),
            "SINGLE_ROW_TRACKING": "n"}


def domain_events(app: SlaApplication) -> list[Any]:
    return [app.mapper.to_domain_event(n) for n in
            app.recorder.select_notifications(start=0, limit=100_000, inclusive_of_start=False)]


def wire_types(app: SlaApplication) -> list[tuple[str, str, dict[str, Any]]]:
    """(event type, clock, payload) of every published event, in log order."""
    return [(e.event_type, e.payload["clock"], e.payload) for e in app.envelopes()]
