"""Header helpers: Message-ID normalisation and unstructured header decoding.

These work on the *raw* header values (`EmailMessage.raw_items()`), so a malformed
structured header can never break them.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from email.message import Message

from .charsets import repair_surrogates
from .encoded_words import DecodedHeader, decode_words
from .sanitize import clean_line

_WHITESPACE = re.compile(r"\s+")
_BRACKETED = re.compile(r"<([^<>]*)>")
_MAX_ID_CHARS = 500
#: controls, format characters (bidi overrides), undecodable bytes (surrogate escapes)
_UNWRITABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def raw_header(msg: Message, name: str) -> str | None:
    """The first raw value of a header, unfolded, or None."""
    name = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == name:
            return re.sub(r"\r?\n(?=[ \t])", "", str(value))
    return None


def raw_headers(msg: Message, name: str) -> list[str]:
    name = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == name]


def normalise_message_id(value: str) -> str | None:
    """`<local@Domain.COM>` -> `<local@domain.com>`.

    Whitespace (folding) is removed; brackets are always present in the result; the domain
    part after the last "@" is lower-cased (domains are case-insensitive, local parts may
    not be). Returns None for an empty or absurdly long id, or one that could not be
    written back into a header (``_writable_id``).
    """
    compact = _WHITESPACE.sub("", value)
    found = _BRACKETED.search(compact)
    inner = found.group(1) if found else compact.strip("<>")
    if not inner or len(inner) > _MAX_ID_CHARS or not _writable_id(inner):
        return None
    local, at, domain = inner.rpartition("@")
    if at:
        inner = f"{local}@{domain.lower()}"
    return f"<{inner}>"


def _writable_id(inner: str) -> bool:
    """Whether an id can be written back into a header of ours (a reply's In-Reply-To):
    no bracket inside, no control or format character, no undecodable byte. A hostile id
    that failed this would make every email we send the customer unbuildable."""
    return not any(ch in "<>" or unicodedata.category(ch) in _UNWRITABLE for ch in inner)


def message_id_list(value: str | None, *, limit: int) -> tuple[str, ...]:
    """All ids of a References/In-Reply-To value, normalised, de-duplicated, in order."""
    if not value:
        return ()
    tokens = _BRACKETED.findall(_WHITESPACE.sub("", value))
    if not tokens:
        tokens = [t for t in re.split(r"[\s,]+", value) if "@" in t]
    ids: list[str] = []
    for token in tokens:
        normalised = normalise_message_id(token)
        if normalised and normalised not in ids:
            ids.append(normalised)
        if len(ids) >= limit:
            break
    return tuple(ids)


def decode_unstructured(raw: str) -> str:
    """Decode RFC 2047 encoded-words with our charset policy, then clean to one line.

    CR/LF hidden inside an encoded-word become spaces: the result can never split a header.
    """
    return decode_header_text(raw).text


def decode_header_text(raw: str, *, max_chars: int = 998) -> DecodedHeader:
    """``decode_unstructured`` with what had to be repaired (``encoded_words``)."""
    decoded = decode_words(repair_surrogates(raw))
    return dataclasses.replace(decoded, text=clean_line(decoded.text, max_chars=max_chars))


def display_name(raw_from: str, addr_spec: str) -> DecodedHeader | None:
    """The display name of a one-address From header, decoded from the raw value:
    ``phrase <addr>`` (the phrase may be quoted; encoded-words inside quotes, which many
    clients write, are decoded too). None when the header has no ``<addr>`` form, the
    address is not the one parsed, or the name holds no encoded-word (the caller then uses
    the parser's display name)."""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", raw_from)
    start = unfolded.rfind("<")
    if start < 0 or addr_spec.lower() not in unfolded[start:].lower():
        return None
    phrase = unfolded[:start].strip()
    if "=?" not in phrase:
        return None  # no encoded-word: the parser reads quoting and comments right
    if len(phrase) >= 2 and phrase[0] == phrase[-1] == '"':
        phrase = re.sub(r"\\(.)", r"\1", phrase[1:-1])
    return decode_header_text(phrase, max_chars=200)
