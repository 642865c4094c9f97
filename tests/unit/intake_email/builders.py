"""Small builders for test messages (not collected: no test_ prefix)."""

from __future__ import annotations

import unicodedata
from email.message import EmailMessage

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def cp1258_bytes(text: str) -> bytes:
    """Encode like Windows does: base letter (ê, ơ, ư, ă, â...) plus a combining tone mark."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in decomposed if c in _TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
        out.append(base + tones)
    return "".join(out).encode("cp1258")


def vietnamese_message(
    *,
    subject: str = "Khiếu nại: máy giặt bị hỏng",
    body: str = "Xin chào, máy giặt tôi mua ngày 02/11 đã bị hỏng.",
    message_id: str = "<msg-1@example.vn>",
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Nguyễn Văn An <an.nguyen@example.vn>"
    msg["To"] = "Hỗ trợ <contact@vhv.vn>"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg


def legacy_bytes(text: str, table: str) -> bytes:
    """Encode NFC ``text`` with a legacy Vietnamese decoding table (``vietnamese.py``):
    the inverse of decoding, for building test messages."""
    inverse = {ch: i for i, ch in enumerate(table) if ch not in ("\ufffe", "\ufffd")}
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        if ch in inverse:
            out.append(inverse[ch])
            continue
        # TCVN composes capitals from a base letter and a combining tone mark
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", decomposed[:-1])
        out += bytes([inverse[base], inverse[decomposed[-1]]])
    return bytes(out)
