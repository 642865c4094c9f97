"""Header-value hygiene and RFC 2047 encoded words for the email writer."""

from __future__ import annotations

import base64
import unicodedata
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


def one_line(value: str) -> str:
    """``value`` on one line: every control character and line or paragraph separator a
    space, each run of whitespace one space, none around. For free text a header carries
    that is ours to tidy, such as a customer's name stored before intake refused line
    breaks in names: the email goes with the name on one line rather than not at all."""
    return " ".join("".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                            for ch in value).split())


#: RFC 5322's recommended line length, which the writer keeps to
MAX_LINE: Final = 78
#: RFC 2047: an encoded word is at most 75 characters long
MAX_ENCODED_WORD: Final = 75
_EW_OVERHEAD: Final = len("=?utf-8?b??=")


def _bytes_for(width: int) -> int:
    """How many UTF-8 bytes fit in one encoded word of at most ``width`` characters."""
    return max(3, (min(width, MAX_ENCODED_WORD) - _EW_OVERHEAD) // 4 * 3)


def encoded_words(text: str, first_width: int) -> list[str]:
    """``text`` as RFC 2047 encoded words (UTF-8, base64): the first at most
    ``first_width`` characters long, the others fitting a continuation line.

    Every space travels inside a word, because a reader drops the whitespace between two
    encoded words. A word ends after whitespace (a space, a tab…) where it can: some
    readers (Python's own, in display names) put a space between two encoded words of a
    phrase, and there one already is. No character is split across two words.
    """
    budget = _bytes_for(first_width)
    chunks: list[str] = []
    current = ""
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if current and size + n > budget:
            cut = _after_last_whitespace(current)
            if 0 < cut < len(current):  # end the word after its last whitespace
                chunks.append(current[:cut])
                current = current[cut:]
            else:
                chunks.append(current)
                current = ""
            size = len(current.encode("utf-8"))
            budget = _bytes_for(MAX_LINE - 1)  # continuation lines start with one space
            if current and size + n > budget:  # the tail kept and this character: too long
                chunks.append(current)
                current, size = "", 0
        current += ch
        size += n
    chunks.append(current)
    return [f"=?utf-8?b?{base64.b64encode(c.encode('utf-8')).decode('ascii')}?=" for c in chunks]


def _after_last_whitespace(text: str) -> int:
    """The index just after the last whitespace character of ``text`` (0: none)."""
    for i in range(len(text) - 1, -1, -1):
        if text[i].isspace():
            return i + 1
    return 0
