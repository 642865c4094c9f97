"""The VISCII and TCVN 5712 tables written from the standards (adapters/email/vietnamese.py)."""

from __future__ import annotations

import unicodedata

import pytest

from hotro.services.intake.adapters.email.charsets import decode_bytes
from hotro.services.intake.adapters.email.vietnamese import (
    TCVN_TABLE,
    VISCII_TABLE,
    decode_legacy,
    viqr,
)

from .builders import legacy_bytes

_VOWELS = "aăâeêioôơuưy"
_TONES = "\u0300\u0301\u0303\u0309\u0323"


def vietnamese_letters() -> set[str]:
    """The 134 letters Vietnamese adds to ASCII: 12 vowels × (bare + 5 tones) minus the
    bare ASCII a e i o u y, plus đ — lower and upper case."""
    lower = {unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in ["", *_TONES]}
    lower = {c for c in lower if not c.isascii()} | {"đ"}
    return lower | {c.upper() for c in lower}


def test_there_are_134_letters() -> None:
    assert len(vietnamese_letters()) == 134


@pytest.mark.parametrize("table", [VISCII_TABLE, TCVN_TABLE], ids=["viscii", "tcvn"])
def test_every_vietnamese_letter_once(table: str) -> None:
    letters = [c for c in table if c in vietnamese_letters()]
    assert sorted(letters) == sorted(set(letters))  # none twice
    assert set(letters) == vietnamese_letters()
    assert all(table[i] == chr(i) for i in range(0x20, 0x7F))  # printable ASCII unchanged


def test_viscii_keeps_ascii_but_six_controls() -> None:
    changed = [i for i in range(0x80) if VISCII_TABLE[i] != chr(i)]
    assert changed == [0x02, 0x05, 0x06, 0x14, 0x19, 0x1E]  # RFC 1456 section 4
    assert VISCII_TABLE[0x80] == "Ạ" and VISCII_TABLE[0xFF] == "Ữ"
    assert VISCII_TABLE[0xD0] == "Đ" and VISCII_TABLE[0xF0] == "đ"


def test_tcvn_combining_marks_compose() -> None:
    assert [TCVN_TABLE[i] for i in range(0xB0, 0xB5)] == [
        "\u0300", "\u0309", "\u0303", "\u0301", "\u0323"]
    # "Ế" written as Ê (0xA3) + combining acute (0xB3), as VN3 fonts' users wrote capitals
    assert decode_legacy(b"\xa3\xb3", "tcvn3") == ("Ế", "tcvn")


@pytest.mark.parametrize("label", ["VISCII", "tcvn3", "TCVN5712-1", "x-viet-tcvn5712"])
def test_a_sentence_round_trips(label: str) -> None:
    text = "Đề nghị bảo hành điều hòa Panasonic, lỗi rò rỉ nước ở dàn lạnh; xin cảm ơn!"
    table = VISCII_TABLE if label == "VISCII" else TCVN_TABLE
    data = legacy_bytes(text, table)
    assert not data.isascii()
    decoded = decode_bytes(data, label)
    assert decoded.text == text
    assert decoded.note is not None and decoded.note.startswith("charset_legacy:")


def test_viqr_mnemonics() -> None:
    assert [viqr(m) for m in ("a('", "O+~", "u+.", "DD", "E^?", "y~")] == [
        "ắ", "Ỡ", "ự", "Đ", "Ể", "ỹ"]
    with pytest.raises(ValueError):
        viqr("q^")
