"""The wire envelope every cross-service event travels in.

Only these models (and the payloads in ``events``) cross service boundaries.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Producer = Literal["intake", "routing", "sla", "notify"]
PRODUCERS: tuple[Producer, ...] = ("intake", "routing", "sla", "notify")

#: uuid5 namespace for every deterministic id in the system (event ids, derived aggregates).
HOTRO_NAMESPACE = uuid.UUID("6b1f3a52-3c1e-5d8e-9a57-4f1c0f2e7d10")


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["staff", "customer", "system", "department"]
    id: str
    role: str | None = None


class Envelope(BaseModel):
    """One published event. ``payload`` is validated against ``(event_type, schema_version)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    envelope_version: Literal[1] = 1
    event_id: uuid.UUID
    event_type: str
    schema_version: int = Field(ge=1)
    complaint_id: uuid.UUID
    producer: Producer
    notification_id: int = Field(ge=1, description="position in the producer's notification log")
    occurred_at: AwareDatetime
    actor: Actor
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    payload: dict[str, Any]

    def msg_id(self) -> str:
        """JetStream ``Nats-Msg-Id``: stable for a given stored event, so re-publishing dedupes."""
        return f"{self.producer}:{self.notification_id}"


def event_id_for(producer: str, originator_id: uuid.UUID, originator_version: int) -> uuid.UUID:
    """Deterministic event id: the same stored event always gets the same id."""
    return uuid.uuid5(HOTRO_NAMESPACE, f"{producer}/{originator_id}/{originator_version}")


def utc(dt: datetime) -> datetime:
    from datetime import UTC

    return dt.astimezone(UTC)
