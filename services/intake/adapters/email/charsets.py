"""Decoding bytes of a declared (possibly wrong or unknown) charset into text.

Policy, in order:
1. A label Python knows is trusted: strict decoding with it.
2. If that fails, or the label is unknown (e.g. "x-unknown"), or there is no label: UTF-8
   (strict), then windows-1258 (strict; the legacy Vietnamese Windows code page). UTF-8
   goes first because a strict UTF-8 decode almost never succeeds by accident.
3. Vietnamese legacy charsets Python has no codec for (VISCII, VPS, TCVN3): only a strict
   UTF-8 reading is accepted (plain ASCII, or a mislabelled UTF-8 message); anything else
   raises `CharsetUnsupported`, because windows-1258 would read them as plausible-looking
   garbage.
4. Nothing fits: `Undecodable`.
A successful fallback is reported in `Decoded.note` so the caller can record it.
"""

from __future__ import annotations

import codecs
import email.charset
from dataclasses import dataclass

FALLBACKS: tuple[str, ...] = ("utf-8", "cp1258")

UNSUPPORTED_VIETNAMESE: frozenset[str] = frozenset(
    {
        "viscii",
        "x-viscii",
        "csviscii",
        "viscii1.1-1",
        "vps",
        "x-viet-vps",
        "tcvn",
        "tcvn3",
        "tcvn-5712",
        "tcvn5712-1",
        "x-viet-tcvn5712",
    }
)


class CharsetUnsupported(ValueError):
    pass


class Undecodable(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    note: str | None = None


def _codec_for(label: str) -> str | None:
    name = email.charset.ALIASES.get(label, label)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_bytes(data: bytes, declared: str | None) -> Decoded:
    label = (declared or "").strip().strip('"').lower() or None
    if label in UNSUPPORTED_VIETNAMESE:
        try:
            return Decoded(data.decode("utf-8"), f"charset_mislabelled:{label}->utf-8")
        except UnicodeDecodeError:
            raise CharsetUnsupported(f"charset {label!r} has no decoder") from None
    codec = _codec_for(label) if label else None
    if codec is not None:
        try:
            return Decoded(data.decode(codec))
        except UnicodeDecodeError:
            pass
    for fallback in FALLBACKS:
        try:
            text = data.decode(fallback)
        except UnicodeDecodeError:
            continue
        note = None if label is None and data.isascii() else f"charset_guessed:{label}->{fallback}"
        return Decoded(text, note)
    raise Undecodable(f"bytes are neither {label or 'unlabelled'} nor any of {FALLBACKS}")


def repair_surrogates(value: str) -> str:
    """Re-decode bytes that the email package smuggled through as lone surrogates.

    Raw 8-bit header bytes and encoded-words of unknown charsets come back from the
    parser as surrogate escapes; run them through the same fallback chain, else use U+FFFD.
    """
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return decode_bytes(raw, None).text
    except ValueError:
        return raw.decode("utf-8", "replace")
