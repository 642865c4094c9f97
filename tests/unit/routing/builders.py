"""Ready-made cases and traces for routing's unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.workflow import State
from hotro.shared.eventstore.trace import ActorKind, Trace

#: 09:00 in Hà Nội on Monday 3 March 2025.
T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def day(days: int) -> date:
    return (T0 + timedelta(days=days)).date()


def trace(actor_id: str = "nv.lan", role: str | None = "support",
          kind: ActorKind = "staff") -> dict[str, str | None]:
    return Trace(actor_kind=kind, actor_id=actor_id, actor_role=role,
                 correlation_id=str(uuid.uuid4())).as_dict()


def open_case(**overrides: Any) -> Case:
    arguments: dict[str, Any] = {
        "complaint_id": uuid.uuid4(),
        "reference": "KN-2025-000042",
        "kind": "complaint",
        "channel": "hotline",
        "received_at": T0,
        "product": "dien-lanh",
        "category": "chat-luong-san-pham",
        "incident_date": day(-2),
        "filing_deadline": day(7),
        "trace": trace("intake", role=None, kind="system"),
        "now": T0,
    }
    arguments.update(overrides)
    return Case.open(**arguments)


def event_names(case: Case) -> list[str]:
    return [entry["event"] for entry in case.timeline]


def state_of(case: Case) -> State:
    """The state, read through a call so the type checker does not keep an earlier
    ``assert case.state is ...`` narrowing across commands."""
    return case.state
