"""A routing application on the in-memory store, fed with wire envelopes as the
partition consumers would feed it."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from hotro.services.routing.adapters.config_files import load_catalogue, load_triage_rules
from hotro.services.routing.application import InfoTimeoutOutcome, RoutingApplication
from hotro.services.routing.settings import CONFIG_DIR
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Actor, Envelope, Producer
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.reference import CATALOGUE_FILE
from tests.unit.routing.builders import T0

CATALOGUE = load_catalogue(CATALOGUE_FILE)
TRIAGE = load_triage_rules(CONFIG_DIR / "triage.toml", CATALOGUE)


class Feeder:
    """Builds envelopes with increasing notification ids per producer."""

    def __init__(self, app: RoutingApplication) -> None:
        self.app = app
        self._positions: dict[str, itertools.count[int]] = {}

    def send(self, producer: Producer, payload: wire.Payload, complaint_id: uuid.UUID,
             occurred_at: datetime | None = None) -> bool:
        position = self._positions.setdefault(producer, itertools.count(1))
        envelope = Envelope(
            event_id=uuid.uuid4(), event_type=payload.EVENT_TYPE,
            schema_version=payload.SCHEMA_VERSION, complaint_id=complaint_id,
            producer=producer, notification_id=next(position),
            occurred_at=occurred_at or self.app.clock(),
            actor=Actor(kind="system", id=producer), correlation_id=uuid.uuid4(),
            payload=payload.model_dump(mode="json"))
        return self.app.handle(envelope)

    def received(self, complaint_id: uuid.UUID | None = None, **overrides: Any) -> uuid.UUID:
        complaint_id = complaint_id or uuid.uuid4()
        fields: dict[str, Any] = {
            "reference": f"KN-2025-{complaint_id.int % 1_000_000:06d}",
            "kind": "complaint", "channel": "web",
            "customer": {"name": "Nguyễn Thị Ánh", "email": "anh@example.vn"},
            "product": "dien-lanh", "category": "chat-luong-san-pham",
            "received_at": self.app.clock(), "description": "Tủ lạnh không lạnh",
        }
        fields.update(overrides)
        self.send("intake", wire.ComplaintReceived(**fields), complaint_id)
        return complaint_id

    def deadline(self, complaint_id: uuid.UUID, clock: str, last_day: date, *,
                 breached: bool) -> bool:
        reference = self.app.get_case(complaint_id).reference
        due_at = datetime.combine(last_day + timedelta(days=1), datetime.min.time(),
                                  tzinfo=T0.tzinfo)
        common: dict[str, Any] = {"reference": reference, "clock": clock,
                                  "last_day": last_day, "due_at": due_at,
                                  "calendar_version": "test"}
        payload: wire.Payload = (wire.DeadlineBreached(**common) if breached
                                 else wire.DeadlineApproaching(**common, working_days_left=1))
        return self.send("sla", payload, complaint_id)


def routing_app(clock: SettableClock | None = None, *,
                customer_info_timeout: InfoTimeoutOutcome = "resume_analysis",
                triage_file: Path | None = None) -> RoutingApplication:
    triage = load_triage_rules(triage_file, CATALOGUE) if triage_file else TRIAGE
    return RoutingApplication(env=persistence_env("memory:", allow_memory=True),
                              clock=clock or SettableClock(T0), catalogue=CATALOGUE,
                              triage=triage, customer_info_timeout=customer_info_timeout)


def stored_event_names(app: RoutingApplication) -> list[str]:
    return [type(app.mapper.to_domain_event(n)).__name__
            for n in app.recorder.select_notifications(start=0, limit=10_000,
                                                       inclusive_of_start=False)]


def wire_events(app: RoutingApplication) -> list[Envelope]:
    return list(app.envelopes())
