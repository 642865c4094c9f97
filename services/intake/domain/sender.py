"""Sender trust for inbound email: domains that deserve a human's second look.

Addresses are compared exactly as received: a punycode domain (``xn--…``) stays in that
form for matching and is never decoded to Unicode, so ``xn--vhv-…`` can never equal a
customer's ``vhv…`` domain. Decoding happens only here, to flag what looks like another
domain (a lookalike), never to match.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

PUNYCODE = "punycode_domain"
NON_ASCII = "non_ascii_domain"
LOOKALIKE = "lookalike_domain"
SENDER_MISMATCH = "sender_mismatch"

# Letters and digits people mistake for others (Latin, Cyrillic, Greek), by their
# lower-case skeleton letter (after NFKD and dropping combining marks).
_CONFUSABLE = str.maketrans({
    "0": "o", "1": "l", "3": "e", "5": "s", "i": "l", "|": "l",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s",
    "і": "l", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ν": "v", "ο": "o",
    "α": "a", "ι": "l", "κ": "k", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ɡ": "g",
    "ı": "l", "ł": "l", "đ": "d",
})


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(".").lower()


def domain_flags(domains: Iterable[str], *, compare_with: Iterable[str]) -> list[str]:
    """Flags for sender domains: ``punycode_domain`` (an ``xn--`` label),
    ``non_ascii_domain`` (Unicode as received) and ``lookalike_domain`` (not one of
    ``compare_with`` — our own domains, the claimed case's — but looks like one)."""
    flags: set[str] = set()
    known = {d.lower().rstrip(".") for d in compare_with if d}
    for domain in {d for d in domains if d}:
        labels = domain.split(".")
        if any(label.startswith("xn--") for label in labels):
            flags.add(PUNYCODE)
        if not domain.isascii():
            flags.add(NON_ASCII)
        if domain not in known and any(looks_like(domain, k) for k in known):
            flags.add(LOOKALIKE)
    return sorted(flags)


def looks_like(domain: str, other: str) -> bool:
    """``domain`` is not ``other`` but reads like it: the same skeleton, or one edit away
    from it (for domains long enough that one edit is not a different ordinary name)."""
    if domain == other:
        return False
    a, b = skeleton(domain), skeleton(other)
    if a == b:
        return True
    return min(len(a), len(b)) >= 6 and _within_one_edit(a, b)


def skeleton(domain: str) -> str:
    """The domain reduced to what a reader sees: punycode labels decoded (here only),
    compatibility forms folded, marks dropped, confusable characters merged."""
    decoded = ".".join(_decode_label(label) for label in domain.lower().split("."))
    folded = unicodedata.normalize("NFKD", decoded)
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    plain = plain.replace("rn", "m").replace("vv", "w").replace("cl", "d")
    return plain.translate(_CONFUSABLE).replace("-", "")


def _decode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return label


def _within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance ≤ 1, or one swap of neighbours."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))
