"""The phone index (hotline calls link to the caller's recent open request): a number
shared by many requests — a shop's switchboard, a made-up number typed into every form —
keeps each receipt's work bounded: the index holds only the link window and is loaded
from a snapshot, not from every request ever received with that number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.services.intake.application.base import SNAPSHOT_EVERY
from hotro.services.intake.domain import PhoneIndex
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.eventstore.trace import Trace

TRACE = Trace.system("test").as_dict()
SHARED = "0901234567"


def _app(clock: SettableClock, url: str) -> IntakeApplication:
    ensure_store(url)
    return IntakeApplication(env=persistence_env(url), clock=clock, hash_secret=b"phone-test",
                             link_window=timedelta(days=3))


def _receive(app: IntakeApplication, n: int) -> str:
    return app.receive(NewRequest(
        kind="complaint", channel="web", product="dien-lanh", description=f"Lần {n}",
        customer={"name": f"Khách {n}", "email": f"k{n}@example.vn", "phone": SHARED}),
        TRACE).reference


def test_a_shared_number_keeps_only_the_window_and_loads_from_a_snapshot(
        tmp_path: Path) -> None:
    clock = SettableClock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    app = _app(clock, f"sqlite:///{tmp_path}/intake.db")
    references = []
    for n in range(3 * SNAPSHOT_EVERY + 5):
        references.append(_receive(app, n))
        clock.advance(hours=6)  # 4 a day
    index_id = PhoneIndex.create_id(app.phone_key(SHARED))

    index = app.from_snapshot(index_id)
    assert index.version == 1 + 3 * SNAPSHOT_EVERY + 5  # created, then one link each
    # the newest and the 12 before it: received 72 h before it is still inside 3 days
    assert [r["reference"] for r in index.requests] == references[-13:]
    snapshots = list(app.snapshots.get(index_id, desc=True, limit=1)) if app.snapshots else []
    assert snapshots and snapshots[0].originator_version == 3 * SNAPSHOT_EVERY
    # a process started afresh reads the snapshot and the few events after it
    again = _app(clock, f"sqlite:///{tmp_path}/intake.db")
    assert again.from_snapshot(index_id).requests == index.requests
    # and the hotline still links a call from that number to the newest open request
    found = again.open_request_for_phone(SHARED)
    assert found is not None and found[1] == references[-1]
    app.close()
    again.close()


def test_requests_stored_before_the_window_was_kept_still_load() -> None:
    """Old ``Linked`` events carry no ``keep_since``: replayed, they forget nothing."""
    index = PhoneIndex(phone="hash", trace=TRACE)
    index.link(request_id="a", reference="KN-1", received_at="2026-01-01T00:00:00+00:00",
               trace=TRACE)
    index.link(request_id="b", reference="KN-2", received_at="2026-03-01T00:00:00+00:00",
               trace=TRACE)
    assert [r["reference"] for r in index.requests] == ["KN-1", "KN-2"]
    index.link(request_id="c", reference="KN-3", received_at="2026-03-02T00:00:00+00:00",
               trace=TRACE, keep_since="2026-02-01T00:00:00+00:00")
    assert [r["reference"] for r in index.requests] == ["KN-2", "KN-3"]
