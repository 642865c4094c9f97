"""RFC 2047 encoded-words, decoded leniently and joined the way the RFC allows.

* Adjacent encoded-words (only linear white space between them) are one run: the space is
  dropped (RFC 2047 section 6.2). Consecutive words of the same charset have their *bytes*
  joined before the charset decodes them, so a UTF-8 character split across two words
  ("Nguy=E1=BB?= =?UTF-8?Q?=85n") comes out whole. (The standard library's address
  parser decodes each word on its own and turns the halves into mojibake.)
* A broken word is repaired where its content allows and marked where it does not:
  base64 with missing padding is padded; base64 with stray characters is read without
  them if the result then decodes in its charset, else the part before the first stray
  character is kept and the rest becomes ``[?]``; quoted-printable with a broken ``=XX``
  escape keeps the characters as written; bytes the charset cannot decode become U+FFFD.
  Every repair is reported (``Repair``) so staff see that the text was mended and can read
  the raw message.
* Charsets follow ``charsets.decode_bytes`` (Vietnamese legacy charsets included).
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass

from .charsets import decode_bytes

MARKER = "[?]"

_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BASE64 = re.compile(r"[A-Za-z0-9+/]")
_QP_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class Repair:
    """What was mended in a header: ``kind`` is ``base64_padding``, ``base64_stray``
    (stray characters dropped, the rest decoded), ``base64_cut`` (undecodable tail marked
    ``[?]``), ``qp_escape`` (a broken ``=XX`` kept as written) or ``charset_replaced``
    (bytes the charset could not decode became U+FFFD); ``word`` is the encoded-word as
    received (cut to 80 characters)."""

    kind: str
    word: str


@dataclass(frozen=True, slots=True)
class DecodedHeader:
    text: str
    repairs: tuple[Repair, ...] = ()
    #: legacy charsets decoded by our own tables (e.g. "viscii")
    legacy_charsets: tuple[str, ...] = ()


@dataclass(slots=True)
class _Run:
    charset: str
    data: bytearray
    words: list[str]
    marker_after: bool = False
    damaged: bool = False


def decode_words(value: str) -> DecodedHeader:
    """``value`` with every encoded-word decoded (text between words kept as is)."""
    pieces: list[str] = []
    repairs: list[Repair] = []
    legacy: list[str] = []
    runs: list[_Run] = []
    position = 0

    def flush() -> None:
        for run in runs:
            pieces.append(_decode_run(run, repairs, legacy))
        runs.clear()

    for found in _WORD.finditer(value):
        between = value[position:found.start()]
        if not (runs and between.strip() == ""):
            flush()
            pieces.append(between)
        position = found.end()
        charset = found.group(1).split("*", 1)[0].lower()  # RFC 2231 language tag
        raw_word = found.group(0)
        data, cut, repair = _word_bytes(found.group(2).lower(), found.group(3), charset)
        if repair is not None:
            repairs.append(Repair(repair, raw_word[:80]))
        if runs and runs[-1].charset == charset and not runs[-1].marker_after:
            runs[-1].data.extend(data)
            runs[-1].words.append(raw_word)
        else:
            runs.append(_Run(charset, bytearray(data), [raw_word]))
        runs[-1].marker_after = cut
        runs[-1].damaged = runs[-1].damaged or repair is not None
    flush()
    pieces.append(value[position:])
    return DecodedHeader("".join(pieces), tuple(repairs), tuple(dict.fromkeys(legacy)))


def _decode_run(run: _Run, repairs: list[Repair], legacy: list[str]) -> str:
    data = bytes(run.data)
    text: str | None = None
    if run.damaged and run.charset in ("utf-8", "utf8"):
        # A mended word may end in half a character: keep what is whole, mark the rest
        # (a fallback to windows-1258 would turn the whole run into mojibake).
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _marked(data.decode("utf-8", "replace"))
            repairs.append(Repair("charset_replaced", " ".join(run.words)[:80]))
    if text is None:
        try:
            decoded = decode_bytes(data, run.charset)
            text = decoded.text
            if decoded.note and decoded.note.startswith("charset_legacy:"):
                legacy.append(decoded.note.split(":", 1)[1])
        except ValueError:
            text = _marked(_decode_replacing(data, run.charset))
            repairs.append(Repair("charset_replaced", " ".join(run.words)[:80]))
    if run.marker_after and not text.endswith(MARKER):
        text += MARKER
    return text


def _marked(text: str) -> str:
    """Runs of U+FFFD (bytes that did not decode) as one marker."""
    return re.sub("\ufffd+", MARKER, text)


def _decode_replacing(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _word_bytes(encoding: str, payload: str, charset: str
                ) -> tuple[bytes, bool, str | None]:
    """The word's bytes, whether its tail was cut (a marker follows), and the repair."""
    if encoding == "q":
        return _q_bytes(payload)
    return _b_bytes(payload, charset)


def _q_bytes(payload: str) -> tuple[bytes, bool, str | None]:
    # 8-bit bytes inside a word reach us as surrogate escapes: give them back as bytes
    raw = payload.replace("_", " ").encode("utf-8", "surrogateescape")
    broken = raw.count(b"=") != len(_QP_ESCAPE.findall(raw))
    data = _QP_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return data, False, "qp_escape" if broken else None


def _b_bytes(payload: str, charset: str) -> tuple[bytes, bool, str | None]:
    compact = "".join(payload.split())
    body = compact.rstrip("=")
    if all(_BASE64.fullmatch(c) for c in body):
        data, trimmed = _b64(body)
        if trimmed:  # cut one letter into a byte: the word was truncated
            return data, True, "base64_cut"
        return data, False, "base64_padding" if len(compact) % 4 else None
    # Stray characters: inserted noise if the word read without them is still valid UTF-8
    # (only UTF-8 can tell: a single-byte charset decodes anything); else keep the clean
    # prefix and mark the rest.
    cleaned = "".join(c for c in body if _BASE64.fullmatch(c))
    data, _ = _b64(cleaned)
    if charset in ("utf-8", "utf8") and _plausible_utf8(data):
        return data, False, "base64_stray"
    prefix = re.match(r"[A-Za-z0-9+/]*", body)
    kept = prefix.group(0) if prefix else ""
    kept = kept[: len(kept) // 4 * 4]
    data, _ = _b64(kept)
    return data, True, "base64_cut"


def _plausible_utf8(data: bytes) -> bool:
    """Valid UTF-8 apart from a character split at either end (continued in the
    neighbouring word)."""
    start = 0
    while start < min(3, len(data)) and 0x80 <= data[start] <= 0xBF:
        start += 1
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data[start:], final=False)
    except UnicodeDecodeError:
        return False
    return True


def _b64(chars: str) -> tuple[bytes, bool]:
    """Decode base64 letters (no padding); a dangling single letter is dropped."""
    trimmed = len(chars) % 4 == 1
    if trimmed:
        chars = chars[:-1]
    chars += "=" * (-len(chars) % 4)
    try:
        return binascii.a2b_base64(chars), trimmed
    except binascii.Error:
        return b"", True
