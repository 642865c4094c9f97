"""Text hygiene: NFC, no control characters, no line breaks where a single line is expected."""

from __future__ import annotations

import re
import unicodedata

# Bidi overrides can disguise "gpj.exe" as "exe.jpg"; never useful in a subject or a filename.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F], " "
)
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _safe(value: str) -> str:
    # Lone surrogates would raise UnicodeEncodeError far away from here, when stored or sent.
    return value.encode("utf-8", "replace").decode("utf-8")


def clean_line(value: str, *, max_chars: int = 998) -> str:
    """One line: NFC, every control/line-break character becomes a space, spaces collapsed."""
    value = unicodedata.normalize("NFC", _safe(value)).translate(_BIDI_CONTROLS)
    value = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value)
    return _SPACES.sub(" ", value).strip()[:max_chars]


def clean_text(value: str, *, max_chars: int) -> str:
    """Multi-line text: NFC, LF line ends, control characters other than LF/TAB dropped."""
    value = unicodedata.normalize("NFC", _safe(value))
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\u2028", "\n").replace("\u2029", "\n\n")
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    lines = [line.rstrip() for line in value.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()[:max_chars]


def ascii_line(value: str, *, max_chars: int = 400) -> str:
    """ASCII-only single line (SMTP replies): diacritics stripped, rest replaced by '?'."""
    value = unicodedata.normalize("NFKD", clean_line(value).replace("đ", "d").replace("Đ", "D"))
    value = "".join(ch for ch in value if not unicodedata.combining(ch))
    return value.encode("ascii", "replace").decode("ascii")[:max_chars]


def fold_diacritics(value: str) -> str:
    """Lower-case, diacritics removed: "Tự động" -> "tu dong" (for keyword matching)."""
    value = unicodedata.normalize("NFKD", value.lower().replace("đ", "d"))
    return "".join(ch for ch in value if not unicodedata.combining(ch))
