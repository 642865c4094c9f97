"""What intake does with each inbound email (no SMTP here: `MailIntake.handle` directly;
the real SMTP conversations are in tests/integration/intake)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from fastapi import FastAPI

from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import MessageIndex, Request
from hotro.services.intake.views import MailLog
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.trace import sample_trace
from hotro.shared.privacy.sealing import reveal

FROM = "an.nguyen@example.vn"
CORPUS = Path(__file__).parents[1] / "intake_email" / "corpus"


def mail(subject: str = "Khiếu nại: máy giặt bị hỏng", *, message_id: str = "<m1@example.vn>",
         sender: str = "an.nguyen@example.vn", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Nguyễn Văn An <{sender}>"
    msg["To"] = "contact@vhv.vn"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Máy giặt mua ngày 02/11 đã bị hỏng.")
    return msg.as_bytes()


def wire_events(app: IntakeApplication) -> list[wire.Payload]:
    """What the outbox relay would publish."""
    return [wire.parse_payload(e.event_type, e.schema_version, e.payload)
            for e in app.envelopes()]


def test_new_mail_makes_a_request_with_its_message_id_and_a_redelivery_makes_none(
        intake_http: FastAPI, application: IntakeApplication) -> None:
    intake: MailIntake = intake_http.state.mail
    first = intake.handle(mail(), "an.nguyen@example.vn", ["contact@vhv.vn"])
    assert first.action == "created" and first.reply.startswith("250 ")
    assert first.reference is not None and first.reference in first.reply
    again = intake.handle(mail(), "an.nguyen@example.vn", ["contact@vhv.vn"])
    assert again.action == "duplicate" and again.reference == first.reference
    received = [p for p in wire_events(application) if isinstance(p, wire.ComplaintReceived)]
    assert len(received) == 1
    assert received[0].channel == "email"
    assert isinstance(received[0], wire.ComplaintReceivedV2)  # the contact travels sealed
    contact = reveal(received[0].customer.model_dump(), application.keyring)
    assert contact is not None and contact["email"] == "an.nguyen@example.vn"
    assert received[0].inbound_message_id == "<m1@example.vn>"


def test_a_reply_threads_by_our_message_id_or_by_reference_from_the_same_sender(
        intake_http: FastAPI, application: IntakeApplication) -> None:
    intake: MailIntake = intake_http.state.mail
    first = intake.handle(mail(), FROM, ["contact@vhv.vn"])
    assert first.request_id is not None
    application.save(MessageIndex(message_id="<ack-1@vhv.vn>", request_id=first.request_id,
                                  direction="out", trace=sample_trace()))
    reply = intake.handle(mail("Re: Đã nhận", message_id="<m2@example.vn>",
                               In_Reply_To="<ack-1@VHV.vn>"), FROM, ["contact@vhv.vn"])
    assert (reply.action, reply.reference) == ("threaded", first.reference)

    by_subject = intake.handle(mail(f"Bổ sung hóa đơn {first.reference}",
                                    message_id="<m3@example.vn>"), FROM, ["contact@vhv.vn"])
    assert (by_subject.action, by_subject.reference) == ("threaded", first.reference)

    stranger = intake.handle(mail(f"Về {first.reference}", message_id="<m4@example.org>",
                                  sender="someone@example.org"),
                             "someone@example.org", ["contact@vhv.vn"])
    assert stranger.action == "created" and stranger.reference != first.reference

    request: Request = application.get_request(first.request_id)
    assert len(request.info) == 2
    provided = [p for p in wire_events(application) if isinstance(p, wire.InfoProvided)]
    assert [p.inbound_message_id for p in provided] == ["<m2@example.vn>", "<m3@example.vn>"]


def test_a_bounce_of_our_acknowledgement_is_recorded_on_its_case(
        intake_http: FastAPI, application: IntakeApplication) -> None:
    intake: MailIntake = intake_http.state.mail
    first = intake.handle(mail(), FROM, ["contact@vhv.vn"])
    assert first.request_id is not None
    application.save(MessageIndex(message_id="<kn-2026-000123.ack@vhv.vn>",
                                  request_id=first.request_id, direction="out",
                                  trace=sample_trace()))
    raw = (CORPUS / "bounce_dsn.eml").read_bytes()
    outcome = intake.handle(raw, "", ["contact@vhv.vn"])  # bounces come from <>
    assert (outcome.action, outcome.reference) == ("bounce", first.reference)
    assert intake.handle(raw, "", ["contact@vhv.vn"]).action == "duplicate"
    bounced = [p for p in wire_events(application) if isinstance(p, wire.DeliveryBounced)]
    assert [(b.reference, b.message_id) for b in bounced] == [
        (first.reference, "<kn-2026-000123.ack@vhv.vn>")]
    assert application.get_request(first.request_id).bounces[0]["reason"]


def test_unwelcome_mail_makes_no_request_and_is_visible_to_staff(
        intake_http: FastAPI, application: IntakeApplication, tmp_path: Path) -> None:
    intake: MailIntake = intake_http.state.mail
    outcomes = {name: intake.handle((CORPUS / name).read_bytes(), "x@example.net",
                                    ["contact@vhv.vn"]).action
                for name in ("out_of_office_vi.eml", "auto_submitted_en.eml",
                             "mailing_list.eml", "bounce_headers_only.eml",
                             "missing_from.eml", "truncated_multipart.eml")}
    assert outcomes == {"out_of_office_vi.eml": "ignored", "auto_submitted_en.eml": "ignored",
                        "mailing_list.eml": "ignored", "bounce_headers_only.eml": "ignored",
                        "missing_from.eml": "quarantined",
                        "truncated_multipart.eml": "quarantined"}
    assert not [p for p in wire_events(application) if isinstance(p, wire.ComplaintReceived)]
    mail_log: MailLog = intake_http.state.mail_log
    records = mail_log.records()
    assert sorted(r["reason_code"] for r in records) == sorted(
        ["auto_reply", "auto_reply", "list", "bounce_unknown", "from_missing",
         "multipart_truncated"])
    for r in mail_log.records("quarantined"):
        assert intake.quarantine.exists(r["raw_sha256"])
