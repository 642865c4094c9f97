"""SmtpMailer against a real SMTP conversation (aiosmtpd on a loopback port)."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope

from hotro.services.notify.adapters.email_smtp import (
    OutgoingEmail,
    SmtpMailer,
    make_message_id,
)
from hotro.services.notify.adapters.rendering import CompanyInfo, render
from hotro.services.notify.application.channel import PermanentFailure, TransientFailure
from tests.support.smtp import SmtpSink
from tests.unit.notify.conftest import CONTEXTS, CUSTOMER, REFERENCE, free_port

SENDER = Address("Công ty VHV", addr_spec="contact@vhv.vn")


Sink = SmtpSink


def smtp_mailer(port: int, timeout: float = 5.0) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, False, None, None, timeout, sender=SENDER)


def acknowledgement(company: CompanyInfo, **overrides: Any) -> OutgoingEmail:
    rendered = render("acknowledgement", "vi", CONTEXTS["acknowledgement"], company)
    fields: dict[str, Any] = {
        "to": "anh.nguyen@example.vn",
        "to_name": CUSTOMER,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "message_id": make_message_id("vhv.vn"),
        "in_reply_to": "<CAF0-khieu-nai@mail.example.vn>",
        "references": ["<CAF0-khieu-nai@mail.example.vn>"],
        "reference": REFERENCE,
        "auto_submitted": True,
    }
    fields.update(overrides)
    return OutgoingEmail.model_validate(fields)


def received_message(envelope: Envelope) -> EmailMessage:
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_acknowledgement_over_real_smtp(sink: tuple[Sink, int], company: CompanyInfo) -> None:
    handler, port = sink
    email = acknowledgement(company)

    smtp_mailer(port).send(email)

    assert len(handler.received) == 1
    envelope = handler.received[0]
    assert envelope.mail_from == "contact@vhv.vn"
    assert envelope.rcpt_tos == ["anh.nguyen@example.vn"]
    message = received_message(envelope)
    assert message["Subject"] == f"[{REFERENCE}] Xác nhận đã tiếp nhận khiếu nại của Quý khách"
    assert message["Message-ID"] == email.message_id
    assert message["In-Reply-To"] == "<CAF0-khieu-nai@mail.example.vn>"
    assert message["References"] == "<CAF0-khieu-nai@mail.example.vn>"
    assert message["To"].addresses[0].display_name == CUSTOMER
    assert message["From"].addresses[0].display_name == "Công ty VHV"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    text = plain.get_content()
    assert "Kính gửi Quý khách Nguyễn Thị Ánh," in text
    assert f"Mã số khiếu nại: {REFERENCE}" in text
    assert "chậm nhất ngày 19/03/2026" in text
    assert "<strong>19/03/2026</strong>" in html.get_content()


def test_unknown_mailbox_is_permanent(sink: tuple[Sink, int], company: CompanyInfo) -> None:
    handler, port = sink
    handler.rcpt_reply = "550 5.1.1 <anh.nguyen@example.vn>: no such user"
    with pytest.raises(PermanentFailure) as caught:
        smtp_mailer(port).send(acknowledgement(company))
    assert caught.value.code == 550
    assert handler.received == []


def test_temporary_refusal_is_transient(sink: tuple[Sink, int], company: CompanyInfo) -> None:
    handler, port = sink
    handler.rcpt_reply = "451 4.3.0 Mailbox temporarily unavailable, try again later"
    with pytest.raises(TransientFailure) as caught:
        smtp_mailer(port).send(acknowledgement(company))
    assert caught.value.code == 451


def test_nothing_listening_is_transient(company: CompanyInfo) -> None:
    with pytest.raises(TransientFailure, match=r"127\.0\.0\.1"):
        smtp_mailer(free_port()).send(acknowledgement(company))


def test_silent_server_times_out_as_transient(company: CompanyInfo) -> None:
    # The kernel completes the handshake from the backlog; nobody ever sends a greeting.
    with socket.create_server(("127.0.0.1", 0)) as mute:
        port = mute.getsockname()[1]
        with pytest.raises(TransientFailure):
            smtp_mailer(port, timeout=0.3).send(acknowledgement(company))


def test_header_injection_never_reaches_the_server(
    sink: tuple[Sink, int], company: CompanyInfo
) -> None:
    handler, port = sink
    smuggled = acknowledgement(company).model_copy(
        update={"subject": "Xác nhận\r\nBcc: victim@evil.example"}
    )
    with pytest.raises(PermanentFailure, match="line break"):
        smtp_mailer(port).send(smuggled)
    assert handler.received == []
