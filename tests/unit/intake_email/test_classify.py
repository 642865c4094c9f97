from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default

import pytest

from hotro.services.intake.adapters.email import EmailLimits
from hotro.services.intake.adapters.email.classify import classify


def message(headers: str, body: str = "hi") -> EmailMessage:
    msg = email.message_from_string(f"{headers}\n\n{body}\n", policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize(
    ("headers", "subject", "kind"),
    [
        ("From: a@example.vn", "Khiếu nại", "message"),
        ("From: a@example.vn", "Re: Trả lời tự động: đơn hàng", "message"),
        ("From: a@example.vn\nAuto-Submitted: no", "Hỏi", "message"),
        ("From: a@example.vn\nAuto-Submitted: auto-generated", "x", "auto_reply"),
        ("From: a@example.vn\nX-Autoreply: yes", "x", "auto_reply"),
        ("From: a@example.vn\nX-Autorespond: 1", "x", "auto_reply"),
        ("From: a@example.vn", "Out of Office: Re: KN-2026-000001", "auto_reply"),
        ("From: a@example.vn", "Automatic reply: đơn hàng", "auto_reply"),
        ("From: a@example.vn", "Tu dong tra loi", "auto_reply"),
        ("From: a@example.vn", "[Vắng mặt] đến thứ Hai", "auto_reply"),
        ("From: a@example.vn\nPrecedence: junk", "x", "auto_reply"),
        ("From: a@example.vn\nPrecedence: list", "x", "list"),
        ("From: a@example.vn\nList-Unsubscribe: <mailto:u@example.vn>", "x", "list"),
        ("From: MAILER-DAEMON@mx.example.vn", "x", "bounce"),
        (
            "From: a@example.vn\nContent-Type: multipart/report; "
            "report-type=disposition-notification; boundary=B",
            "Read: x",
            "auto_reply",
        ),
    ],
)
def test_kind(headers: str, subject: str, kind: str) -> None:
    result = classify(message(headers), subject, limits=EmailLimits())
    assert result.kind == kind


def test_null_sender_is_never_a_plain_message() -> None:
    msg = message("From: a@example.vn")
    assert classify(msg, "Hello", limits=EmailLimits(), envelope_from="").kind == "auto_reply"
    assert (
        classify(msg, "Mail delivery failed", limits=EmailLimits(), envelope_from="<>").kind
        == "bounce"
    )


def test_non_standard_bounce_quotes_message_id_in_text() -> None:
    msg = message(
        "From: postmaster@example.org\nSubject: failure notice",
        "Could not deliver.\n--- Below this line is a copy of the message.\n"
        "Message-ID: <notify-7@VHV.vn>\nSubject: x",
    )
    result = classify(msg, "failure notice", limits=EmailLimits())
    assert result == type(result)("bounce", ("<notify-7@vhv.vn>",))
