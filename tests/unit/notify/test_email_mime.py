from __future__ import annotations

import mailbox
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from pathlib import Path

import pytest
from pydantic import ValidationError

from hotro.services.notify.adapters.email_smtp import (
    HeaderInjectionError,
    MaildirMailer,
    OutgoingEmail,
    build_mime,
    make_message_id,
    subject_with_reference,
)
from hotro.services.notify.application.channel import PermanentFailure
from tests.unit.notify.conftest import REFERENCE

SENDER = Address("Công ty VHV", addr_spec="contact@vhv.vn")


def outgoing(**overrides: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "to": "anh.nguyen@example.vn",
        "to_name": "Nguyễn Thị Ánh",
        "subject": "Xác nhận đã tiếp nhận khiếu nại của Quý khách",
        "text": "Kính gửi Quý khách Nguyễn Thị Ánh,\n",
        "html": "<p>Kính gửi Quý khách Nguyễn Thị Ánh,</p>",
        "message_id": make_message_id("vhv.vn"),
        "in_reply_to": "<CAF0abc@mail.example.vn>",
        "references": ["<root@mail.example.vn>"],
        "reference": REFERENCE,
    }
    fields.update(overrides)
    return OutgoingEmail.model_validate(fields)


def test_build_mime_threads_and_tags_the_subject() -> None:
    email = outgoing(auto_submitted=True)
    raw = build_mime(email, SENDER, date=datetime(2026, 3, 5, 2, 30, tzinfo=UTC))
    raw.decode("ascii")  # headers encoded, bodies quoted-printable: 7-bit clean
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == f"[{REFERENCE}] Xác nhận đã tiếp nhận khiếu nại của Quý khách"
    assert parsed["From"].addresses[0].display_name == "Công ty VHV"
    assert parsed["To"].addresses[0].display_name == "Nguyễn Thị Ánh"
    assert parsed["Message-ID"] == email.message_id
    assert parsed["In-Reply-To"] == "<CAF0abc@mail.example.vn>"
    # RFC 5322: the parent's References followed by the parent's own id.
    assert parsed["References"] == "<root@mail.example.vn> <CAF0abc@mail.example.vn>"
    assert parsed["X-Hotro-Reference"] == REFERENCE
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] == "Thu, 05 Mar 2026 02:30:00 +0000"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().splitlines() == ["Kính gửi Quý khách Nguyễn Thị Ánh,"]
    assert "<p>Kính gửi" in html.get_content()


def test_text_only_message_without_thread() -> None:
    email = outgoing(html=None, in_reply_to=None, references=[])
    message = message_from_bytes(build_mime(email, "contact@vhv.vn"), policy=policy.default)
    assert message.get_content_type() == "text/plain"
    assert "In-Reply-To" not in message and "References" not in message
    assert "Auto-Submitted" not in message


@pytest.mark.parametrize(
    "subject",
    [
        "Xác nhận đã tiếp nhận khiếu nại của Quý khách",
        "Ô " * 60,
        "Đề nghị bổ sung thông tin để giải quyết khiếu nại — ảnh hóa đơn, số sê-ri, "
        "phiếu bảo hành và biên bản kiểm tra kỹ thuật của cửa hàng",
        "Plain ASCII subject that is long enough to need folding when it is written out ok",
        "Ánh",
    ],
)
def test_long_vietnamese_subjects_survive_folding(subject: str) -> None:
    raw = build_mime(outgoing(subject=subject), SENDER)
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in header_block.split(b"\r\n"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == f"[{REFERENCE}] {subject}"


def test_reference_tag_stays_readable_in_the_raw_header() -> None:
    raw = build_mime(outgoing(), SENDER)
    assert f"Subject: [{REFERENCE}] =?utf-8?b?".encode() in raw


def test_reference_is_not_repeated_in_the_subject() -> None:
    assert subject_with_reference(f"Re: [{REFERENCE}] Hỏi", REFERENCE) == f"Re: [{REFERENCE}] Hỏi"
    assert subject_with_reference("Hỏi", REFERENCE) == f"[{REFERENCE}] Hỏi"


def test_message_ids() -> None:
    first, second = make_message_id("vhv.vn"), make_message_id("vhv.vn")
    assert first != second
    assert first.startswith("<") and first.endswith("@vhv.vn>")
    assert make_message_id("vhv.vn", seed="dispatch-1") == make_message_id("vhv.vn", "dispatch-1")
    assert make_message_id("vhv.vn", seed="dispatch-1") != make_message_id("vhv.vn", "dispatch-2")
    with pytest.raises(ValueError):
        make_message_id("vhv.vn>\r\nBcc: x@evil.example")


@pytest.mark.parametrize(
    "override",
    [
        {"subject": "Xin chào\r\nBcc: victim@evil.example"},
        {"subject": "Xin chào\nBcc: victim@evil.example"},
        {"subject": "Xin chào\u2028Bcc: victim@evil.example"},
        {"to_name": "Ánh\r\nBcc: victim@evil.example"},
        {"to": "anh@example.vn\r\nBcc: victim@evil.example"},
        {"in_reply_to": "<a@b>\r\nBcc: victim@evil.example"},
        {"references": ["<a@b>\nBcc: victim@evil.example"]},
        {"reference": "KN-1\r\nBcc: victim@evil.example"},
    ],
)
def test_header_injection_is_refused(override: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        outgoing(**override)
    # Even if validation is bypassed, the builder refuses to emit the header.
    smuggled = outgoing().model_copy(update=override)
    with pytest.raises(ValueError, match=r"line break|not a"):
        build_mime(smuggled, SENDER)


def test_injection_in_sender_is_refused() -> None:
    with pytest.raises(HeaderInjectionError):
        build_mime(outgoing(), "contact@vhv.vn\r\nBcc: x@evil.example")
    with pytest.raises(ValueError):  # the standard library's Address already refuses it
        Address("VHV\r\nBcc: x@evil.example", addr_spec="contact@vhv.vn")


def test_non_ascii_mailbox_is_refused() -> None:
    with pytest.raises(ValidationError):
        outgoing(to="ánh@example.vn")


def test_maildir_mailer_stores_the_message(tmp_path: Path) -> None:
    maildir = tmp_path / "outbox"
    mailer = MaildirMailer(maildir, sender=SENDER)
    email = outgoing()
    mailer.send(email)
    stored = list(mailbox.Maildir(maildir, create=False))
    assert len(stored) == 1
    parsed = message_from_bytes(stored[0].as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == email.message_id
    assert parsed["Subject"] == f"[{REFERENCE}] Xác nhận đã tiếp nhận khiếu nại của Quý khách"


def test_maildir_mailer_refuses_injection_as_permanent(tmp_path: Path) -> None:
    smuggled = outgoing().model_copy(update={"subject": "a\r\nBcc: x@evil.example"})
    with pytest.raises(PermanentFailure):
        MaildirMailer(tmp_path / "outbox", sender=SENDER).send(smuggled)
    assert not (tmp_path / "outbox").exists()


def test_maildir_mailer_takes_parallel_sends_into_a_new_maildir(tmp_path: Path) -> None:
    """notify sends several dispatches at once; the first ones create the Maildir."""
    maildir = tmp_path / "mail"
    mailer = MaildirMailer(maildir, sender=SENDER)
    emails = [outgoing(message_id=f"<m{i}.ack@vhv.vn>") for i in range(24)]
    start = threading.Barrier(len(emails))

    def send(email: OutgoingEmail) -> None:
        start.wait()
        mailer.send(email)

    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        list(pool.map(send, emails))  # a failed send re-raises here
    ids = {message_from_bytes(m.as_bytes(), policy=policy.default)["Message-ID"]
           for m in mailbox.Maildir(maildir, create=False)}
    assert ids == {e.message_id for e in emails}
