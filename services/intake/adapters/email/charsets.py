"""Decoding bytes of a declared (possibly wrong or unknown) charset into text.

Policy, in order:
1. Vietnamese legacy charsets Python has no codec for: VISCII and TCVN 5712 (VN1/VN3,
   "TCVN3") are decoded with the tables in ``vietnamese.py`` — unless the bytes are
   non-ASCII and valid UTF-8, which a legacy Vietnamese text never is by accident (then it
   is a mislabelled UTF-8 message). The note ``charset_legacy:<name>`` tells the caller
   (a case notes it for staff and keeps the raw bytes).
2. VPS, the one legacy Vietnamese charset without a published table here: only a strict
   UTF-8 reading is accepted; anything else raises `CharsetUnsupported`, because
   windows-1258 would read it as plausible-looking garbage.
3. A label Python knows is trusted: strict decoding with it.
4. If that fails, or the label is unknown (e.g. "x-unknown"), or there is no label: UTF-8
   (strict), then windows-1258 (strict; the legacy Vietnamese Windows code page). UTF-8
   goes first because a strict UTF-8 decode almost never succeeds by accident.
5. Nothing fits: `Undecodable`.
A successful fallback is reported in `Decoded.note` so the caller can record it.
"""

from __future__ import annotations

import codecs
import email.charset
from dataclasses import dataclass

from .vietnamese import LEGACY_CHARSETS, decode_legacy

FALLBACKS: tuple[str, ...] = ("utf-8", "cp1258")

#: legacy Vietnamese charsets without a table here
UNSUPPORTED_VIETNAMESE: frozenset[str] = frozenset({"vps", "x-viet-vps"})
#: every legacy Vietnamese label this module recognises
VIETNAMESE_LEGACY: frozenset[str] = frozenset(LEGACY_CHARSETS) | UNSUPPORTED_VIETNAMESE


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


def normalise_label(declared: str | None) -> str | None:
    return (declared or "").strip().strip('"').lower() or None


def decode_bytes(data: bytes, declared: str | None) -> Decoded:
    label = normalise_label(declared)
    if label in VIETNAMESE_LEGACY:
        if not data.isascii():
            try:
                return Decoded(data.decode("utf-8"), f"charset_mislabelled:{label}->utf-8")
            except UnicodeDecodeError:
                pass
        legacy = decode_legacy(data, label)
        if legacy is not None:
            text, name = legacy
            return Decoded(text, f"charset_legacy:{name}" if not data.isascii() else None)
        if data.isascii():
            return Decoded(data.decode("ascii"))
        raise CharsetUnsupported(f"charset {label!r} has no decoder")
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
