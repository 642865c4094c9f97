"""Each corpus file and the outcome documented in corpus/README.md."""

from __future__ import annotations

import dataclasses
import hashlib
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
from hotro.services.intake.adapters.email.model import MailNote

CORPUS = Path(__file__).parent / "corpus"


def parse(name: str, store: AttachmentStore, limits: EmailLimits) -> ParseResult:
    return parse_inbound((CORPUS / name).read_bytes(), limits=limits, attachments=store)


def accepted(name: str, store: AttachmentStore, limits: EmailLimits) -> InboundEmail:
    result = parse(name, store, limits)
    assert isinstance(result, InboundEmail), result
    return result


def notes(mail: InboundEmail) -> dict[str, dict[str, str]]:
    return {f"{n.code}:{n.as_dict().get('where') or n.as_dict().get('field', '')}":
            n.as_dict() for n in mail.notes}


def test_every_corpus_file_is_documented() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for path in sorted(CORPUS.glob("*.eml")):
        assert f"| {path.name} |" in readme, path.name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated_multipart.eml", "multipart_truncated"),
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
        ("from_name_split_utf8.eml", "message"),
        ("charset_viscii.eml", "message"),
        ("charset_tcvn3.eml", "message"),
        ("encoded_word_broken_base64.eml", "message"),
        ("many_parts.eml", "message"),
        ("attachments_refused_types.eml", "message"),
        ("attachment_disguised.eml", "message"),
        ("own_acknowledgement_loop.eml", "own_message"),
        ("dsn_delayed.eml", "delay"),
    ],
)
def test_kind(name: str, kind: str, store: AttachmentStore, limits: EmailLimits) -> None:
    assert accepted(name, store, limits).kind == kind


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
    result = accepted(name, store, limits)
    assert result.kind == "bounce"
    assert result.bounced_message_ids == (bounced,)
    assert result.attachments == ()


def test_x_unknown_charset_falls_back_to_utf8(store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("charset_x_unknown.eml", store, limits)
    assert result.subject == "Máy giặt bị hỏng"
    assert result.text == "Máy giặt tôi mua tuần trước bị hỏng."
    assert "body_charset_guessed:x-unknown->utf-8" in result.defects


def test_header_injection_is_flattened(store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("header_injection_subject.eml", store, limits)
    assert result.subject == "Khiếu nại Bcc: victim@example.org body"
    reply = EmailMessage()
    reply["Subject"] = f"Re: {result.subject}"
    assert reply["Bcc"] is None


def test_out_of_office_keeps_its_reference(store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("out_of_office_vi.eml", store, limits)
    assert result.reference_in_subject == "KN-2026-000123"
    assert result.in_reply_to == "<notify-42@vhv.vn>"


# ---- issue 14: every mail understood ---------------------------------------------------

def test_display_name_split_inside_a_character_is_joined(
        store: AttachmentStore, limits: EmailLimits) -> None:
    """The UTF-8 bytes of "ễ" are split across two encoded-words (and so is "ế" in the
    subject): the words are joined before decoding, so the name is right — no repair, no
    note, nothing for staff to look at."""
    raw = (CORPUS / "from_name_split_utf8.eml").read_bytes()
    assert "ễ".encode() not in raw and b"?= =?UTF-8?B?" in raw.replace(b"\n", b"")
    result = accepted("from_name_split_utf8.eml", store, limits)
    assert result.from_name == "Nguyễn Văn Ánh"
    assert result.subject == "Khiếu nại: tủ lạnh không lạnh"
    assert (result.notes, result.keep_raw) == ((), False)


@pytest.mark.parametrize(
    ("name", "charset", "subject", "starts"),
    [
        ("charset_viscii.eml", "viscii", "Khiếu nại đơn hàng",
         "Tôi muốn khiếu nại về đơn hàng số 4521: máy xay sinh tố bị vỡ cối."),
        ("charset_tcvn3.eml", "tcvn", "Bảo hành điều hòa",
         "Kính gửi công ty,\nĐiều hòa lắp ngày 05/11 chảy nước, đề nghị bảo hành."),
    ],
)
def test_vietnamese_legacy_charsets_are_decoded_and_the_raw_kept(
        name: str, charset: str, subject: str, starts: str, store: AttachmentStore,
        limits: EmailLimits) -> None:
    result = accepted(name, store, limits)
    assert result.subject == subject
    assert result.text.startswith(starts)
    assert f"body_charset_legacy:{charset}" in result.defects
    found = notes(result)
    assert found["charset_legacy:body"]["charset"] == charset
    assert found["charset_legacy:subject"]["charset"] == charset
    assert result.keep_raw


def test_broken_base64_encoded_words_are_recovered_and_marked(
        store: AttachmentStore, limits: EmailLimits) -> None:
    """The subject's word is cut (one letter over a multiple of four: the standard
    library gives up on it); the name's word has a stray "!". What can be read is kept,
    the cut is marked, staff get a note, the raw message is kept."""
    result = accepted("encoded_word_broken_base64.eml", store, limits)
    assert result.subject == "Khiếu nại về đơn hàng[?]"
    assert result.from_name == "Phạm Thị Lan"
    assert result.text == "Đơn hàng 123 giao thiếu một hộp. Xin kiểm tra."
    found = notes(result)
    assert found["header_repaired:subject"]["repairs"] == "base64_cut"
    assert found["header_repaired:from_name"]["repairs"] == "base64_stray"
    assert result.keep_raw


def test_very_many_parts_keep_the_first_n_with_a_note(
        store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("many_parts.eml", store, limits)
    assert result.text == "Máy giặt rung mạnh khi vắt, ảnh kèm theo."
    assert [a.filename for a in result.attachments] == ["anh-1.png", "anh-2.png"]
    assert notes(result)["parts_dropped:"] == {"total": "404", "kept": "200",
                                               "dropped": "204"}
    assert result.keep_raw

    few = dataclasses.replace(limits, max_parts=3)  # N is configurable
    cut = accepted("many_parts.eml", store, few)
    assert [a.filename for a in cut.attachments] == ["anh-1.png"]
    assert notes(cut)["parts_dropped:"]["dropped"] == "401"


def test_refused_attachment_types_are_recorded_without_their_bytes(
        store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("attachments_refused_types.eml", store, limits)
    assert [(a.filename, a.content_type) for a in result.attachments] == [
        ("hoa-don.pdf", "application/pdf")]
    refused = {s.filename or "": s for s in result.skipped_attachments}
    assert sorted(refused) == ["fix.py", "logs.zip", "setup.exe"]
    exe = refused["setup.exe"]
    assert (exe.content_type, exe.detected_type, exe.reason) == (
        "application/x-msdownload", "application/x-msdownload", "extension_refused")
    assert exe.size > 0 and len(exe.sha256) == 64
    assert refused["fix.py"].content_type == "text/x-python"
    assert refused["logs.zip"].detected_type == "application/zip"
    stored = {p.name for p in store.root.rglob("*") if p.is_file()}
    assert stored == {result.attachments[0].sha256}  # never the refused bytes
    assert all(s.sha256 not in stored for s in result.skipped_attachments)
    assert notes(result)["attachments_refused:"]["count"] == "3"
    assert not result.keep_raw


def test_content_is_sniffed_and_a_mismatch_is_never_believed(
        store: AttachmentStore, limits: EmailLimits) -> None:
    """``hoa-don.pdf.exe`` declared application/pdf is a program: refused, never a PDF;
    ``bao-gia.pdf`` declared application/pdf is a program too (no telling extension):
    refused by its content; a PNG declared image/jpeg is stored as what it is, flagged."""
    result = accepted("attachment_disguised.eml", store, limits)
    refused = {s.filename: (s.content_type, s.detected_type, s.reason)
               for s in result.skipped_attachments}
    assert refused == {
        "hoa-don.pdf.exe": ("application/pdf", "application/x-msdownload",
                            "extension_refused"),
        "bao-gia.pdf": ("application/pdf", "application/x-msdownload",
                        "content_not_accepted"),
    }
    [photo] = result.attachments
    assert (photo.filename, photo.content_type, photo.declared_type, photo.type_mismatch) == (
        "anh-san-pham.jpg", "image/png", "image/jpeg", True)
    assert notes(result)["attachment_type_mismatch:"] == {
        "filename": "anh-san-pham.jpg", "declared": "image/jpeg", "detected": "image/png"}
    assert all(a.content_type != "application/pdf" for a in result.attachments)


def test_our_own_acknowledgement_coming_back_is_our_own(
        store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("own_acknowledgement_loop.eml", store, limits)
    assert result.kind == "own_message"
    assert result.from_address == "contact@vhv.vn"  # our domain: no quarantine for ours
    assert result.attachments == ()


def test_a_person_writing_from_our_domain_is_still_quarantined(
        store: AttachmentStore, limits: EmailLimits) -> None:
    """Only what notify writes (our Message-ID domain and its own headers) is ours."""
    raw = (CORPUS / "own_acknowledgement_loop.eml").read_bytes()
    raw = raw.replace(b"X-Hotro-Reference: KN-2026-000123\n", b"").replace(
        b"Auto-Submitted: auto-generated\n", b"")
    result = parse_inbound(raw, limits=limits, attachments=store)
    assert isinstance(result, Quarantined) and result.reason_code == "from_own_domain"


def test_delayed_delivery_notice_is_a_delay(store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("dsn_delayed.eml", store, limits)
    assert result.kind == "delay"
    assert result.bounced_message_ids == ("<kn-2026-000123.ack@vhv.vn>",)
    [status] = result.delivery
    assert (status.action, status.status) == ("delayed", "4.4.1")
    assert status.will_retry_until == "Sun, 15 Mar 2026 09:00:05 +0700"
    assert status.diagnostic is not None and "Connection timed out" in status.diagnostic


def test_delivery_report_kinds_follow_the_action(
        store: AttachmentStore, limits: EmailLimits) -> None:
    raw = (CORPUS / "dsn_delayed.eml").read_bytes()
    for action, kind in (("failed", "bounce"), ("delivered", "delivery_report"),
                         ("relayed", "delivery_report")):
        changed = raw.replace(b"Action: delayed", b"Action: " + action.encode())
        result = parse_inbound(changed, limits=limits, attachments=store)
        assert isinstance(result, InboundEmail) and result.kind == kind, action
    # a delay warning without a status part is told by its subject
    plain = (b"From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
             b"To: contact@vhv.vn\nSubject: Warning: message 1abc-00 delayed 24 hours\n"
             b"Message-ID: <warn-1@mx.example.net>\n\nMessage-ID: <x.ack@vhv.vn>\n")
    result = parse_inbound(plain, limits=limits, attachments=store)
    assert isinstance(result, InboundEmail)
    assert (result.kind, result.bounced_message_ids) == ("delay", ("<x.ack@vhv.vn>",))


def test_notes_are_plain_data(store: AttachmentStore, limits: EmailLimits) -> None:
    result = accepted("charset_viscii.eml", store, limits)
    assert all(isinstance(n, MailNote) for n in result.notes)
    assert result.received_raw_sha256 == hashlib.sha256(
        (CORPUS / "charset_viscii.eml").read_bytes()).hexdigest()
