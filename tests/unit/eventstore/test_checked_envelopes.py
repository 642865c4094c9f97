"""Intake builds each envelope once: the one checked at save time is what this process's
relay publishes, equal to the one built from the stored event (another replica's relay,
a restart); a save that failed leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.eventstore.trace import Trace

TRACE = Trace.system("test").as_dict()


def _intake(url: str) -> IntakeApplication:
    ensure_store(url)
    return IntakeApplication(env=persistence_env(url),
                             clock=SettableClock(datetime(2026, 11, 16, 9, tzinfo=UTC)),
                             hash_secret=b"checked-envelopes")


def _dumps(app: IntakeApplication) -> list[str | None]:
    return [item.envelope.model_dump_json() if item.envelope else None
            for item in app.outbox_page(0, 1000)]


def test_the_envelope_checked_at_save_is_the_one_published(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    app = _intake(url)
    for n in range(3):
        app.receive(NewRequest(kind="complaint", channel="web",
                               customer={"name": "Khách", "email": f"k{n}@example.vn"},
                               description="Máy lạnh hỏng", product="dien-lanh"), TRACE)
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
