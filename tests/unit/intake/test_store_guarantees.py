"""The store's own guarantees: reference numbers come from blocks leased on the yearly
counter (one counter event per block, none per request), unique across restarts and
replicas; an event the relay could not publish never enters the store."""

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


def test_references_come_from_leased_blocks_and_stay_unique_after_a_restart(
        tmp_path: Path) -> None:
    store = tmp_path / "intake.sqlite"
    intake = _intake(store)
    trace = Trace.system("test").as_dict()
    refs = [intake.receive(_advice(n), trace).reference for n in range(1, 231)]
    assert refs == [f"TV-2026-{n:06d}" for n in range(1, 231)]  # one process: no gaps

    counter_id = ReferenceCounter.create_id("TV", 2026)
    counter: ReferenceCounter = intake.repository.get(counter_id)
    leased = [vars(e) for e in intake.events.get(counter_id) if type(e).__name__ == "Leased"]
    # blocks of 1, 2, 4 … 64: nine counter events for 230 requests, not 230
    assert [(e["first"], e["last"]) for e in leased][:3] == [(1, 1), (2, 3), (4, 7)]
    assert len(leased) == 9 and counter.last == 255 and counter.version == 10
    intake.close()

    again = _intake(store)  # a restart: the rest of the last block is never handed out
    assert again.receive(_advice(231), trace).reference == "TV-2026-000256"
    again.close()


def test_two_replicas_on_one_store_never_hand_out_the_same_number(tmp_path: Path) -> None:
    store = tmp_path / "intake.sqlite"
    first, second = _intake(store), _intake(store)
    trace = Trace.system("test").as_dict()
    refs = []
    for n in range(40):  # interleaved: each takes a new block while the other holds one
        refs.append(first.receive(_advice(2 * n), trace).reference)
        refs.append(second.receive(_advice(2 * n + 1), trace).reference)
    assert len(set(refs)) == len(refs) == 80
    for replica in (first, second):
        for ref in refs:
            assert replica.find(ref).reference == ref  # each indexed once, to its request
    first.close()
    second.close()


def test_a_counter_of_one_event_per_request_continues_after_its_last_number(
        tmp_path: Path) -> None:
    """Counters stored before blocks (``Allocated`` per request) load from their snapshot
    and the first lease starts after their last number."""
    intake = _intake(tmp_path / "intake.sqlite")
    trace = Trace.system("test").as_dict()
    counter = ReferenceCounter(prefix="TV", year=2026, trace=trace)
    for _ in range(150):
        counter.allocate(trace=trace)
    intake.save(counter)
    assert intake.snapshots is not None and \
        [s.originator_version for s in intake.snapshots.get(counter.id)] == [100]
    assert intake.receive(_advice(1), trace).reference == "TV-2026-000151"
    intake.close()


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
