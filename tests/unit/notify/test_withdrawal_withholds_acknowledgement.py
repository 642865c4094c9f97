"""A request withdrawn before its acknowledgement went gets no acknowledgement: one waiting
to be sent (a mail server down) is cancelled, one not requested yet (its reply date not
known) is never requested; other messages that only ask, remind or promise and still wait
are not sent either; the customer hears of the withdrawal only. A message that went stays
as it was, and one that goes out while it is being cancelled is recorded as sent: it did
go."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.email_smtp import OutgoingEmail
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.application.channel import TransientFailure
from hotro.services.notify.domain import Dispatch
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.trace import sample_trace
from tests.unit.notify.wire import (
    REFERENCE,
    acknowledged,
    dispatches,
    envelope,
    info_requested,
    memory_app,
    received,
    reply_deadline_set,
    wire_events,
)


class Mailer:
    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.down = False

    def send(self, email: OutgoingEmail) -> None:
        if self.down:
            raise TransientFailure("connection refused")
        self.sent.append(email)


@pytest.fixture
def mailer() -> Mailer:
    return Mailer()


@pytest.fixture
def channels(mailer: Mailer, tmp_path: Path) -> Channels:
    return Channels(email=mailer, sms=RecordingShortMessageGateway(),
                    letters=LetterStore(tmp_path / "letters"), company=CompanyInfo(),
                    clock=lambda: datetime(2026, 3, 6, 3, 0, tzinfo=UTC))


def withdrawn(cid: uuid.UUID) -> Envelope:
    return envelope("routing", events.ComplaintClosed(
        reference=REFERENCE, reason="withdrawn: Đã tự sửa được máy"), cid, actor="customer")


def of(app: NotifyApplication, cid: uuid.UUID, purpose: str) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.complaint_id == cid and d.purpose == purpose]


def test_an_acknowledgement_waiting_for_the_mail_server_is_cancelled(
        channels: Channels, mailer: Mailer) -> None:
    app, cid = memory_app(), uuid.uuid4()
    acknowledged(app, cid)
    [ack] = of(app, cid, "acknowledgement")
    mailer.down = True
    assert app.attempt(ack.id, channels) == "pending"
    app.handle(withdrawn(cid))
    assert app.get_dispatch(ack.id).status == "cancelled"
    mailer.down = False
    assert app.attempt(ack.id, channels) == "cancelled"  # the sender does not send it
    assert mailer.sent == []
    [told] = of(app, cid, "withdrawn")
    assert app.attempt(told.id, channels) == "sent"
    assert len(mailer.sent) == 1  # the withdrawal, told; and no AcknowledgementSent
    assert "AcknowledgementSent" not in [e.event_type for e in wire_events(app)]


def test_an_acknowledgement_not_requested_yet_never_is() -> None:
    app, cid = memory_app(), uuid.uuid4()
    app.handle(received(cid))  # sla's reply date not heard yet
    app.handle(withdrawn(cid))
    app.handle(reply_deadline_set(cid))
    assert of(app, cid, "acknowledgement") == []
    assert len(of(app, cid, "withdrawn")) == 1


def test_an_acknowledgement_that_went_stays_sent(channels: Channels, mailer: Mailer) -> None:
    app, cid = memory_app(), uuid.uuid4()
    acknowledged(app, cid)
    [ack] = of(app, cid, "acknowledgement")
    assert app.attempt(ack.id, channels) == "sent"
    app.handle(withdrawn(cid))
    assert app.get_dispatch(ack.id).status == "sent"
    assert len(mailer.sent) == 1


def test_one_that_went_out_while_being_cancelled_is_recorded_as_sent() -> None:
    app, cid = memory_app(), uuid.uuid4()
    acknowledged(app, cid)
    [ack] = of(app, cid, "acknowledgement")
    being_sent = app.get_dispatch(ack.id)  # the sender's copy, taken before the cancel
    app.handle(withdrawn(cid))
    assert app.get_dispatch(ack.id).status == "cancelled"
    # the channel had taken it: the sender records the outcome with its stale copy
    assert app.record_delivered(ack.id, str(ack.message_id), dispatch=being_sent) == "sent"
    assert [e.event_type for e in wire_events(app)] == ["AcknowledgementSent"]


def test_a_cancel_is_refused_once_the_message_went() -> None:
    app, cid = memory_app(), uuid.uuid4()
    acknowledged(app, cid)
    [ack] = of(app, cid, "acknowledgement")
    dispatch = app.get_dispatch(ack.id)
    dispatch.mark_sent(proof="<x@vhv.vn>", sent_at="2026-03-05T03:00:00+00:00",
                       trace=sample_trace("notify"))
    assert dispatch.cancel(reason="late", trace=sample_trace("notify")) is False
    assert dispatch.status == "sent"


def test_the_delivery_log_rebuilt_from_the_log_shows_the_cancel() -> None:
    from hotro.audit.replay import replay

    app, cid = memory_app(), uuid.uuid4()
    acknowledged(app, cid)
    [ack] = of(app, cid, "acknowledgement")
    app.handle(withdrawn(cid))
    result = replay(app)
    assert result.differences == []
    assert result.rows[str(ack.id)]["status"] == "cancelled"


def test_an_information_request_still_waiting_is_not_sent_after_the_withdrawal(
        channels: Channels, mailer: Mailer) -> None:
    app, cid = memory_app(), uuid.uuid4()
    acknowledged(app, cid)
    [ack] = of(app, cid, "acknowledgement")
    assert app.attempt(ack.id, channels) == "sent"
    app.handle(info_requested(cid))
    [asked] = of(app, cid, "info_request")
    mailer.down = True
    assert app.attempt(asked.id, channels) == "pending"
    app.handle(withdrawn(cid))
    mailer.down = False
    assert app.attempt(asked.id, channels) == "cancelled"
    [told] = of(app, cid, "withdrawn")
    assert app.attempt(told.id, channels) == "sent"  # the confirmation is not held back
    assert len(mailer.sent) == 2  # the acknowledgement and the confirmation
    # staff alerts are not held back either
    assert all(d.status != "cancelled" for d in dispatches(app) if d.internal)
