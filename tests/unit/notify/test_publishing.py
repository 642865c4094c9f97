"""What notify publishes is built from the stored outcome event alone; outcome events
stored before they carried the dispatch's facts are published from the dispatch as it was
(an aggregate read). Both give the same envelope."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.application.channel import PermanentFailure
from hotro.services.notify.domain import Dispatch
from hotro.shared.eventstore.trace import sample_trace
from tests.unit.notify.test_application import NOW, Outbox
from tests.unit.notify.wire import (
    acknowledged,
    dispatches,
    memory_app,
    reply_requested,
)

#: what outcome events carry since publishing stopped replaying the dispatch
CARRIED = ("complaint_id", "reference", "reported_purpose", "method", "internal", "attempts")


def _outcomes(app: NotifyApplication) -> list[Any]:
    """Every stored Sent and Failed event, as the relay reads them."""
    return [e for n in app.recorder.select_notifications(start=0, limit=1000,
                                                         inclusive_of_start=False)
            if isinstance(e := app.mapper.to_domain_event(n), Dispatch.Sent | Dispatch.Failed)]


def _as_stored_before(app: NotifyApplication, event: Any) -> Any:
    """The same event as a store written before the facts were carried holds it."""
    stored = app.mapper.to_stored_event(event)
    state = app.mapper.transcoder.decode(stored.state)
    for name in CARRIED:
        state.pop(name, None)
    old = type(stored)(originator_id=stored.originator_id,
                       originator_version=stored.originator_version, topic=stored.topic,
                       state=app.mapper.transcoder.encode(state))
    return app.mapper.to_domain_event(old)


def _no_aggregate_reads(app: NotifyApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("to_wire replayed a dispatch")

    monkeypatch.setattr(app.repository, "get", refuse)


@pytest.fixture
def app(tmp_path: Path) -> NotifyApplication:
    """Every kind of outcome: an acknowledgement sent, a staff refusal by email sent, a
    phone reply recorded by staff, a reply that failed, and the internal alert it raised
    (sent too)."""
    app = memory_app()
    outbox = Outbox()
    channels = Channels(email=outbox, sms=RecordingShortMessageGateway(),
                        letters=LetterStore(tmp_path / "letters"), company=CompanyInfo(),
                        clock=lambda: NOW)
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    app.handle(reply_requested(complaint, "email", purpose="refusal"))
    app.handle(reply_requested(complaint, "phone", content="Gọi lại cho khách"))
    for dispatch in dispatches(app):
        if dispatch.method == "phone":
            app.record_staff_outcome(dispatch.id, staff_id="staff-7", summary="đã gọi",
                                     proof="CALL-1", trace=sample_trace("staff-7"))
        else:
            app.attempt(dispatch.id, channels)
    app.handle(reply_requested(complaint, "email", content="Lần hai"))
    outbox.fail = PermanentFailure("SMTP 550: mailbox unavailable", code=550)
    [failing] = [d for d in dispatches(app) if d.status == "pending"]
    assert app.attempt(failing.id, channels) == "failed"
    outbox.fail = None
    [alert] = [d for d in dispatches(app) if d.internal]
    assert app.attempt(alert.id, channels) == "sent"
    return app


def test_outcomes_are_published_from_the_event_alone(
        app: NotifyApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [(e.event_type, e.payload) for e in app.envelopes()]
    assert [t for t, _ in expected] == ["AcknowledgementSent", "ReplySent", "ReplySent",
                                        "NotificationFailed"]  # the alert stays internal
    assert [p.get("purpose") for _, p in expected] == [None, "refusal", "reply", "reply"]
    assert expected[1][1]["method"] == "email" and expected[2][1]["method"] == "phone"
    assert expected[3][1]["attempts"] == 1
    outcomes = _outcomes(app)
    assert len(outcomes) == 5 and all(e.reference for e in outcomes)
    _no_aggregate_reads(app, monkeypatch)
    assert [(e.event_type, e.payload) for e in app.envelopes()] == expected


def test_outcomes_stored_before_are_published_from_the_dispatch(
        app: NotifyApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = _outcomes(app)
    expected = [app.to_wire(e) for e in outcomes]
    old = [_as_stored_before(app, e) for e in outcomes]
    assert all(e.reference is None and e.reported_purpose is None for e in old)
    assert [app.to_wire(e) for e in old] == expected  # the same, from an aggregate read
    _no_aggregate_reads(app, monkeypatch)
    with pytest.raises(AssertionError, match="replayed"):
        app.to_wire(old[0])
    assert [app.to_wire(e) for e in outcomes] == expected


def test_the_relay_takes_each_outcome_as_it_was_checked_at_save(
        app: NotifyApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    head = app.max_notification_id()
    page = app.committed_page(0, 1000)  # what this process's relay publishes
    assert page is not None
    assert [i.notification_id for i in page] == list(range(1, head + 1))
    _no_aggregate_reads(app, monkeypatch)
    from_store = app.outbox_page(0, 1000)  # what another replica's relay would build
    assert [(i.notification_id, i.envelope) for i in page] == \
        [(i.notification_id, i.envelope) for i in from_store]
    assert sum(i.envelope is not None for i in page) == 4
