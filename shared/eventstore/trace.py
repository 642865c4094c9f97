"""Who did something and why: carried by every stored domain event.

Every aggregate command takes ``trace: dict[str, str | None]`` and stores it on its
event, so the outbox relay can fill the wire envelope (actor, correlation, causation)
without knowing the service's domain. Plain dicts keep the event state JSON-native.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ActorKind = Literal["staff", "customer", "system", "department"]


class Trace(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor_kind: ActorKind
    actor_id: str
    actor_role: str | None = None
    correlation_id: str
    causation_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return self.model_dump()

    @classmethod
    def of(cls, event: Any) -> Trace:
        return cls.model_validate(event.trace)

    @classmethod
    def system(cls, actor_id: str, correlation_id: str | None = None,
               causation_id: str | None = None) -> Trace:
        return cls(actor_kind="system", actor_id=actor_id,
                   correlation_id=correlation_id or str(uuid.uuid4()),
                   causation_id=causation_id)

    def caused(self, actor_kind: ActorKind, actor_id: str, event_id: str,
               actor_role: str | None = None) -> Trace:
        """A new trace for work done in reaction to event ``event_id`` of this trace."""
        return Trace(actor_kind=actor_kind, actor_id=actor_id, actor_role=actor_role,
                     correlation_id=self.correlation_id, causation_id=event_id)


def sample_trace(actor_id: str = "tester") -> dict[str, str | None]:
    """A ready-made trace dict for unit tests of aggregates."""
    return Trace(actor_kind="staff", actor_id=actor_id, actor_role="support",
                 correlation_id=str(uuid.uuid4())).as_dict()
