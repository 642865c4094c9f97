"""Each corpus file and the outcome documented in corpus/README.md."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from hotro.services.intake.adapters.email import (
    AttachmentStore,
    EmailLimits,
    InboundEmail,
    ParseResult,
    Quarantined,
    parse_inbound,
)

CORPUS = Path(__file__).parent / "corpus"


def parse(name: str, store: AttachmentStore, limits: EmailLimits) -> ParseResult:
    return parse_inbound((CORPUS / name).read_bytes(), limits=limits, attachments=store)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated_multipart.eml", "multipart_truncated"),
        ("charset_viscii.eml", "charset_unsupported"),
        ("missing_from.eml", "from_missing"),
        ("from_display_name_only.eml", "from_display_name_only"),
        ("from_encoded_address.eml", "from_encoded_address"),
    ],
)
def test_quarantined(name: str, reason: str, store: AttachmentStore, limits: EmailLimits) -> None:
    result = parse(name, store, limits)
    assert isinstance(result, Quarantined), result
    assert result.reason_code == reason
    assert result.message_id is not None and result.message_id.startswith("<")
    assert len(result.raw_sha256) == 64


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("out_of_office_vi.eml", "auto_reply"),
        ("auto_submitted_en.eml", "auto_reply"),
        ("mailing_list.eml", "list"),
        ("header_injection_subject.eml", "message"),
        ("charset_x_unknown.eml", "message"),
    ],
)
def test_kind(name: str, kind: str, store: AttachmentStore, limits: EmailLimits) -> None:
    result = parse(name, store, limits)
    assert isinstance(result, InboundEmail), result
    assert result.kind == kind


@pytest.mark.parametrize(
    ("name", "bounced"),
    [
        ("bounce_dsn.eml", "<kn-2026-000123.ack@vhv.vn>"),
        ("bounce_headers_only.eml", "<tv-2026-000042.reply@vhv.vn>"),
    ],
)
def test_bounce_of_our_message(
    name: str, bounced: str, store: AttachmentStore, limits: EmailLimits
) -> None:
    result = parse(name, store, limits)
    assert isinstance(result, InboundEmail), result
    assert result.kind == "bounce"
    assert result.bounced_message_ids == (bounced,)
    assert result.attachments == ()


def test_x_unknown_charset_falls_back_to_utf8(store: AttachmentStore, limits: EmailLimits) -> None:
    result = parse("charset_x_unknown.eml", store, limits)
    assert isinstance(result, InboundEmail)
    assert result.subject == "Máy giặt bị hỏng"
    assert result.text == "Máy giặt tôi mua tuần trước bị hỏng."
    assert "body_charset_guessed:x-unknown->utf-8" in result.defects


def test_header_injection_is_flattened(store: AttachmentStore, limits: EmailLimits) -> None:
    result = parse("header_injection_subject.eml", store, limits)
    assert isinstance(result, InboundEmail)
    assert result.subject == "Khiếu nại Bcc: victim@example.org body"
    reply = EmailMessage()
    reply["Subject"] = f"Re: {result.subject}"
    assert reply["Bcc"] is None


def test_out_of_office_keeps_its_reference(store: AttachmentStore, limits: EmailLimits) -> None:
    result = parse("out_of_office_vi.eml", store, limits)
    assert isinstance(result, InboundEmail)
    assert result.reference_in_subject == "KN-2026-000123"
    assert result.in_reply_to == "<notify-42@vhv.vn>"
