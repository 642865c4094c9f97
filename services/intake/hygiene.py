"""Input hygiene of intake's HTTP API: every text field trimmed and NFC-normalised; control
characters refused with a 422 that names the field.

* Single-line fields (names, phone, email, address, codes, references, items, reasons,
  call ids): no control character at all — C0 (CR, LF, NUL, TAB…), DEL, C1 — and no
  Unicode line or paragraph separator; no bidirectional override or isolate (U+202A-202E,
  U+2066-2069: they make "gpj.exe" read as "exe.jpg", a name read backwards in the
  console and in our letters). A name with CR/LF once reached the store and then broke
  the acknowledgement's headers; it is now refused at the door.
* Multi-line text (a description, information the customer adds): line breaks and TAB
  are allowed (CRLF, CR, U+2028/U+2029 become LF); every other control character is
  refused. Text of only whitespace is refused as blank.

The checks run before trimming, so a trailing CR/LF cannot slip through as "whitespace".
Messages are "vietnamese / english" (errors.py splits them).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_SEPARATORS = {"\u2028", "\u2029", "\x85"}
_MULTILINE_ALLOWED = {"\n", "\t"}
#: bidirectional embeddings, overrides and isolates: refused where one line is expected
_BIDI_OVERRIDES = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def _control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _SEPARATORS


def _refuse(ch: str) -> ValueError:
    code = f"U+{ord(ch):04X}"
    return ValueError(f"không được chứa ký tự điều khiển hoặc xuống dòng ({code}) / "
                      f"must not contain control characters or line breaks ({code})")


def _blank() -> ValueError:
    return ValueError("không được để trống / must not be blank")


def clean_single_line(value: str, *, required: bool = True) -> str | None:
    """NFC, trimmed, one line; ValueError for a control character (or blank if required);
    None for a blank optional value."""
    bad = next((ch for ch in value if _control(ch) or ch in _BIDI_OVERRIDES), None)
    if bad is not None:
        raise _refuse(bad)
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        if required:
            raise _blank()
        return None
    return text


def clean_multi_line(value: str, *, required: bool = True) -> str | None:
    """NFC, LF line ends, trimmed; ValueError for a control character other than a line
    break or TAB (or blank if required); None for a blank optional value."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\x85", "\n")
    bad = next((ch for ch in text if _control(ch) and ch not in _MULTILINE_ALLOWED), None)
    if bad is not None:
        raise _refuse(bad)
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        if required:
            raise _blank()
        return None
    return text


def _line(value: Any) -> Any:
    return clean_single_line(value) if isinstance(value, str) else value


def _optional_line(value: Any) -> Any:
    return clean_single_line(value, required=False) if isinstance(value, str) else value


def _text(value: Any) -> Any:
    return clean_multi_line(value) if isinstance(value, str) else value


# Validators to put LAST in an ``Annotated[...]`` (after ``Field(max_length=…)``): pydantic
# applies metadata in order, and a length constraint placed after a validator that may
# return None would be checked against None (a 500). With the constraint first, it applies
# to the string inside ``str | None``.
#: a required single-line field: ``Annotated[str, Field(max_length=…), LINE]``
LINE = BeforeValidator(_line)
#: an optional single-line field (blank becomes None):
#: ``Annotated[str | None, Field(max_length=…), OPTIONAL_LINE] = None``
OPTIONAL_LINE = BeforeValidator(_optional_line)
#: required multi-line text: ``Annotated[str, Field(max_length=…), TEXT]``
TEXT = BeforeValidator(_text)
#: A checklist item name.
Item = Annotated[str, Field(max_length=100), LINE]


def check_header_token(value: str, *, max_length: int = 200) -> str | None:
    """A header value used as a key (Idempotency-Key): printable ASCII, no spaces around;
    returns the reason it is refused, or None."""
    if not value or len(value) > max_length:
        return f"1–{max_length} ký tự / 1 to {max_length} characters"
    if not all(0x21 <= ord(ch) <= 0x7E for ch in value):
        return ("chỉ ký tự ASCII in được, không khoảng trắng / printable ASCII only, "
                "no spaces")
    return None
