"""Text for a terminal: cut on characters a reader sees, never inside one.

Vietnamese letters often carry two marks (``ệ`` = e + circumflex + dot below). Typed or
pasted text may hold them *decomposed* (NFD: a base letter and combining marks, common in
mail from macOS); cutting such text at a fixed number of code points can drop the marks
of the last letter, and a fixed number of bytes can split a letter's UTF-8 encoding. So:

* text is normalised to NFC first (one code point per letter wherever Unicode has one);
* it is cut between grapheme clusters (a base character with every combining mark,
  variation selector and zero-width joiner that belongs to it — close to Unicode's
  extended grapheme clusters, UAX #29, for the text this system shows);
* widths are display columns: combining marks take none, East Asian wide and full-width
  characters two;
* a cut text ends with ``…`` and never exceeds the width asked for;
* control characters (a terminal's escape sequences in a customer's mail) and bidi
  overrides are shown as visible stand-ins, never sent to the terminal as they are.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

ELLIPSIS = "…"
_ZWJ = "\u200d"
#: bidi embeddings, overrides and isolates: they reorder what follows on the screen
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _extends(ch: str) -> bool:
    """Does ``ch`` belong to the cluster before it?"""
    if ch == _ZWJ or unicodedata.combining(ch):
        return True
    code = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or 0xFE00 <= code <= 0xFE0F          # variation selectors
            or 0xE0100 <= code <= 0xE01EF
            or 0x1F3FB <= code <= 0x1F3FF        # emoji skin tones
            or 0xE0020 <= code <= 0xE007F)       # emoji tag sequences


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def graphemes(text: str) -> Iterator[str]:
    """The user-perceived characters of ``text``, in order."""
    cluster = ""
    for ch in text:
        if cluster and (
                _extends(ch)
                or cluster.endswith(_ZWJ)                     # emoji ZWJ sequences
                or (cluster == "\r" and ch == "\n")
                or (_regional(ch) and len(cluster) == 1 and _regional(cluster))):  # flags
            cluster += ch
            continue
        if cluster:
            yield cluster
        cluster = ch
    if cluster:
        yield cluster


def _char_width(ch: str) -> int:
    if ch == _ZWJ or unicodedata.combining(ch):
        return 0
    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Cf", "Cc"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cluster_width(cluster: str) -> int:
    base = _char_width(cluster[0])
    if "\ufe0f" in cluster and base:  # emoji presentation
        return 2
    return base


def width(text: str) -> int:
    """Display columns of ``text`` (as NFC)."""
    return sum(cluster_width(g) for g in graphemes(unicodedata.normalize("NFC", text)))


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (control pictures)
    if code == 0x7F:
        return "\u2421"            # ␡
    if 0x80 <= code < 0xA0 or ch in _BIDI:
        return "\ufffd"
    return ch


def clean(text: str) -> str:
    """NFC, with control characters and bidi overrides made visible and harmless."""
    text = unicodedata.normalize("NFC", text)
    if all(" " <= ch < "\x7f" or (ch >= "\xa0" and ch not in _BIDI) for ch in text):
        return text
    return "".join(_visible(ch) for ch in text)


def truncate(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` in at most ``limit`` columns: whole as it is if it fits, else cut
    between two letters (never inside one) and ended with ``ellipsis``."""
    text = clean(text)
    if limit <= 0:
        return ""
    clusters = list(graphemes(text))
    if sum(cluster_width(g) for g in clusters) <= limit:
        return text
    budget = limit - width(ellipsis)
    if budget < 0:
        return ""
    kept: list[str] = []
    used = 0
    for g in clusters:
        w = cluster_width(g)
        if used + w > budget:
            break
        kept.append(g)
        used += w
    return "".join(kept).rstrip() + ellipsis


def pad(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` and filled with spaces to exactly that width."""
    cut = truncate(text, columns)
    return cut + " " * max(0, columns - width(cut))


__all__ = ["ELLIPSIS", "clean", "cluster_width", "graphemes", "pad", "truncate", "width"]
