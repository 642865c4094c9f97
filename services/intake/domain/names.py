"""A customer's name as search tokens: Vietnamese written with or without diacritics, in
any case and spacing, gives the same tokens ("Nguyễn Thị Thuỷ", "nguyen thi thuy",
"NGUYEN  Thi-Thuy" → nguyen, thi, thuy). Intake stores only keyed hashes of them."""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[^0-9a-z]+")
#: more tokens than this in one name is not a name: the rest is not indexed
MAX_TOKENS = 12


def name_tokens(name: str) -> list[str]:
    """The distinct tokens of ``name`` in order, without diacritics, lower case."""
    # đ/Đ is a letter of its own, not d + a combining mark: NFD leaves it as is.
    text = name.replace("đ", "d").replace("Đ", "D")
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
    tokens: list[str] = []
    for token in _SEPARATORS.split(stripped.lower()):
        if token and token not in tokens:
            tokens.append(token)
    return tokens[:MAX_TOKENS]
