"""Feed intake's application the upstream events it handles, as the consumers would."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time

from hotro.services.intake.application import IntakeApplication
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Actor, Envelope

_positions = itertools.count(1)


def deliver(app: IntakeApplication, clock: SettableClock, producer: str,
            complaint_id: str | uuid.UUID, payload: wire.Payload) -> bool:
    """One upstream event through ``handle`` (exactly once, with its tracking row)."""
    return app.handle(Envelope(
        event_id=uuid.uuid4(), event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION, complaint_id=uuid.UUID(str(complaint_id)),
        producer=producer, notification_id=next(_positions), occurred_at=clock(),
        actor=Actor(kind="staff", id="test.support"), correlation_id=uuid.uuid4(),
        payload=payload.model_dump(mode="json")))


def deadline(reference: str, clock_kind: wire.ClockKind, last_day: date) -> wire.DeadlineSet:
    return wire.DeadlineSet(reference=reference, clock=clock_kind, last_day=last_day,
                            due_at=datetime.combine(last_day, time(16, 59, 59), UTC),
                            calendar_version="2026.1", working_days=10,
                            start=date(2026, 3, 10), rule="reply",
                            explanation="10 working days")
