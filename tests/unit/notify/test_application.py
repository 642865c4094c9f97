"""Notify's service layer on an in-memory store: intents recorded once, proofs, failures,
bounces, reminders, staff tasks and posted letters."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.email_smtp import OutgoingEmail
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.application.channel import PermanentFailure, TransientFailure
from hotro.services.notify.domain import Contact, Dispatch, DispatchError
from hotro.services.notify.workers import DispatchSender
from hotro.shared.contracts import events
from hotro.shared.eventstore.trace import sample_trace
from tests.unit.notify.wire import (
    REFERENCE,
    REPLY_LAST_DAY,
    acknowledged,
    bounced,
    deadline_approaching,
    deadline_breached,
    dispatches,
    envelope,
    info_requested,
    memory_app,
    received,
    reply_deadline_set,
    reply_requested,
    wire_events,
)

NOW = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)


class Outbox:
    """A mailer that keeps what it is given, or raises ``fail`` when set."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.fail: Exception | None = None

    def send(self, email: OutgoingEmail) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(email)


@pytest.fixture
def app() -> NotifyApplication:
    return memory_app(max_attempts=3)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def sms() -> RecordingShortMessageGateway:
    return RecordingShortMessageGateway()


@pytest.fixture
def channels(outbox: Outbox, sms: RecordingShortMessageGateway,
              tmp_path: Path) -> Channels:
    return Channels(email=outbox, sms=sms, letters=LetterStore(tmp_path / "letters"),
                            company=CompanyInfo(), clock=lambda: NOW)


def _only(app: NotifyApplication, purpose: str) -> Any:
    found = [d for d in dispatches(app) if d.purpose == purpose]
    assert len(found) == 1, [(d.purpose, d.status) for d in dispatches(app)]
    return found[0]


@pytest.mark.parametrize("stored_id", ["<a<b@mail.example.vn>", "<a\x01b@mail.example.vn>",
                                       "<a\x7f@mail.example.vn>"])
def test_a_customers_message_id_we_cannot_write_back_does_not_stop_their_mail(
        app: NotifyApplication, channels: Channels, outbox: Outbox, stored_id: str) -> None:
    """An id stored before intake refused such ids: the acknowledgement still goes, only
    without In-Reply-To (threading is a courtesy; the message is the duty)."""
    complaint = uuid.uuid4()
    app.handle(received(complaint, inbound_message_id=stored_id))
    app.handle(reply_deadline_set(complaint))
    ack = _only(app, "acknowledgement")
    assert ack.in_reply_to == stored_id
    assert app.attempt(ack.id, channels) == "sent"
    [mail] = outbox.sent
    assert mail.in_reply_to is None and mail.references == []
    assert mail.message_id == ack.message_id


def test_the_same_request_event_twice_records_one_intent_and_sends_once(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    complaint = uuid.uuid4()
    event = received(complaint)
    assert app.handle(event) is True
    assert app.handle(event) is False
    # the same complaint announced again under another event id: still one acknowledgement
    assert app.handle(received(complaint)) is True
    assert dispatches(app) == []  # the reply date it promises is sla's: not known yet
    assert app.handle(reply_deadline_set(complaint)) is True
    assert app.handle(reply_deadline_set(complaint)) is True  # sla said it again
    ack = _only(app, "acknowledgement")
    assert ack.context["reply_deadline"] == REPLY_LAST_DAY.isoformat()
    assert ack.method == "email" and ack.message_id == f"<{ack.id}@vhv.vn>"
    assert ack.in_reply_to == "<CAF0-khieu-nai@mail.example.vn>"

    assert app.attempt(ack.id, channels) == "sent"
    assert app.attempt(ack.id, channels) == "sent"
    assert [m.message_id for m in outbox.sent] == [ack.message_id]
    sent = [e for e in wire_events(app) if e.event_type == "AcknowledgementSent"]
    assert len(sent) == 1
    assert sent[0].payload["proof"] == ack.message_id
    assert sent[0].payload["method"] == "email"


def test_hotline_caller_gets_the_acknowledgement_by_sms(
        app: NotifyApplication, channels: Channels,
        sms: RecordingShortMessageGateway) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint, channel="hotline")
    ack = _only(app, "acknowledgement")
    assert (ack.method, app.open_recipient(ack), ack.message_id) == \
        ("sms", "+84912345678", None)
    assert app.attempt(ack.id, channels) == "sent"
    [message] = sms.messages
    assert message.to == "+84912345678" and REFERENCE in message.text
    assert message.idempotency_key == str(ack.id)
    [wire] = [e for e in wire_events(app) if e.event_type == "AcknowledgementSent"]
    assert wire.payload["method"] == "sms" and wire.payload["proof"] == f"sms:{ack.id}"


def test_counter_visitor_gets_a_receipt_slip_sent_at_once(
        app: NotifyApplication, channels: Channels) -> None:
    acknowledged(app, uuid.uuid4(), channel="counter")
    ack = _only(app, "acknowledgement")
    assert app.attempt(ack.id, channels) == "sent"
    [wire] = [e for e in wire_events(app) if e.event_type == "AcknowledgementSent"]
    assert wire.payload["method"] == "receipt_slip"


def test_transient_failures_retry_then_fail_with_an_alert_to_staff(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    ack = _only(app, "acknowledgement")
    outbox.fail = TransientFailure("SMTP 127.0.0.1:1: ConnectionRefusedError")
    assert app.attempt(ack.id, channels) == "pending"
    assert app.attempt(ack.id, channels) == "pending"
    assert app.attempt(ack.id, channels) == "failed"  # max_attempts=3
    assert app.attempt(ack.id, channels) == "failed"  # nothing more happens

    [failed] = [e for e in wire_events(app) if e.event_type == "NotificationFailed"]
    assert failed.payload["attempts"] == 3 and failed.payload["purpose"] == "acknowledgement"
    assert "ConnectionRefused" in failed.payload["reason"]
    alert = _only(app, "alert_delivery_failed")
    assert alert.internal and alert.recipient == "support@vhv.vn"
    assert alert.context["purpose"] == "acknowledgement"

    # the alert itself cannot be mailed either: it fails without alerting about itself
    app.attempt(alert.id, channels)
    outbox.fail = PermanentFailure("SMTP 550: no such mailbox", code=550)
    assert app.attempt(alert.id, channels) == "failed"
    assert len([d for d in dispatches(app) if d.purpose == "alert_delivery_failed"]) == 1
    assert [e.event_type for e in wire_events(app)] == ["NotificationFailed"]


def test_permanent_failure_fails_at_once(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    acknowledged(app, uuid.uuid4())
    ack = _only(app, "acknowledgement")
    outbox.fail = PermanentFailure("SMTP 550: mailbox unavailable", code=550)
    assert app.attempt(ack.id, channels) == "failed"
    [failed] = [e for e in wire_events(app) if e.event_type == "NotificationFailed"]
    assert failed.payload["attempts"] == 1
    assert _only(app, "alert_delivery_failed").status == "pending"


def test_bounce_marks_the_sent_email_and_alerts_staff(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    ack = _only(app, "acknowledgement")
    app.attempt(ack.id, channels)
    # folded whitespace in the bounced id is normalised, its domain's case ignored
    left, _, domain = ack.message_id.partition("@")
    assert app.handle(bounced(complaint, f"{left}@\r\n {domain.upper()}"))
    assert app.get_dispatch(ack.id).status == "bounced"
    alert = _only(app, "alert_delivery_failed")
    assert alert.context["kind"] == "bounced" and "user unknown" in alert.context["reason"]
    # a second report of the same bounce changes nothing
    assert app.handle(bounced(complaint, ack.message_id))
    assert len([d for d in dispatches(app) if d.purpose == "alert_delivery_failed"]) == 1
    # routing hears of the bounce from intake: notify publishes nothing more
    assert [e.event_type for e in wire_events(app)] == ["AcknowledgementSent"]


def test_after_a_bounce_notify_reaches_the_customer_another_way(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    ack = _only(app, "acknowledgement")
    assert ack.method == "email"
    app.attempt(ack.id, channels)
    app.handle(bounced(complaint, ack.message_id))
    contact: Contact = app.repository.get(Contact.create_id(complaint))
    assert contact.email_bounced == ack.message_id
    app.handle(info_requested(complaint))
    asked = _only(app, "info_request")
    assert (asked.method, app.open_recipient(asked)) == ("sms", "+84912345678")
    # staff may still choose email for the reply: their choice is kept
    app.handle(reply_requested(complaint, "email"))
    assert _only(app, "reply").method == "email"


def test_a_bounce_leaves_email_when_there_is_no_other_way(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint, phone=None, address=None)
    ack = _only(app, "acknowledgement")
    app.attempt(ack.id, channels)
    app.handle(bounced(complaint, ack.message_id))
    app.handle(info_requested(complaint))
    assert _only(app, "info_request").method == "email"


def test_a_bounce_that_matches_nothing_still_alerts_staff(app: NotifyApplication) -> None:
    complaint = uuid.uuid4()
    assert app.handle(bounced(complaint, "<not-ours@example.org>")) is True
    alert = _only(app, "alert_delivery_failed")
    assert alert.context["message_id"] == "<not-ours@example.org>"


def test_customer_info_clock_reminds_the_customer_once_per_due_date(
        app: NotifyApplication) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint))
    app.handle(info_requested(complaint))
    app.handle(deadline_approaching(complaint, "customer_info"))
    app.handle(deadline_approaching(complaint, "customer_info"))  # sla says it again
    reminder = _only(app, "reminder")
    assert not reminder.internal and app.open_recipient(reminder) == "anh.nguyen@example.vn"
    assert reminder.context["items"] == ["Ảnh chụp hóa đơn mua hàng", "Số sê-ri của sản phẩm"]
    assert reminder.context["due_date"] == "2026-03-12"
    assert not [d for d in dispatches(app) if d.purpose.startswith("alert_")]
    # another clock approaching is an internal matter: the case's owner (the staff member
    # who asked for the information) and the supervisor
    app.handle(deadline_approaching(complaint, "reply"))
    alerts = [d for d in dispatches(app) if d.purpose == "alert_deadline_approaching"]
    assert sorted(d.recipient for d in alerts) == ["staff-1@vhv.vn", "supervisor@vhv.vn"]
    assert all(d.internal for d in alerts)
    assert {d.context["handler"] for d in alerts} == {"staff-1"}


def test_deadline_alerts_go_to_the_support_team_until_someone_owns_the_case(
        app: NotifyApplication) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint))
    app.handle(deadline_breached(complaint, "first_contact"))
    alerts = [d for d in dispatches(app) if d.purpose == "alert_deadline_breached"]
    assert sorted(d.recipient for d in alerts) == ["supervisor@vhv.vn", "support@vhv.vn"]
    # the staff member who refers the case owns it from then on
    app.handle(envelope("routing", events.ReferredToDepartment(
        reference=REFERENCE, department="bao-hanh", question="Lỗi do nhà sản xuất?",
        internal_due=date(2026, 3, 10)), complaint, actor="nv.lan"))
    app.handle(deadline_breached(complaint, "reply"))
    alerts = [d for d in dispatches(app) if d.purpose == "alert_deadline_breached"]
    assert sorted(d.recipient for d in alerts) == [
        "nv.lan@vhv.vn", "supervisor@vhv.vn", "supervisor@vhv.vn", "support@vhv.vn"]


def test_reminder_renders_and_is_reported_as_reply_sent(
        app: NotifyApplication, channels: Channels, outbox: Outbox) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint))
    app.handle(info_requested(complaint))
    app.handle(deadline_approaching(complaint, "customer_info"))
    reminder = _only(app, "reminder")
    assert app.attempt(reminder.id, channels) == "sent"
    assert "Số sê-ri của sản phẩm" in outbox.sent[-1].text
    assert "12/03/2026" in outbox.sent[-1].text
    [wire] = [e for e in wire_events(app) if e.event_type == "ReplySent"]
    assert wire.payload["purpose"] == "reminder"


def test_phone_reply_is_a_staff_task_recorded_with_who_and_proof(
        app: NotifyApplication, channels: Channels) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint))
    app.handle(reply_requested(complaint, "phone"))
    task = _only(app, "reply")
    assert (task.status, app.open_recipient(task)) == ("task_open", "+84912345678")
    sender = DispatchSender(app, channels, lambda: [0], 1)
    sender.follower.catch_up()
    assert task.id not in sender.pending  # notify does not call customers itself

    when = datetime(2026, 3, 7, 8, 15, tzinfo=UTC)
    app.record_staff_outcome(task.id, staff_id="staff-7", summary="Đã gọi, khách đồng ý",
                             proof="CALL-2026-0042", trace=sample_trace("staff-7"), at=when)
    with pytest.raises(DispatchError):
        app.record_staff_outcome(task.id, staff_id="staff-7", summary="again", proof="x",
                                 trace=sample_trace("staff-7"))
    [wire] = [e for e in wire_events(app) if e.event_type == "ReplySent"]
    assert wire.payload["recorded_by"] == "staff-7"
    assert wire.payload["method"] == "phone" and wire.payload["proof"] == "CALL-2026-0042"
    assert wire.payload["sent_at"].startswith("2026-03-07T08:15")
    assert wire.actor.id == "staff-7"


def test_a_staff_written_refusal_goes_out_as_a_refusal(
        app: NotifyApplication, channels: Channels) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint))
    app.handle(reply_requested(complaint, "email", purpose="refusal",
                               content="Sản phẩm đã hết thời hạn bảo hành."))
    dispatch = _only(app, "reply")
    assert app.attempt(dispatch.id, channels) == "sent"
    [wire] = [e for e in wire_events(app) if e.event_type == "ReplySent"]
    assert wire.payload["purpose"] == "refusal"


def test_letter_is_printed_then_sent_when_posted_with_a_tracking_number(
        app: NotifyApplication, channels: Channels, tmp_path: Path) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint))
    app.handle(reply_requested(complaint, "letter",
                               content="Công ty sẽ đổi tủ lạnh mới cho Quý khách."))
    letter = _only(app, "reply")
    assert app.attempt(letter.id, channels) == "awaiting_post"
    assert not [e for e in wire_events(app) if e.event_type == "ReplySent"]  # not gone yet

    pdf = (tmp_path / "letters" / f"{letter.id}.pdf").read_bytes()
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert REFERENCE in text
    assert "Nguyễn Thị Ánh" in text
    assert "đổi tủ lạnh mới" in text

    with pytest.raises(DispatchError):
        app.record_posting(letter.id, tracking_number=" ", carrier=None, staff_id="s",
                           trace=sample_trace())
    app.record_posting(letter.id, tracking_number="RR123456789VN", carrier="VNPost",
                       staff_id="staff-2", trace=sample_trace("staff-2"))
    [wire] = [e for e in wire_events(app) if e.event_type == "ReplySent"]
    assert wire.payload["method"] == "letter"
    assert wire.payload["proof"] == "post:VNPost:RR123456789VN"
    assert wire.payload["recorded_by"] == "staff-2"
    with pytest.raises(DispatchError):
        app.record_posting(letter.id, tracking_number="RR2", carrier=None, staff_id="s",
                           trace=sample_trace())


def test_email_without_an_address_fails_as_an_event_not_an_exception(
        app: NotifyApplication, channels: Channels) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint, email=None))
    app.handle(reply_requested(complaint, "email"))
    reply = _only(app, "reply")
    assert app.attempt(reply.id, channels) == "failed"
    assert [e.event_type for e in wire_events(app)] == ["NotificationFailed"]


def test_a_request_for_an_unknown_complaint_is_retried_not_swallowed(
        app: NotifyApplication) -> None:
    with pytest.raises(LookupError):
        app.handle(reply_requested(uuid.uuid4(), "email"))
    assert dispatches(app) == []


def test_contact_and_dispatch_guards() -> None:
    contact_id = uuid.uuid4()
    dispatch = Dispatch(id=uuid.uuid4(), complaint_id=contact_id, reference=REFERENCE,
                        purpose="reply", method="letter", recipient="Hà Nội", language="vi",
                        context={}, message_id=None, in_reply_to=None, internal=False,
                        trace=sample_trace())
    with pytest.raises(DispatchError):
        dispatch.mark_sent(proof="x", sent_at=NOW.isoformat(), trace=sample_trace())
    with pytest.raises(DispatchError):
        dispatch.bounce(reason="x", at=NOW.isoformat(), trace=sample_trace())
    with pytest.raises(DispatchError):
        dispatch.record_outcome(staff_id="s", at=NOW.isoformat(), summary="x", proof="y",
                                trace=sample_trace())
    assert Contact.create_id(contact_id) == Contact.create_id(contact_id)
