"""Find Vietnamese keywords in free text, with or without diacritics.

Customers often type without accents ("khong len nguon"), so a keyword must also match its
unaccented form. But stripping accents everywhere confuses words ("lỗi" fault, "lợi"
benefit, "lời" words all become "loi"); so an accent-free match only counts where the
customer's own text carries no accents.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """Lower-case and strip diacritics of one character, keeping it one character long
    (so positions in the folded text are positions in the original)."""
    lower = char.lower()
    if len(lower) != 1:
        return char
    if lower == "đ":
        return "d"
    return unicodedata.normalize("NFD", lower)[0]


def normalise(text: str) -> str:
    """NFC, lower case, whitespace runs collapsed to one space."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def strip_accents(text: str) -> str:
    return "".join(_fold_char(char) for char in text)


@lru_cache(maxsize=1024)
def _keyword(keyword: str) -> tuple[str, str, re.Pattern[str]] | None:
    """A keyword normalised, folded and compiled once (rules are data loaded at start)."""
    normalised = normalise(keyword)
    if not normalised:
        return None
    folded = strip_accents(normalised)
    return normalised, folded, re.compile(rf"(?<!\w){re.escape(folded)}(?!\w)")


class SearchText:
    """A customer's text made ready once for any number of keyword look-ups (triage tries
    every rule's keywords on the same text)."""

    def __init__(self, text: str) -> None:
        self.text = normalise(text)
        self.folded = strip_accents(self.text)

    def has(self, keyword: str) -> bool:
        """True if ``keyword`` occurs as whole words, either with the same accents or in a
        stretch of text typed without any accents. A keyword written without accents
        matches whatever the accents."""
        prepared = _keyword(keyword)
        if prepared is None:
            return False
        normalised, folded, pattern = prepared
        for match in pattern.finditer(self.folded):
            original = self.text[match.start():match.end()]
            if normalised == folded or original in (normalised, match.group()):
                return True
        return False
