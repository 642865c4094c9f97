"""Intake builds each envelope once: the one checked at save time is what this process's
relay publishes, equal to the one built from the stored event (another replica's relay,
a restart); a save that failed leaves nothing behind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.checked_envelopes import CheckedEnvelopes
from hotro.shared.eventstore.trace import Trace
from tests.support.intake_store import intake_on, receive_complaint

TRACE = Trace.system("test").as_dict()


def _intake(url: str) -> IntakeApplication:
    return intake_on(url, b"checked-envelopes",
                     clock=SettableClock(datetime(2026, 11, 16, 9, tzinfo=UTC)))


def _receive(app: IntakeApplication, n: int) -> None:
    receive_complaint(app, n, product="dien-lanh")


def _dumps(app: IntakeApplication) -> list[str | None]:
    return [item.envelope.model_dump_json() if item.envelope else None
            for item in app.outbox_page(0, 1000)]


def test_the_envelope_checked_at_save_is_the_one_published(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    app = _intake(url)
    for n in range(3):
        _receive(app, n)
    found, envelope = app._checked_envelopes.take(("none", 1), 1)
    assert (found, envelope) == (False, None)
    from_save = _dumps(app)  # taken from what the saves built
    assert sum(e is not None for e in from_save) == 3  # three ComplaintReceived
    rebuilt = _dumps(_intake(url))  # a process that built none of them
    assert from_save == rebuilt
    assert _dumps(app) == rebuilt  # each taken once; then built from the store as before


def test_a_failed_save_keeps_no_envelope(tmp_path: Path) -> None:
    app = _intake(f"sqlite:///{tmp_path}/intake.db")
    accepted = app.receive(NewRequest(kind="complaint", channel="web",
                                      customer={"name": "Khách", "email": "k@example.vn"},
                                      description="Máy lạnh hỏng"), TRACE)
    stale = app.get_request(accepted.request_id)
    fresh = app.get_request(accepted.request_id)
    fresh.mark_closed(reason="đã xử lý", trace=TRACE)
    app.save(fresh)
    key = (str(accepted.request_id), fresh.version)
    assert app._checked_envelopes.take(key, 99)[0]  # kept after its commit, taken here
    stale.mark_closed(reason="khác", trace=TRACE)
    with pytest.raises(IntegrityError):
        app.save(stale)  # the same version as the stored close
    assert app._checked_envelopes.take(key, 99) == (False, None)  # nothing kept


def _kept(*ids: int) -> CheckedEnvelopes:
    kept = CheckedEnvelopes()
    kept.keep({(f"a{n}", 1): None for n in ids}, {(f"a{n}", 1): n for n in ids})
    return kept


def _ids(run: Sequence[tuple[int, object]] | None) -> list[int] | None:
    return None if run is None else [n for n, _ in run]


def test_a_run_this_process_committed_whole_is_taken_once_in_order() -> None:
    kept = _kept(1, 2, 3)
    assert _ids(kept.take_run(0, 10)) == [1, 2, 3]
    assert kept.take_run(3, 10) is None  # nothing left: read the store
    assert kept.take(("a1", 1), 1) == (False, None)


def test_a_run_is_cut_at_the_limit_and_goes_on_from_there() -> None:
    kept = _kept(1, 2, 3, 4, 5)
    assert _ids(kept.take_run(0, 2)) == [1, 2]
    assert _ids(kept.take_run(2, 10)) == [3, 4, 5]


def test_an_id_this_process_did_not_write_sends_the_relay_to_the_store() -> None:
    assert _kept(2, 3).take_run(0, 10) is None  # the next id is another writer's
    assert _kept(1, 3).take_run(0, 10) is None  # another writer's row before our newest
    assert _ids(_kept(1, 3).take_run(2, 10)) == [3]  # once the store gave 2


def test_what_is_kept_at_or_below_the_position_is_dropped() -> None:
    kept = _kept(1, 2, 3)
    assert _ids(kept.take_run(2, 10)) == [3]
    assert kept.take(("a1", 1), 1) == (False, None)
    assert kept.take(("a2", 1), 2) == (False, None)


def test_an_envelope_evicted_for_room_leaves_a_gap_not_a_wrong_page() -> None:
    kept = CheckedEnvelopes(capacity=2)
    for n in (1, 2, 3):
        kept.keep({(f"a{n}", 1): None}, {(f"a{n}", 1): n})
    assert kept.take_run(0, 10) is None  # 1 was evicted
    assert _ids(kept.take_run(1, 10)) == [2, 3]


def test_the_page_from_memory_is_the_page_from_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    app = _intake(url)
    for n in range(3):
        _receive(app, n)
    head = app.max_notification_id()
    page = app.committed_page(0, 1000)
    assert page is not None and [i.notification_id for i in page] == list(range(1, head + 1))
    from_store = _intake(url).outbox_page(0, 1000)  # a process that kept nothing
    assert [(i.notification_id, i.envelope) for i in page] == \
        [(i.notification_id, i.envelope) for i in from_store]
    assert app.committed_page(head, 1000) is None  # taken once


def test_another_replicas_commit_in_between_is_read_from_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    ours, theirs = _intake(url), _intake(url)

    _receive(ours, 1)
    first = ours.max_notification_id()
    _receive(theirs, 2)
    _receive(ours, 3)
    assert ours.committed_page(0, 1000) is None  # their rows lie between ours
    page = ours.outbox_page(0, 1000)
    assert [i.notification_id for i in page] == list(range(1, ours.max_notification_id() + 1))
    assert first < page[-1].notification_id
