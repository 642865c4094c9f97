"""A real SMTP conversation: aiosmtpd Controller on a free port, smtplib as the client."""

from __future__ import annotations

import email.policy
import smtplib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from hotro.services.intake.adapters.email import (
    AttachmentStore,
    EmailLimits,
    InboundEmail,
    IntakeSmtpHandler,
    Refused,
    parse_inbound,
    start_smtp_listener,
)

from .builders import vietnamese_message

DATA_SIZE_LIMIT = 512 * 1024
DEADLINE_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Inbox:
    """The intake callback: records what it got, parses it, answers like the service would."""

    store: AttachmentStore
    limits: EmailLimits
    fail_next: bool = False
    received: list[tuple[bytes, str, list[str]]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def __call__(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> str:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("event store unavailable")
        result = parse_inbound(raw, limits=self.limits, attachments=self.store)
        with self.changed:
            self.received.append((raw, mail_from, rcpt_tos))
            self.changed.notify_all()
        if isinstance(result, Refused):
            return result.smtp_reply_text
        return "250 OK: queued as KN-2026-000001"

    def wait_for(self, count: int) -> list[tuple[bytes, str, list[str]]]:
        with self.changed:
            assert self.changed.wait_for(
                lambda: len(self.received) >= count, timeout=DEADLINE_SECONDS
            ), f"only {len(self.received)} of {count} messages arrived"
            return list(self.received)


@pytest.fixture
def inbox(store: AttachmentStore, limits: EmailLimits) -> Inbox:
    return Inbox(store, limits)


@pytest.fixture
def listener(inbox: Inbox) -> Iterator[Controller]:
    handler = IntakeSmtpHandler(inbox, accept_recipients=["contact@vhv.vn", "@hotro.vhv.vn"])
    controller = start_smtp_listener(
        handler, "127.0.0.1", free_port(), data_size_limit=DATA_SIZE_LIMIT
    )
    yield controller
    controller.stop()


def client(controller: Controller) -> smtplib.SMTP:
    smtp = smtplib.SMTP(controller.hostname, controller.port, timeout=DEADLINE_SECONDS)
    smtp.ehlo("client.example.vn")
    return smtp


def send_raw(smtp: smtplib.SMTP, raw: bytes, rcpt: str = "contact@vhv.vn") -> tuple[int, bytes]:
    """MAIL/RCPT/DATA by hand: no SIZE parameter, so DATA itself meets the limit."""
    code, _ = smtp.mail("an.nguyen@example.vn")
    assert code == 250
    code, _ = smtp.rcpt(rcpt)
    assert code == 250
    return smtp.data(raw)


def complaint_with_attachment() -> bytes:
    msg = vietnamese_message(subject="Khiếu nại: tủ lạnh không lạnh")
    msg.set_content(
        "<html><body><script>steal()</script><p>Tủ lạnh <b>không lạnh</b> sau 2 ngày.</p>"
        "</body></html>",
        subtype="html",
    )
    msg.add_attachment(b"\x89PNG fake photo", maintype="image", subtype="png", filename="ảnh.png")
    return msg.as_bytes(policy=email.policy.SMTP)


def test_message_goes_through_and_parses(listener: Controller, inbox: Inbox) -> None:
    raw = complaint_with_attachment()
    with client(listener) as smtp:
        code, reply = send_raw(smtp, raw)

    assert (code, reply) == (250, b"OK: queued as KN-2026-000001")
    [(got, mail_from, rcpt_tos)] = inbox.wait_for(1)
    assert got == raw
    assert (mail_from, rcpt_tos) == ("an.nguyen@example.vn", ["contact@vhv.vn"])
    parsed = parse_inbound(got, limits=inbox.limits, attachments=inbox.store)
    assert isinstance(parsed, InboundEmail)
    assert parsed.subject == "Khiếu nại: tủ lạnh không lạnh"
    assert parsed.text == "Tủ lạnh không lạnh sau 2 ngày."
    (attachment,) = parsed.attachments
    assert (attachment.filename, attachment.content_type) == ("ảnh.png", "image/png")
    assert inbox.store.read(attachment.sha256) == b"\x89PNG fake photo"


def test_oversize_message_is_refused_and_listener_keeps_serving(
    listener: Controller, inbox: Inbox
) -> None:
    msg = vietnamese_message()
    msg.add_attachment(b"\0" * DATA_SIZE_LIMIT, maintype="image", subtype="jpeg", filename="a.jpg")
    big = msg.as_bytes(policy=email.policy.SMTP)

    with client(listener) as smtp:
        code, reply = send_raw(smtp, big)
        assert (code, reply) == (552, b"Error: Too much mail data")
        # Same session, next message.
        code, _ = send_raw(smtp, complaint_with_attachment())
        assert code == 250

    with client(listener) as smtp, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.sendmail("an.nguyen@example.vn", ["contact@vhv.vn"], big)  # announces SIZE
    assert refused.value.smtp_code == 552

    with client(listener) as smtp:
        assert send_raw(smtp, complaint_with_attachment())[0] == 250
    assert len(inbox.wait_for(2)) == 2


def test_attachment_limit_refusal_reaches_the_sender(listener: Controller, inbox: Inbox) -> None:
    inbox.limits = EmailLimits(max_attachment_bytes=4)
    with client(listener) as smtp:
        code, reply = send_raw(smtp, complaint_with_attachment())
    assert code == 552
    assert reply.startswith(b"5.3.4 Attachment anh.png is 0.0 MB")


def test_callback_failure_answers_451_and_next_message_passes(
    listener: Controller, inbox: Inbox
) -> None:
    inbox.fail_next = True
    with client(listener) as smtp:
        code, reply = send_raw(smtp, complaint_with_attachment())
        assert (code, reply) == (451, b"4.3.0 temporary failure, try again later")
        assert send_raw(smtp, complaint_with_attachment())[0] == 250
    assert len(inbox.wait_for(1)) == 1


def test_unknown_recipient_is_refused_configured_domain_accepted(listener: Controller) -> None:
    with client(listener) as smtp:
        smtp.mail("an.nguyen@example.vn")
        assert smtp.rcpt("someone@elsewhere.example")[0] == 550
        assert smtp.rcpt("CSKH@HoTro.vhv.vn")[0] == 250
        assert smtp.rcpt("contact@vhv.vn")[0] == 250


def test_long_lines_are_accepted(listener: Controller, inbox: Inbox) -> None:
    raw = b"From: a@example.vn\r\nSubject: long\r\n\r\n" + b"x" * 5000 + b"\r\n"
    with client(listener) as smtp:
        assert send_raw(smtp, raw)[0] == 250
    [(got, _, _)] = inbox.wait_for(1)
    parsed = parse_inbound(got, limits=inbox.limits, attachments=inbox.store)
    assert isinstance(parsed, InboundEmail) and parsed.text == "x" * 5000
