"""The malformed and unwelcome mail corpus through the live SMTP listener of a running
intake: each message gets its documented outcome (tests/unit/intake_email/corpus/README.md),
every refusal is visible to staff, and the listener keeps serving afterwards."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import MessageIndex
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.trace import sample_trace
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.staff import auth
from tests.support.system import running_system
from tests.support.waiting import eventually

from .mailer import can_connect, deliver, free_port, utf8_mail

CORPUS = Path(__file__).parents[2] / "unit" / "intake_email" / "corpus"
MB = 1024 * 1024


def with_attachment(size: int, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Vũ Hải <hai.vu@example.vn>"
    msg["To"] = "contact@vhv.vn"
    msg["Subject"] = "Video lỗi sản phẩm"
    msg["Message-ID"] = message_id
    msg.set_content("Video đính kèm.")
    msg.add_attachment(os.urandom(size), maintype="video", subtype="mp4", filename="loi.mp4")
    return msg.as_bytes()


def payloads(intake: IntakeApplication) -> list[wire.Payload]:
    return [wire.parse_payload(e.event_type, e.schema_version, e.payload)
            for e in intake.envelopes()]


async def test_malformed_and_unwelcome_mail_through_the_listener(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    port = free_port()
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S, services=("intake",),
                              settings_extra={"intake": {"smtp_listen_port": port}}) as system:
        intake: IntakeApplication = system.application("intake")
        mail: MailIntake = system.apps["intake"].state.mail
        await eventually(lambda: can_connect(port), message="SMTP listener up")

        # a case whose acknowledgement (our Message-ID) will bounce
        code, text = await deliver(port, utf8_mail("<case-1@example.vn>"))
        assert code == 250, text
        case_id = intake.request_for_message("<case-1@example.vn>")
        assert case_id is not None
        intake.save(MessageIndex(message_id="<kn-2026-000123.ack@vhv.vn>", request_id=case_id,
                                 direction="out", trace=sample_trace("notify")))

        answers: dict[str, tuple[int, str]] = {}
        for name in sorted(p.name for p in CORPUS.glob("*.eml")):
            sender = "" if name.startswith("bounce") else "sender@example.net"
            answers[name] = await deliver(port, (CORPUS / name).read_bytes(), mail_from=sender)
        answers["20MB attachment"] = await deliver(port, with_attachment(20 * MB, "<big@x.vn>"))
        answers["12MB attachment"] = await deliver(port, with_attachment(12 * MB, "<mid@x.vn>"))

        def outcome(name: str) -> str:
            code, text = answers[name]
            assert code in (250, 552), (name, code, text)
            return text

        for name, reason in [("truncated_multipart.eml", "multipart_truncated"),
                             ("charset_viscii.eml", "charset_unsupported"),
                             ("missing_from.eml", "from_missing"),
                             ("from_display_name_only.eml", "from_display_name_only"),
                             ("from_encoded_address.eml", "from_encoded_address")]:
            assert f"quarantined: {reason}" in outcome(name), name
        for name in ("out_of_office_vi.eml", "auto_submitted_en.eml"):
            assert "auto_reply, not a request" in outcome(name)
        assert "list, not a request" in outcome("mailing_list.eml")
        assert "Bounce recorded on" in outcome("bounce_dsn.eml")
        assert "bounce, no matching message" in outcome("bounce_headers_only.eml")
        assert "Received as KN-" in outcome("header_injection_subject.eml")
        assert "Received as KN-" in outcome("charset_x_unknown.eml")
        big_code, big = answers["20MB attachment"]
        assert big_code == 552 and "Message too large" in big and "limit is 25.0 MB" in big
        mid_code, mid = answers["12MB attachment"]
        assert mid_code == 552 and "attachment" in mid.lower(), mid

        # header injection: one clean line, no smuggled header
        injected_id = intake.request_for_message("<injection-1@example.com>")
        assert injected_id is not None
        injected = intake.get_request(injected_id)
        first_line = injected.details["description"].split("\n", 1)[0]
        assert "Bcc: victim@example.org" in first_line  # flattened into the subject text
        assert "\r" not in first_line

        # no case, no acknowledgement for unwelcome mail; the bounce is on its case
        events = payloads(intake)
        cases = [p for p in events if isinstance(p, wire.ComplaintReceived)]
        assert len(cases) == 3  # case-1, header injection, x-unknown charset
        [bounce] = [p for p in events if isinstance(p, wire.DeliveryBounced)]
        assert bounce.message_id == "<kn-2026-000123.ack@vhv.vn>"
        assert intake.get_request(case_id).bounces

        # every refusal is visible to staff; quarantined raw bytes are kept
        async with system.client("intake") as client:
            quarantine = (await client.get("/api/intake/quarantine", headers=auth())).json()
            log = (await client.get("/api/intake/mail-log", headers=auth())).json()
        assert sorted(q["reason_code"] for q in quarantine) == sorted(
            ["multipart_truncated", "charset_unsupported", "from_missing",
             "from_display_name_only", "from_encoded_address"])
        for q in quarantine:
            assert mail.quarantine.exists(q["raw_sha256"])
        refused = sorted(r["reason_code"] for r in log if r["outcome"] == "refused")
        assert refused == ["attachment_too_large", "message_too_large"]
        ignored = sorted(r["reason_code"] for r in log if r["outcome"] == "ignored")
        assert ignored == ["auto_reply", "auto_reply", "bounce_unknown", "list"]

        # ...and the listener still serves
        code, text = await deliver(port, utf8_mail("<after-all-that@example.vn>"))
        assert code == 250 and "Received as KN-" in text, text
