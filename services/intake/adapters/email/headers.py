"""Header helpers: Message-ID normalisation and unstructured header decoding.

These work on the *raw* header values (`EmailMessage.raw_items()`), so a malformed
structured header can never break them.
"""

from __future__ import annotations

import re
from email.header import decode_header
from email.message import Message

from .charsets import decode_bytes, repair_surrogates
from .sanitize import clean_line

_WHITESPACE = re.compile(r"\s+")
_BRACKETED = re.compile(r"<([^<>]*)>")
_MAX_ID_CHARS = 500


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
    not be). Returns None for an empty or absurdly long id.
    """
    compact = _WHITESPACE.sub("", value)
    found = _BRACKETED.search(compact)
    inner = found.group(1) if found else compact.strip("<>")
    if not inner or len(inner) > _MAX_ID_CHARS:
        return None
    local, at, domain = inner.rpartition("@")
    if at:
        inner = f"{local}@{domain.lower()}"
    return f"<{inner}>"


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
    raw = repair_surrogates(raw)
    pieces: list[str] = []
    for chunk, charset in decode_header(raw):
        if isinstance(chunk, str):
            pieces.append(chunk)
        elif charset is None:
            # decode_header re-encodes the unencoded parts of a mixed header this way.
            pieces.append(chunk.decode("raw-unicode-escape", "replace"))
        else:
            try:
                pieces.append(decode_bytes(chunk, charset).text)
            except ValueError:
                pieces.append(chunk.decode("utf-8", "replace"))
    return clean_line("".join(pieces))
