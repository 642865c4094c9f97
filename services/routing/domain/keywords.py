"""Find Vietnamese keywords in free text, with or without diacritics.

Customers often type without accents ("khong len nguon"), so a keyword must also match its
unaccented form. But stripping accents everywhere confuses words ("lỗi" fault, "lợi"
benefit, "lời" words all become "loi"); so an accent-free match only counts where the
customer's own text carries no accents.
"""

from __future__ import annotations

import re
import unicodedata


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


def find_keyword(keyword: str, text: str) -> bool:
    """True if ``keyword`` occurs in ``text`` as whole words, either with the same accents
    or in a stretch of text typed without any accents. A keyword written without accents
    matches whatever the accents."""
    text = normalise(text)
    keyword = normalise(keyword)
    if not keyword:
        return False
    folded_keyword = strip_accents(keyword)
    pattern = re.compile(rf"(?<!\w){re.escape(folded_keyword)}(?!\w)")
    for match in pattern.finditer(strip_accents(text)):
        original = text[match.start():match.end()]
        if keyword == folded_keyword or original in (keyword, match.group()):
            return True
    return False
