from __future__ import annotations

import base64
import dataclasses
from email.message import EmailMessage

import pytest

from hotro.services.intake.adapters.email import (
    AttachmentStore,
    EmailLimits,
    InboundEmail,
    Quarantined,
    Refused,
    parse_inbound,
)

from .builders import cp1258_bytes, vietnamese_message


def accepted(raw: bytes, store: AttachmentStore, limits: EmailLimits) -> InboundEmail:
    result = parse_inbound(raw, limits=limits, attachments=store)
    assert isinstance(result, InboundEmail), result
    return result


def test_utf8_vietnamese_subject_and_body(store: AttachmentStore, limits: EmailLimits) -> None:
    raw = vietnamese_message().as_bytes()
    assert b"=?utf-8?" in raw  # the subject travels as an encoded-word

    email = accepted(raw, store, limits)

    assert email.subject == "Khiếu nại: máy giặt bị hỏng"
    assert email.text == "Xin chào, máy giặt tôi mua ngày 02/11 đã bị hỏng."
    assert email.from_address == "an.nguyen@example.vn"
    assert email.from_name == "Nguyễn Văn An"
    assert email.to == ("contact@vhv.vn",)
    assert email.kind == "message"
    assert email.message_id == "<msg-1@example.vn>"
    assert email.attachments == ()
    assert len(email.received_raw_sha256) == 64


def test_windows_1258_subject_and_body_come_out_nfc(
    store: AttachmentStore, limits: EmailLimits
) -> None:
    subject, body = "Khiếu nại đơn hàng", "Tôi muốn đổi sản phẩm lỗi."
    encoded_subject = base64.b64encode(cp1258_bytes(subject)).decode()
    raw = (
        b"From: Tran <tran@example.vn>\r\nTo: contact@vhv.vn\r\n"
        b"Subject: =?windows-1258?b?" + encoded_subject.encode() + b"?=\r\n"
        b"Message-ID: <cp1258@example.vn>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=windows-1258\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + cp1258_bytes(body) + b"\r\n"
    )
    assert "ế".encode() not in raw  # legacy bytes, combining tone marks

    email = accepted(raw, store, limits)

    assert email.subject == subject
    assert email.text == body
    assert email.defects == ()


def test_body_labelled_utf8_but_written_in_windows_1258_is_recovered(
    store: AttachmentStore, limits: EmailLimits
) -> None:
    raw = (
        b"From: a@example.vn\r\nMessage-ID: <w@example.vn>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + cp1258_bytes("Đổi hàng")
    )
    email = accepted(raw, store, limits)
    assert email.text == "Đổi hàng"
    assert "body_charset_guessed:utf-8->cp1258" in email.defects


def test_html_only_body_is_reduced_to_text(store: AttachmentStore, limits: EmailLimits) -> None:
    msg = vietnamese_message()
    msg.set_content(
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><p>Xin chào &amp; cảm ơn</p>"
        "<ul><li>Mã đơn: 123</li><li>Lỗi: <b>màn hình</b> tối</li></ul></body></html>",
        subtype="html",
    )
    email = accepted(msg.as_bytes(), store, limits)

    assert email.text == "Xin chào & cảm ơn\n\n- Mã đơn: 123\n- Lỗi: màn hình tối"
    assert "alert" not in email.text and "color" not in email.text


def test_attachment_is_stored_content_addressed(
    store: AttachmentStore, limits: EmailLimits
) -> None:
    pdf = b"%PDF-1.4 hoa don " * 100
    msg = vietnamese_message()
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="hoá đơn.pdf")

    first = accepted(msg.as_bytes(), store, limits)
    second = accepted(msg.as_bytes(), store, limits)

    (attachment,) = first.attachments
    assert attachment.filename == "hoá đơn.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(pdf)
    path = store.root / attachment.sha256[:2] / attachment.sha256[2:4] / attachment.sha256
    assert path.read_bytes() == pdf
    assert second.attachments == first.attachments
    assert [p.name for p in path.parent.iterdir()] == [attachment.sha256]  # no temp files


def test_octet_stream_pdf_is_typed_by_extension_and_exe_is_skipped(
    store: AttachmentStore, limits: EmailLimits
) -> None:
    msg = vietnamese_message()
    msg.add_attachment(b"%PDF", maintype="application", subtype="octet-stream", filename="a.pdf")
    msg.add_attachment(b"MZ", maintype="application", subtype="x-msdownload", filename="b.exe")

    email = accepted(msg.as_bytes(), store, limits)

    assert [a.content_type for a in email.attachments] == ["application/pdf"]
    assert [(s.filename, s.content_type) for s in email.skipped_attachments] == [
        ("b.exe", "application/x-msdownload")
    ]


def test_reply_ids_are_normalised(store: AttachmentStore, limits: EmailLimits) -> None:
    raw = (
        b"From: a@example.vn\r\nSubject: Re: [KN-2026-000123] Khieu nai\r\n"
        b"Message-ID:\r\n <Reply-1@Example.VN>\r\n"
        b"In-Reply-To: <KN-2026-000123.ack@VHV.vn>\r\n"
        b"References: <first@vhv.vn>\r\n\t<KN-2026-000123.ack@VHV.vn>\r\n <first@vhv.vn>\r\n"
        b"\r\nCam on\r\n"
    )
    email = accepted(raw, store, limits)

    assert email.message_id == "<Reply-1@example.vn>"
    assert email.in_reply_to == "<KN-2026-000123.ack@vhv.vn>"
    assert email.references == ("<first@vhv.vn>", "<KN-2026-000123.ack@vhv.vn>")
    assert email.reference_in_subject == "KN-2026-000123"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [KN-2026-000123] Khiếu nại", "KN-2026-000123"),
        ("Hỏi về tv-2026-000042 ạ", "TV-2026-000042"),
        ("Mã KN-2026-0001234 sai", None),
        ("XKN-2026-000123", None),
        ("Không có mã", None),
    ],
)
def test_reference_in_subject(
    subject: str, expected: str | None, store: AttachmentStore, limits: EmailLimits
) -> None:
    email = accepted(vietnamese_message(subject=subject).as_bytes(), store, limits)
    assert email.reference_in_subject == expected


def test_missing_message_id_gets_a_stable_synthetic_one(
    store: AttachmentStore, limits: EmailLimits
) -> None:
    raw = b"From: a@example.vn\r\nSubject: x\r\n\r\nhi\r\n"
    email = accepted(raw, store, limits)
    assert email.message_id == f"<{email.received_raw_sha256}@missing-message-id.invalid>"
    assert "message_id_missing" in email.defects


@pytest.mark.parametrize("hostile_id", [b"<a\x01b@mail.example.vn>", b"a<b@mail.example.vn",
                                        b"<a\x7f@mail.example.vn>", b"<a\xff@x.vn>",
                                        "<a\u202eb@x.vn>".encode()])
def test_a_message_id_we_could_not_write_back_counts_as_missing(
    hostile_id: bytes, store: AttachmentStore, limits: EmailLimits
) -> None:
    """Our replies quote the customer's id in In-Reply-To: one with a control character,
    a bracket inside or an undecodable byte would make them unbuildable."""
    raw = (b"From: a@example.vn\r\nSubject: x\r\nMessage-ID: " + hostile_id +
           b"\r\nIn-Reply-To: " + hostile_id + b" <ok@vhv.vn>\r\nReferences: " +
           hostile_id + b" <ok@vhv.vn>\r\n\r\nhi\r\n")
    email = accepted(raw, store, limits)
    assert email.message_id == f"<{email.received_raw_sha256}@missing-message-id.invalid>"
    assert email.in_reply_to == "<ok@vhv.vn>"
    assert email.references == ("<ok@vhv.vn>",)


def _with_attachment(size: int) -> bytes:
    msg = vietnamese_message()
    msg.add_attachment(b"\0" * size, maintype="image", subtype="jpeg", filename="ảnh.jpg")
    return msg.as_bytes()


def test_20_mb_attachment_is_refused(store: AttachmentStore, limits: EmailLimits) -> None:
    raw = _with_attachment(20 * 1024 * 1024)

    result = parse_inbound(raw, limits=limits, attachments=store)
    assert isinstance(result, Refused)
    assert result.reason_code == "message_too_large"
    assert result.smtp_reply_text.startswith("552 5.3.4 ")

    roomy = dataclasses.replace(limits, max_message_bytes=64 * 1024 * 1024)
    result = parse_inbound(raw, limits=roomy, attachments=store)
    assert isinstance(result, Refused)
    assert result.reason_code == "attachment_too_large"
    assert result.smtp_reply_text.startswith("552 5.3.4 Attachment anh.jpg is 20.0 MB")
    assert result.smtp_reply_text.isascii()
    assert not store.root.exists()  # nothing stored for a refused message


def test_total_and_count_limits_are_refused(store: AttachmentStore) -> None:
    msg = vietnamese_message()
    for n in range(3):
        msg.add_attachment(b"x" * 1000, maintype="image", subtype="png", filename=f"{n}.png")
    raw = msg.as_bytes()

    total = EmailLimits(max_total_attachment_bytes=2500)
    count = EmailLimits(max_attachments=2)
    too_big = parse_inbound(raw, limits=total, attachments=store)
    too_many = parse_inbound(raw, limits=count, attachments=store)

    assert isinstance(too_big, Refused) and too_big.reason_code == "attachments_too_large"
    assert isinstance(too_many, Refused) and too_many.reason_code == "too_many_attachments"


def test_deeply_nested_comments_in_from_are_quarantined(
    store: AttachmentStore, limits: EmailLimits
) -> None:
    raw = (
        b"From: " + b"(" * 5000 + b"x" + b")" * 5000 + b" a@example.vn\r\n"
        b"Message-ID: <nested@example.vn>\r\nSubject: x\r\n\r\nhi\r\n"
    )
    result = parse_inbound(raw, limits=limits, attachments=store)
    assert isinstance(result, Quarantined)
    assert result.reason_code == "header_recursion"
    assert result.message_id == "<nested@example.vn>"


def test_from_of_our_own_domain_is_quarantined(store: AttachmentStore, limits: EmailLimits) -> None:
    raw = b"From: contact@vhv.vn\r\nSubject: loop\r\n\r\nhi\r\n"
    result = parse_inbound(raw, limits=limits, attachments=store)
    assert isinstance(result, Quarantined) and result.reason_code == "from_own_domain"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b"From: a@example.vn\r\nContent-Type: multipart/mixed\r\n\r\nno boundary",
        b'From: a@example.vn\r\nContent-Type: text/plain; charset="=?utf-8?q?x?="\r\n\r\n\xff',
        b"From: a@example.vn\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64",
        b"From: a@example.vn\r\nSubject: =?utf-8?b?////?=\r\n\r\nx",
    ],
)
def test_garbage_never_raises(raw: bytes, store: AttachmentStore, limits: EmailLimits) -> None:
    result = parse_inbound(raw, limits=limits, attachments=store)
    assert isinstance(result, InboundEmail | Quarantined | Refused)


def test_built_reply_subject_never_breaks_a_header(
    store: AttachmentStore, limits: EmailLimits
) -> None:
    raw = (
        b"From: a@example.vn\r\n"
        b"Subject: =?utf-8?q?A=0D=0ABcc:_x@example.org?= =?utf-8?q?=0Aa=E2=80=A8b=0B?=\r\n\r\nx"
    )
    email = accepted(raw, store, limits)
    reply = EmailMessage()
    reply["Subject"] = "Re: " + email.subject  # raises ValueError on CR/LF
    assert email.subject == "A Bcc: x@example.org a b"
