"""Vietnamese legacy 8-bit charsets Python has no codec for: VISCII and TCVN 5712 (VN1,
and its subsets VN2 and VN3 — "TCVN3", the ABC fonts' encoding).

Both tables are written here as the standards lay them out, one line per row of the
code table, each letter in VIQR mnemonics (RFC 1456 section 4: a base letter,
then ``(`` breve, ``^`` circumflex, ``+`` horn, then the tone ``'`` acute, `````` grave,
``?`` hook above, ``~`` tilde, ``.`` dot below; ``DD``/``dd`` is Đ/đ). Each mnemonic is
turned into its Unicode letter by NFC composition, so a row reads like the standard.

Sources:
- VISCII: RFC 1456, "Conventions for Encoding the Vietnamese Language — VISCII" (Viet-Std
  group, May 1993), Table 1 "VISCII 8-bit Encoding Table (v1.1)": the upper half 0x80–0xFF
  and the six C0 positions it takes for capitals (0x02, 0x05, 0x06, 0x14, 0x19, 0x1E).
- TCVN: TCVN 5712:1993 "Công nghệ thông tin — Bộ mã chuẩn 8-bit kí tự Việt dùng trong trao
  đổi thông tin" (Bộ KHCN&MT, QĐ 213/QĐ, 12/05/1993), code table VN1: the capitals it places
  in C0 (0x01–0x17) and 0x80–0x9F, and the 0xA0–0xFF half shared with VN2/VN3, where 0xB0–
  0xB4 are the five combining tone marks. VN3 text uses only the positions VN3 keeps, so
  decoding with VN1 reads it correctly.
Provenance, plainly: the VISCII rows were transcribed from RFC 1456's Table 1 (two rows,
xC and xD, were unreadable in the copy at hand and were filled in from GNU libiconv's
VISCII table, whose stated specification is RFC 1456). The TCVN 5712:1993 text itself was
not at hand: its VN1 rows follow GNU libiconv's and glibc's TCVN5712-1 converters. Both
tables were then checked byte for byte, all 256 positions, against glibc's iconv (VISCII,
TCVN5712-1). ``tests/unit/intake_email/test_vietnamese_charsets.py`` checks the structure
(each of the 134 Vietnamese letters exactly once) and round trips.
"""

from __future__ import annotations

import codecs
import unicodedata
from typing import Final

_MODIFIERS: Final = {"(": "\u0306", "^": "\u0302", "+": "\u031b"}
_TONES: Final = {"'": "\u0301", "`": "\u0300", "?": "\u0309", "~": "\u0303", ".": "\u0323"}
#: TCVN 0xB0–0xB4 stand alone as combining marks; written here as "`" "?" "~" "'" "."
_COMBINING: Final = {"`": "\u0300", "?": "\u0309", "~": "\u0303", "'": "\u0301", ".": "\u0323"}


def viqr(mnemonic: str) -> str:
    """One VIQR mnemonic ("A('", "o+~", "DD", "nbsp", or a lone tone mark) as one
    precomposed Unicode character."""
    if mnemonic == "nbsp":
        return "\u00a0"
    if mnemonic in _COMBINING:
        return _COMBINING[mnemonic]
    if mnemonic in ("DD", "dd"):
        return "Đ" if mnemonic == "DD" else "đ"
    base, marks = mnemonic[0], mnemonic[1:]
    text = base + "".join(_MODIFIERS.get(m) or _TONES[m] for m in marks)
    composed = unicodedata.normalize("NFC", text)
    if len(composed) != 1:
        raise ValueError(f"not one Vietnamese letter: {mnemonic!r} -> {composed!r}")
    return composed


def _table(c0: dict[int, str], rows: dict[int, str], columns: tuple[int, ...]) -> str:
    """A 256-character decoding table: ASCII, the C0 replacements, then the standard's
    rows (row ``x`` lists the characters at ``column*16 + x`` for each column)."""
    table = [chr(i) for i in range(128)] + ["\ufffe"] * 128
    for position, mnemonic in c0.items():
        table[position] = viqr(mnemonic)
    for row, line in rows.items():
        cells = line.split()
        if len(cells) != len(columns):
            raise ValueError(f"row {row:X}: {len(cells)} cells for {len(columns)} columns")
        for column, mnemonic in zip(columns, cells, strict=True):
            table[column * 16 + row] = viqr(mnemonic)
    return "".join(table)


# ---- VISCII (RFC 1456, Table 1, columns 8x–Fx) ----------------------------------------
_VISCII_C0: Final = {0x02: "A(?", 0x05: "A(~", 0x06: "A^~", 0x14: "Y?", 0x19: "Y~",
                     0x1E: "Y."}
_VISCII_ROWS: Final = {
    #      8x    9x    Ax    Bx    Cx    Dx    Ex    Fx
    0x0: "A.    O^`   O~    o^`   A`    DD    a`    dd",
    0x1: "A('   O^?   a('   o^?   A'    u+'   a'    u+.",
    0x2: "A(`   O^~   a(`   o^~   A^    O`    a^    o`",
    0x3: "A(.   O^.   a(.   O+~   A~    O'    a~    o'",
    0x4: "A^'   O+.   a^'   O+    A?    O^    a?    o^",
    0x5: "A^`   O+'   a^`   o^.   A(    a.    a(    o~",
    0x6: "A^?   O+`   a^?   o+`   a(?   y?    u+~   o?",
    0x7: "A^.   O+?   a^.   o+?   a(~   u+`   a^~   o.",
    0x8: "E~    I.    e~    i.    E`    u+?   e`    u.",
    0x9: "E.    O?    e.    U+.   E'    U`    e'    u`",
    0xA: "E^'   O.    e^'   U+'   E^    U'    e^    u'",
    0xB: "E^`   I?    e^`   U+`   E?    y~    e?    u~",
    0xC: "E^?   U?    e^?   U+?   I`    y.    i`    u?",
    0xD: "E^~   U~    e^~   o+    I'    Y'    i'    y'",
    0xE: "E^.   U.    e^.   o+'   I~    o+~   i~    o+.",
    0xF: "O^'   Y`    o^'   U+    y`    u+    i?    U+~",
}
VISCII_TABLE: Final = _table(_VISCII_C0, _VISCII_ROWS, tuple(range(8, 16)))

# ---- TCVN 5712:1993 VN1 (C0 capitals; columns 8x–Fx) -----------------------------------
_TCVN_C0: Final = {0x01: "U'", 0x02: "U.", 0x04: "U+`", 0x05: "U+?", 0x06: "U+~",
                   0x11: "U+'", 0x12: "U+.", 0x13: "Y`", 0x14: "Y?", 0x15: "Y~", 0x16: "Y'",
                   0x17: "Y."}
_TCVN_ROWS: Final = {
    #      8x    9x    Ax    Bx    Cx    Dx    Ex    Fx
    0x0: "A`    I'    nbsp  `     A('   e'    O^?   O^~",
    0x1: "A?    I.    A(    ?     A^`   e.    o?    u?",
    0x2: "A~    O`    A^    ~     A^?   e^`   o~    u~",
    0x3: "A'    O?    E^    '     A^~   e^?   o'    u'",
    0x4: "A.    O~    O^    .     A^'   e^~   o.    u.",
    0x5: "A(.   O'    O+    a`    E^`   e^'   o^`   u+`",
    0x6: "A^.   O.    U+    a?    a(.   e^.   o^?   u+?",
    0x7: "E`    O^.   DD    a~    a^`   i`    o^~   u+~",
    0x8: "E?    O+`   a(    a'    a^?   i?    o^'   u+'",
    0x9: "E~    O+?   a^    a.    a^~   E^~   o^.   u+.",
    0xA: "E'    O+~   e^    A(?   a^'   E^'   o+`   y`",
    0xB: "E.    O+'   o^    a(`   a^.   O^`   o+?   y?",
    0xC: "E^.   O+.   o+    a(?   e`    i~    o+~   y~",
    0xD: "I`    U`    u+    a(~   E^?   i'    o+'   y'",
    0xE: "I?    U?    dd    a('   e?    i.    o+.   y.",
    0xF: "I~    U~    A(`   A(~   e~    o`    u`    O^'",
}
TCVN_TABLE: Final = _table(_TCVN_C0, _TCVN_ROWS, tuple(range(8, 16)))

#: charset labels (lower case) -> (name, table)
LEGACY_CHARSETS: Final[dict[str, tuple[str, str]]] = {
    **dict.fromkeys(("viscii", "x-viscii", "csviscii", "viscii1.1-1", "viscii-1.1"),
                    ("viscii", VISCII_TABLE)),
    **dict.fromkeys(("tcvn", "tcvn3", "tcvn-3", "vn3", "vscii", "tcvn-5712", "tcvn5712",
                     "tcvn5712-1", "tcvn5712-1:1993", "tcvn-5712:1993", "x-viet-tcvn",
                     "x-viet-tcvn5712", "x-viet-tcvn3"), ("tcvn", TCVN_TABLE)),
}


def decode_legacy(data: bytes, label: str) -> tuple[str, str] | None:
    """``data`` in the legacy charset ``label`` names, as NFC text, with the charset's
    name; None if the label is not one of these. Bytes the standard leaves undefined
    (0x80–0xFF positions it does not use) come out as U+FFFD."""
    found = LEGACY_CHARSETS.get(label)
    if found is None:
        return None
    name, table = found
    text, _ = codecs.charmap_decode(data, "replace", table)
    return unicodedata.normalize("NFC", text.replace("\ufffe", "\ufffd")), name
