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
