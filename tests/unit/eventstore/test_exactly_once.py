"""Exactly-once processing when partitions deliver one producer's events out of order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import Actor, Envelope
from hotro.shared.eventstore.application import ServiceApplication, handles
from hotro.shared.eventstore.persistence import persistence_env
from tests.support.postgres import PostgresSchemas


class Effect(Aggregate):
    @event("Recorded", topic="tests.exactly_once:Effect.Recorded")
    def __init__(self, *, id: uuid.UUID, position: int,
                 trace: dict[str, str | None]) -> None:
        self.position = position
        self.trace = trace


class Recorder(ServiceApplication):
    name = "recorder"

    @handles("routing.ComplaintClosed")
    def _on_closed(self, env: Envelope, payload: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        pe.collect_events(Effect(id=uuid.uuid4(), position=env.notification_id,
                                 trace=self.reaction_trace(env, "recorder")))


def _envelope(position: int) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), event_type="ComplaintClosed", schema_version=1,
                    complaint_id=uuid.uuid4(), producer="routing", notification_id=position,
                    occurred_at=datetime.now(UTC), actor=Actor(kind="system", id="t"),
                    correlation_id=uuid.uuid4(),
                    payload={"reference": "KN-2026-000001", "reason": "r"})


def _effects(app: Recorder) -> list[int]:
    notes = app.recorder.select_notifications(start=0, limit=100, inclusive_of_start=False)
    return sorted(_position(app.mapper.to_domain_event(n)) for n in notes)


def _position(event: Any) -> int:
    assert isinstance(event, Effect.Recorded)  # type: ignore[attr-defined]
    return int(event.position)


def _check_out_of_order_then_duplicates(app: Recorder) -> None:
    assert app.handle(_envelope(36)) is True
    assert app.handle(_envelope(9)) is True, "an older position is not a duplicate"
    assert app.handle(_envelope(9)) is False
    assert app.handle(_envelope(36)) is False
    assert _effects(app) == [9, 36]


def test_out_of_order_positions_each_apply_once_on_sqlite(tmp_path: Path) -> None:
    _check_out_of_order_then_duplicates(
        Recorder(env=persistence_env(f"sqlite:///{tmp_path}/r.sqlite")))


@pytest.mark.postgres
def test_out_of_order_positions_each_apply_once_on_postgres(pg_schemas: PostgresSchemas) -> None:
    from hotro.shared.eventstore.schema import ensure_store

    url = pg_schemas.url("recorder")
    ensure_store(url)
    _check_out_of_order_then_duplicates(Recorder(env=persistence_env(url)))


def test_pinned_topics_resolve_in_a_process_that_only_reads() -> None:
    """A restarted service or the audit tool reads events it has not written yet."""
    import subprocess
    import sys

    code = ("import hotro.natsbin\n"
            "import hotro.services.intake.domain, hotro.services.routing.domain.case, "
            "hotro.services.sla.domain.clock, hotro.services.notify.domain\n"
            "from eventsourcing.utils import resolve_topic\n"
            "for t in ['hotro.sla:Clock.Set', 'hotro.sla:CaseClocks.Started', "
            "'hotro.routing:Case', 'hotro.routing:Case.Opened', "
            "'hotro.intake:Request.Received', 'hotro.notify:Dispatch.Sent']:\n"
            "    resolve_topic(t)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_subscriptions_are_the_handlers_and_nothing_else() -> None:
    assert Recorder.subscriptions() == {"routing": ("ComplaintClosed",)}
    app = Recorder(env=persistence_env("memory:", allow_memory=True))
    other = _envelope(3).model_copy(update={"producer": "notify"})
    assert app.handle(other) is True  # tracked, so never looked at again…
    assert _effects(app) == []  # …but another producer's event of that type is not ours
