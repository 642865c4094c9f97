"""Header-value hygiene shared by the email builders."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import Final

# Everything str.splitlines() breaks on, plus NUL: any of these in a header value could end
# the header early and let the rest be read as a new header (header injection).
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00")


class HeaderInjectionError(ValueError):
    """A header value contained a line break."""


def safe_header(name: str, value: str) -> str:
    if any(ch in _LINE_BREAKS for ch in value):
        raise HeaderInjectionError(f"line break in the {name} header value: {value!r}")
    return value


# Python's policies refold any stored line longer than this, which would bring the bug back.
_MAX_LINE: Final = 78
_EW_OVERHEAD: Final = len("=?utf-8?b??=")


def _bytes_for(width: int) -> int:
    """How many UTF-8 bytes fit in one encoded word of at most ``width`` characters."""
    return (width - _EW_OVERHEAD) // 4 * 3


def _encoded_words(text: str, first_budget: int) -> list[str]:
    budget = first_budget
    chunks: list[str] = []
    current = ""
    for ch in text:
        if current and len((current + ch).encode("utf-8")) > budget:
            chunks.append(current)
            current = ch
            budget = _bytes_for(_MAX_LINE - 1)  # continuation lines start with one space
        else:
            current += ch
    chunks.append(current)
    return [f"=?utf-8?b?{base64.b64encode(c.encode('utf-8')).decode('ascii')}?=" for c in chunks]


def set_unstructured(message: EmailMessage, name: str, value: str) -> None:
    """Set a free-text header such as Subject, encoding non-ASCII text ourselves.

    CPython 3.11's folder drops the space between two encoded words when it has to fold a
    long non-ASCII value ("tiếp nhận khiếu nại" arrives as "tiếp nhậnkhiếu nại"). Here every
    space travels inside an encoded word, every line fits so nothing is refolded, and a
    leading ASCII part (the "[KN-…]" tag) stays readable in the raw header.
    """
    safe_header(name, value)
    if value.isascii():
        message[name] = value
        return
    first_non_ascii = next(i for i, ch in enumerate(value) if not ch.isascii())
    cut = value.rfind(" ", 0, first_non_ascii)
    plain, rest = (value[:cut], value[cut + 1 :]) if cut > 0 else ("", value)
    lead = len(name) + 2 + (len(plain) + 1 if plain else 0)
    if _bytes_for(_MAX_LINE - lead) < 8:  # a long ASCII lead: encode everything instead
        plain, rest, lead = "", value, len(name) + 2
    words = _encoded_words(rest, _bytes_for(_MAX_LINE - lead))
    if plain:
        words[0] = f"{plain} {words[0]}"
    message.set_raw(name, "\r\n ".join(words))
