"""The customer index (private on-disk tables) behind the possible-duplicate check
(``application/duplicate_index.py``): it follows intake's log, so another process on the
same store sees earlier requests; it holds only the window; erased requests leave it; no
index aggregate is stored any more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotro.services.intake.application import Accepted, IntakeApplication, NewRequest
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.eventstore.trace import Trace

TRACE = Trace.system("test").as_dict()
SECRET = b"duplicate-index-test"


def _app(clock: SettableClock, url: str = "memory:") -> IntakeApplication:
    if url != "memory:":
        ensure_store(url)
    return IntakeApplication(env=persistence_env(url, allow_memory=True), clock=clock,
                             hash_secret=SECRET)


def _receive(app: IntakeApplication, who: str = "an", **fields: Any) -> Accepted:
    fields.setdefault("product", "dien-lanh")
    return app.receive(NewRequest(kind="complaint", channel="web",
                                  customer={"name": "Khách", "email": f"{who}@example.vn"},
                                  description="Máy lạnh hỏng", **fields), TRACE)


def _links(app: IntakeApplication, accepted: Accepted) -> list[str]:
    return sorted(link["reference"]
                  for link in app.get_request(accepted.request_id).duplicates.values())


def test_another_process_on_the_same_store_links_to_what_the_first_received(
        tmp_path: Path) -> None:
    clock = SettableClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    url = f"sqlite:///{tmp_path}/intake.db"
    first = _app(clock, url)
    earlier = _receive(first)
    assert _links(first, earlier) == []
    clock.advance(hours=1)
    restarted = _app(clock, url)  # a replica, or intake after a restart: nothing in memory
    later = _receive(restarted, order_ref="DH-77")
    assert _links(restarted, later) == [earlier.reference]
    clock.advance(hours=1)
    # and the first process catches up with what the other one stored
    third = _receive(first, product="gia-dung", order_ref="dh 77")
    assert _links(first, third) == [later.reference]  # by the order only
    first.close()
    restarted.close()


def test_the_index_holds_only_the_window_and_no_index_aggregate_is_stored() -> None:
    clock = SettableClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    app = _app(clock)
    _receive(app, "a")
    _receive(app, "b")
    _receive(app, "c", product=None)  # about nothing: not indexed
    assert app.duplicate_index.size() == 2
    clock.advance(days=7, seconds=1)  # the default window is 7 days
    late = _receive(app, "a")
    assert _links(app, late) == []
    assert app.duplicate_index.size() == 1  # only the newest receipt is inside the window
    topics = {note.topic for note in app.recorder.select_notifications(start=1, limit=100)}
    assert not any("CustomerIndex" in topic for topic in topics)


def test_an_erased_request_leaves_the_index() -> None:
    clock = SettableClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    app = _app(clock)
    erased = _receive(app)
    kept = _receive(app, "other")
    app.record_erasure(erased.request_id, reason="yêu cầu của khách", requested_by="dpo",
                       fields=["customer"], trace=TRACE)
    assert _links(app, _receive(app)) == []
    assert _links(app, _receive(app, "other")) == [kept.reference]


def test_the_window_off_links_nothing() -> None:
    clock = SettableClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    app = IntakeApplication(env=persistence_env("memory:", allow_memory=True), clock=clock,
                            hash_secret=SECRET, duplicate_window=timedelta(0))
    _receive(app)
    assert _links(app, _receive(app)) == []
