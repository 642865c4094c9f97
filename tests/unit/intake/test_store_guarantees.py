"""The store's own guarantees: the yearly reference counter is loaded from a snapshot, not
replayed from January; an event the relay could not publish never enters the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.services.intake.domain import ReferenceCounter
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import MemoryKeyRing


def _intake(path: Path) -> IntakeApplication:
    return IntakeApplication(env=persistence_env(f"sqlite:///{path}"),
                             clock=lambda: datetime(2026, 3, 10, 2, tzinfo=UTC),
                             keyring=MemoryKeyRing(), hash_secret=b"k" * 32)


def _advice(n: int) -> NewRequest:
    return NewRequest(kind="advice", channel="web", description=f"Tư vấn số {n}",
                      customer={"name": f"Khách {n}", "email": f"k{n}@example.vn"})


def test_references_continue_from_a_snapshot_after_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "intake.sqlite"
    intake = _intake(store)
    trace = Trace.system("test").as_dict()
    refs = [intake.receive(_advice(n), trace).reference for n in range(1, 231)]
    assert refs == [f"TV-2026-{n:06d}" for n in range(1, 231)]

    counter_id = ReferenceCounter.create_id("TV", 2026)
    snapshots = list(intake.snapshots.get(counter_id)) if intake.snapshots else []
    assert [s.originator_version for s in snapshots] == [100, 200]
    intake.close()

    again = _intake(store)  # a restart (or another replica): the snapshot plus 30 events
    assert again.receive(_advice(231), trace).reference == "TV-2026-000231"
    counter: ReferenceCounter = again.repository.get(counter_id)
    assert counter.version == 232 and counter.last == 231  # Started + 231 allocations
    again.close()


def test_an_event_the_relay_could_not_publish_is_refused_before_it_is_stored(
        tmp_path: Path) -> None:
    intake = _intake(tmp_path / "intake.sqlite")
    trace = Trace.system("test").as_dict()
    accepted = intake.receive(_advice(1), trace)
    stored = intake.max_notification_id()
    with pytest.raises(ValidationError, match="attachments"):
        intake.provide_info(accepted.request_id, channel="email", content="ảnh", items=[],
                            attachments=[{"sha256": "ab" * 32}], trace=trace)  # no filename…
    assert intake.max_notification_id() == stored  # nothing half-written
    assert intake.get_request(accepted.request_id).info == []
    intake.close()
