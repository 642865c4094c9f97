"""Hostile mail, generated: every corpus message cut, spliced and salted with the bytes
attackers use (line breaks in headers, NULs, bidi overrides, broken encoded words, bogus
boundaries, huge lines), and messages built from such values with nested multipart
bodies of hostile part headers. Whatever arrives, the parser answers with one of its three
outcomes — never an exception — and what it accepts is clean: single-line fields without
control characters, message ids fit to be written back into our own headers, file names
that name no path, SMTP replies that inject nothing."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotro.services.intake.adapters.email import (
    AttachmentStore,
    EmailLimits,
    InboundEmail,
    ParseResult,
    Quarantined,
    Refused,
    parse_inbound,
)

CORPUS = Path(__file__).parent / "corpus"
MESSAGES = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))}

FRAGMENTS = [
    b"\r\n", b"\n", b"\r", b"\x00", b"\x01\x1b[31m", b"\r\nBcc: victim@example.com\r\n",
    b"\r\n\r\n", b"=?utf-8?b?", b"=?utf-8?q?=0D=0ABcc:=20x@evil?=", b"=?x-unknown?b?AAAA?=",
    b"\xff\xfe\xfd", "\u202egpj.exe".encode(), "\u2028".encode(), b"\xc3", b"--",
    b"\r\n--boundary--\r\n", b'\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n',
    b"<", b">", b"@", b"\t", b"(((((((((((", b"A" * 3000, b";filename=\"../../etc/passwd\"",
    b'\r\nContent-Disposition: attachment; filename="..\\\\x.exe"\r\n',
    b"\r\nMessage-ID: <a\x01b@x\x7f>\r\n", b"\r\nIn-Reply-To: <a>b<c@d>\r\n",
    b"\r\nContent-Transfer-Encoding: base64\r\n", b"=\r\n", b"=ZZ",
]


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    raw = bytearray(MESSAGES[draw(st.sampled_from(sorted(MESSAGES)))])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(("insert", "insert", "cut", "flip", "truncate")))
        if action == "insert":
            raw[at:at] = draw(st.sampled_from(FRAGMENTS))
        elif action == "cut":
            del raw[at:at + draw(st.integers(1, 200))]
        elif action == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif action == "truncate":
            del raw[at:]
    return bytes(raw)


#: bytes a header value or a body may be made of: plain text, the fragments above, and
#: the characters parsers trip over
_PIECES = st.one_of(st.sampled_from(FRAGMENTS),
                    st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
                    st.binary(max_size=20))
_VALUE = st.lists(_PIECES, max_size=5).map(b"".join)


@st.composite
def built(draw: st.DrawFn) -> bytes:
    """A message of our own making: hostile values in the headers staff and our replies
    read, and a multipart body nested a few levels with hostile part headers."""
    headers = [(name, draw(_VALUE)) for name in draw(st.lists(st.sampled_from((
        b"From", b"To", b"Subject", b"Message-ID", b"In-Reply-To", b"References",
        b"Auto-Submitted", b"Content-Type", b"Return-Path")), min_size=1, max_size=9))]
    headers.append((b"From", b"Binh <binh@example.vn>"))

    def part(depth: int) -> bytes:
        if depth == 0 or not draw(st.booleans()):
            return (b"Content-Type: " + draw(_VALUE) + b"\r\nContent-Disposition: attachment;"
                    b' filename="' + draw(_VALUE) + b'"\r\n\r\n' + draw(_VALUE) + b"\r\n")
        boundary = b"b" + str(depth).encode()
        children = [part(depth - 1) for _ in range(draw(st.integers(1, 3)))]
        return (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
                + b"".join(b"--" + boundary + b"\r\n" + c for c in children)
                + b"--" + boundary + b"--\r\n")

    return b"".join(n + b": " + v + b"\r\n" for n, v in headers) + part(3)


def _one_line(value: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value) \
        and not any(0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069
                    for ch in value)


#: what may be written back into a header of ours (In-Reply-To, References): no space, no
#: control character, no bracket inside
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_HEADER_ID = re.compile(r"<[!-;=?-~\u0080-\U0010ffff]+>")


def _assert_clean(result: ParseResult) -> None:
    if isinstance(result, Refused):
        reply = result.smtp_reply_text
        assert reply.isascii() and "\r" not in reply and "\n" not in reply, reply
        return
    if isinstance(result, Quarantined):
        assert _one_line(result.reason_text) and len(result.reason_text) <= 300
        assert result.message_id is None or _HEADER_ID.fullmatch(result.message_id), \
            result.message_id
        return
    assert isinstance(result, InboundEmail)
    for mid in (result.message_id, result.in_reply_to, *result.references,
                *result.bounced_message_ids):
        assert mid is None or _HEADER_ID.fullmatch(mid), mid
    assert _one_line(result.from_address) and " " not in result.from_address, \
        result.from_address
    if result.kind == "message":  # filed or threaded by its sender: a sender there is
        assert "@" in result.from_address, result
    for value in (result.from_name or "", result.subject, *result.to):
        assert _one_line(value), value
    assert all(ch in "\n\t" or unicodedata.category(ch) != "Cc" for ch in result.text)
    for status in result.delivery:  # a bounce's words reach staff and the case's alert
        fields = (status.action, status.status, status.diagnostic,
                  status.will_retry_until, status.recipient)
        assert all(f is None or _one_line(f) for f in fields), status
    for note in result.notes:
        assert all(_one_line(v) for _k, v in note.params), note
    names = [a.filename for a in result.attachments] + \
        [s.filename for s in result.skipped_attachments]
    types = [a.content_type for a in result.attachments] + \
        [s.content_type for s in result.skipped_attachments]
    assert all(_MIME_TYPE.fullmatch(t) for t in types), types
    for name in (n or "" for n in names):
        assert _one_line(name) and "/" not in name and "\\" not in name, name
        assert name not in (".", ".."), name


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=st.one_of(hostile(), built()))
def test_a_mangled_message_gets_an_answer_and_what_is_accepted_is_clean(
        raw: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    store = AttachmentStore(tmp_path_factory.mktemp("attachments"))
    _assert_clean(parse_inbound(raw, limits=EmailLimits(), attachments=store))


@pytest.mark.parametrize("dirty", [
    {"subject": "Khiếu nại\r\nBcc: x@evil"}, {"message_id": "<a b@x>"},
    {"in_reply_to": "<a\x01@x>"}, {"from_name": "\u202egpj.exe"},
    {"text": "xin chào\x00"}, {"from_address": "a b@x"},
])
def test_the_checks_refuse_what_they_are_there_to_refuse(dirty: dict[str, Any]) -> None:
    clean = parse_inbound(MESSAGES["out_of_office_vi.eml"], limits=EmailLimits(),
                          attachments=AttachmentStore(Path("/nonexistent/unused")))
    assert isinstance(clean, InboundEmail)
    _assert_clean(clean)
    with pytest.raises(AssertionError):
        _assert_clean(dataclasses.replace(clean, **dirty))
