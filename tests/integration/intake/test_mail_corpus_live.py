"""The malformed and unwelcome mail corpus through the live SMTP listener of a running
intake: each message gets its documented outcome (tests/unit/intake_email/corpus/README.md,
column "in a running intake"), what staff must see is in the case (or the mail log), every
refusal is visible to staff, and the listener keeps serving afterwards. Then, with sla and
notify running, the acknowledgement of a split-name message greets the customer by the
right name, our own acknowledgement delivered back is ignored, and a delayed-delivery
notice about it is recorded as a delay, not a bounce."""

from __future__ import annotations

import email
import os
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from hotro.natsbin import NatsServerProcess
from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import MessageIndex
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.trace import sample_trace
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.staff import auth
from tests.support.system import InProcessSystem, running_system
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


async def complaint(system: InProcessSystem, intake: IntakeApplication,
                    message_id: str) -> dict[str, Any]:
    """The case made of this message, as staff read it over HTTP."""
    request_id = intake.request_for_message(message_id)
    assert request_id is not None, message_id
    async with system.client("intake") as client:
        response = await client.get(f"/api/complaints/{request_id}", headers=auth())
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def codes(case: dict[str, Any]) -> list[str]:
    return [n["code"] for n in case["details"]["mail"]["notes"]]


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

        # a case whose acknowledgement (our Message-ID) will be delayed, then bounce
        code, text = await deliver(port, utf8_mail("<case-1@example.vn>"))
        assert code == 250, text
        case_id = intake.request_for_message("<case-1@example.vn>")
        assert case_id is not None
        intake.save(MessageIndex(message_id="<kn-2026-000123.ack@vhv.vn>", request_id=case_id,
                                 direction="out", trace=sample_trace("notify")))

        answers: dict[str, tuple[int, str]] = {}
        for name in sorted(p.name for p in CORPUS.glob("*.eml")):
            sender = "" if name.startswith(("bounce", "dsn")) else "sender@example.net"
            answers[name] = await deliver(port, (CORPUS / name).read_bytes(), mail_from=sender)
        dsn = (CORPUS / "dsn_delayed.eml").read_bytes()
        answers["delay of a stranger"] = await deliver(port, dsn.replace(
            b"<kn-2026-000123.ack@vhv.vn>", b"<not-ours@elsewhere.example>").replace(
            b"dsn-delay-1@", b"dsn-delay-2@"), mail_from="")
        answers["delivered report"] = await deliver(port, dsn.replace(
            b"Action: delayed", b"Action: delivered").replace(b"dsn-delay-1@", b"dsn-ok-1@"),
            mail_from="")
        answers["20MB attachment"] = await deliver(port, with_attachment(20 * MB, "<big@x.vn>"))
        answers["12MB attachment"] = await deliver(port, with_attachment(12 * MB, "<mid@x.vn>"))

        def outcome(name: str) -> str:
            code, text = answers[name]
            assert code in (250, 552), (name, code, text)
            return text

        for name, reason in [("truncated_multipart.eml", "multipart_truncated"),
                             ("missing_from.eml", "from_missing"),
                             ("from_display_name_only.eml", "from_display_name_only"),
                             ("from_encoded_address.eml", "from_encoded_address")]:
            assert f"quarantined: {reason}" in outcome(name), name
        for name in ("out_of_office_vi.eml", "auto_submitted_en.eml"):
            assert "auto_reply, not a request" in outcome(name)
        assert "list, not a request" in outcome("mailing_list.eml")
        assert "our own message, ignored" in outcome("own_acknowledgement_loop.eml")
        assert "Delay recorded on" in outcome("dsn_delayed.eml")
        assert "delay notice, no matching message" in outcome("delay of a stranger")
        assert "delivery report, not a request" in outcome("delivered report")
        assert "Bounce recorded on" in outcome("bounce_dsn.eml")
        assert "bounce, no matching message" in outcome("bounce_headers_only.eml")
        becoming_cases = ["header_injection_subject.eml", "charset_x_unknown.eml",
                          "from_name_split_utf8.eml", "charset_viscii.eml",
                          "charset_tcvn3.eml", "encoded_word_broken_base64.eml",
                          "many_parts.eml", "attachments_refused_types.eml",
                          "attachment_disguised.eml"]
        for name in becoming_cases:
            assert "Received as KN-" in outcome(name), (name, outcome(name))
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

        # ---- what each new class became, as staff see the case ----
        split = await complaint(system, intake, "<split-name-1@example.vn>")
        assert split["customer"]["name"] == "Nguyễn Văn Ánh"
        assert split["details"]["description"].startswith("Khiếu nại: tủ lạnh không lạnh")
        assert "mail" not in split["details"]  # read right: nothing to tell staff

        for message_id, start in [("<viscii-1@example.vn>", "Khiếu nại đơn hàng\n\nTôi muốn "
                                   "khiếu nại về đơn hàng số 4521"),
                                  ("<tcvn3-1@example.vn>", "Bảo hành điều hòa\n\nKính gửi "
                                   "công ty,\nĐiều hòa lắp ngày 05/11 chảy nước")]:
            legacy = await complaint(system, intake, message_id)
            assert legacy["details"]["description"].startswith(start), legacy["details"]
            assert codes(legacy) == ["charset_legacy", "charset_legacy"]
            raw_sha = legacy["details"]["mail"]["raw_sha256"]
            assert mail.quarantine.exists(raw_sha)  # the raw bytes, kept for a human
            assert "VISCII" in legacy["details"]["mail"]["notes"][0]["vi"] or \
                "TCVN3" in legacy["details"]["mail"]["notes"][0]["vi"]

        broken = await complaint(system, intake, "<broken-b64-1@example.vn>")
        assert broken["details"]["description"].startswith("Khiếu nại về đơn hàng[?]")
        assert broken["customer"]["name"] == "Phạm Thị Lan"
        assert codes(broken) == ["header_repaired", "header_repaired"]
        assert mail.quarantine.exists(broken["details"]["mail"]["raw_sha256"])

        many = await complaint(system, intake, "<many-parts-1@example.vn>")
        assert [a["filename"] for a in many["details"]["attachments"]] == ["anh-1.png",
                                                                          "anh-2.png"]
        [dropped] = many["details"]["mail"]["notes"]
        assert (dropped["code"], dropped["dropped"], dropped["kept"]) == (
            "parts_dropped", "204", "200")
        assert "204" in dropped["vi"] and "204" in dropped["en"]

        refused = await complaint(system, intake, "<refused-types-1@example.vn>")
        assert [a["filename"] for a in refused["details"]["attachments"]] == ["hoa-don.pdf"]
        listed = {r["filename"]: r for r in refused["details"]["mail"]["refused_attachments"]}
        assert sorted(listed) == ["fix.py", "logs.zip", "setup.exe"]
        for row in listed.values():
            assert set(row) >= {"declared_type", "detected_type", "size", "sha256", "reason"}
            assert not mail.attachments.exists(row["sha256"])  # never stored
        assert listed["setup.exe"]["detected_type"] == "application/x-msdownload"
        assert "raw_sha256" not in refused["details"]["mail"]

        disguised = await complaint(system, intake, "<disguised-1@example.vn>")
        [photo] = disguised["details"]["attachments"]
        assert (photo["filename"], photo["content_type"]) == ("anh-san-pham.jpg", "image/png")
        rows = disguised["details"]["mail"]["refused_attachments"]
        assert {(r["filename"], r["declared_type"], r["detected_type"]) for r in rows} == {
            ("hoa-don.pdf.exe", "application/pdf", "application/x-msdownload"),
            ("bao-gia.pdf", "application/pdf", "application/x-msdownload")}
        [mismatch] = disguised["details"]["mail"]["type_mismatches"]
        assert (mismatch["declared_type"], mismatch["stored_as"]) == ("image/jpeg", "image/png")

        first = await complaint(system, intake, "<case-1@example.vn>")
        [delay] = first["delays"]
        assert delay["message_id"] == "<kn-2026-000123.ack@vhv.vn>"
        assert delay["will_retry_until"] == "Sun, 15 Mar 2026 09:00:05 +0700"
        assert "4.4.1" in delay["reason"]
        [bounce] = first["bounces"]  # the real bounce is a bounce; the delay is not
        assert bounce["message_id"] == "<kn-2026-000123.ack@vhv.vn>"

        # no case, no acknowledgement for unwelcome mail; the bounce is on its case
        events = payloads(intake)
        cases = [p for p in events if isinstance(p, wire.ComplaintReceived)]
        assert len(cases) == 1 + len(becoming_cases)
        [published_bounce] = [p for p in events if isinstance(p, wire.DeliveryBounced)]
        assert published_bounce.message_id == "<kn-2026-000123.ack@vhv.vn>"

        # every refusal is visible to staff; quarantined raw bytes are kept
        async with system.client("intake") as client:
            quarantine = (await client.get("/api/intake/quarantine", headers=auth())).json()
            log = (await client.get("/api/intake/mail-log", headers=auth())).json()
        assert sorted(q["reason_code"] for q in quarantine) == sorted(
            ["multipart_truncated", "from_missing", "from_display_name_only",
             "from_encoded_address"])
        for q in quarantine:
            assert mail.quarantine.exists(q["raw_sha256"])
        refused_log = sorted(r["reason_code"] for r in log if r["outcome"] == "refused")
        assert refused_log == ["attachment_too_large", "message_too_large"]
        ignored = sorted(r["reason_code"] for r in log if r["outcome"] == "ignored")
        assert ignored == ["auto_reply", "auto_reply", "bounce_unknown", "delay_unknown",
                           "delivery_report", "list", "own_message"]

        # ...and the listener still serves
        code, text = await deliver(port, utf8_mail("<after-all-that@example.vn>"))
        assert code == 250 and "Received as KN-" in text, text


def maildir_messages(root: Path) -> list[tuple[bytes, EmailMessage]]:
    found: list[tuple[bytes, EmailMessage]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name == "new"):
        raw = path.read_bytes()
        parsed = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        found.append((raw, parsed))
    return found


async def test_acknowledgement_greets_by_name_its_loop_is_ignored_and_a_delay_is_a_delay(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    port = free_port()
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S,
                              services=("intake", "sla", "notify"),  # sla: the reply date
                              settings_extra={"intake": {"smtp_listen_port": port}}) as system:
        intake: IntakeApplication = system.application("intake")
        await eventually(lambda: can_connect(port), message="SMTP listener up")

        code, text = await deliver(port, (CORPUS / "from_name_split_utf8.eml").read_bytes(),
                                   mail_from="anh.nguyen@example.vn")
        assert code == 250 and "Received as KN-" in text, text
        reference = text.rsplit(" ", 1)[1]
        request_id = intake.request_for_message("<split-name-1@example.vn>")
        assert request_id is not None

        def acknowledgement() -> tuple[bytes, EmailMessage] | None:
            return next(((raw, m) for raw, m in maildir_messages(tmp_path / "mail")
                         if reference in str(m["Subject"])), None)

        raw_ack, ack = await eventually(acknowledgement, message="acknowledgement in Maildir")
        body = ack.get_body(preferencelist=("plain",))
        assert body is not None
        greeting = body.get_content()
        assert "Nguyễn Văn Ánh" in greeting, greeting
        assert "Nguyễn Văn Ánh" in str(ack["To"])
        ack_id = str(ack["Message-ID"]).strip()
        await eventually(lambda: intake.message_index(ack_id), message="ack Message-ID known")

        # the customer's mailbox forwards our acknowledgement back to us, as it was
        code, text = await deliver(port, raw_ack, mail_from="anh.nguyen@example.vn")
        assert code == 250 and "our own message, ignored" in text, text
        async with system.client("intake") as client:
            log = (await client.get("/api/intake/mail-log", headers=auth())).json()
            quarantine = (await client.get("/api/intake/quarantine", headers=auth())).json()
        assert [r["reason_code"] for r in log if r["outcome"] == "ignored"] == ["own_message"]
        assert quarantine == []
        received = [p for p in payloads(intake) if isinstance(p, wire.ComplaintReceived)]
        assert [p.reference for p in received] == [reference]  # no second case

        # the receiving server cannot deliver it yet: a delay notice, not a bounce
        notice = (CORPUS / "dsn_delayed.eml").read_bytes().replace(
            b"<kn-2026-000123.ack@vhv.vn>", ack_id.encode())
        code, text = await deliver(port, notice, mail_from="")
        assert code == 250 and f"Delay recorded on {reference}" in text, text
        case = await complaint(system, intake, "<split-name-1@example.vn>")
        assert [d["message_id"] for d in case["delays"]] == [ack_id]
        assert case["bounces"] == []
        assert not [p for p in payloads(intake) if isinstance(p, wire.DeliveryBounced)]
        async with system.client("notify") as client:
            deliveries = (await client.get("/api/deliveries", headers=auth(),
                                           params={"complaint_id": str(request_id)})).json()
        [sent] = [d for d in deliveries if d["purpose"] == "acknowledgement"]
        assert sent["status"] == "sent"  # notify was told of no failure
