"""RFC 2047 encoded-words: joined, repaired, marked (adapters/email/encoded_words.py)."""

from __future__ import annotations

import base64

import pytest

from hotro.services.intake.adapters.email.encoded_words import MARKER, decode_words
from hotro.services.intake.adapters.email.headers import display_name


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def test_a_character_split_across_words_is_joined() -> None:
    name = "Nguyễn Văn An".encode()
    cut = name.index("ễ".encode()) + 1
    for value in (f"=?UTF-8?B?{b64(name[:cut])}?= =?UTF-8?B?{b64(name[cut:])}?=",
                  "=?UTF-8?Q?Nguy=E1=BB?=\r\n =?utf-8?q?=85n_V=C4=83n_An?="):
        decoded = decode_words(value)
        assert decoded.text == "Nguyễn Văn An"
        assert decoded.repairs == ()


def test_space_between_words_goes_text_between_them_stays() -> None:
    assert decode_words("=?utf-8?q?a?= =?utf-8?q?b?=").text == "ab"
    assert decode_words("X =?utf-8?q?a?= y =?utf-8?q?b?= Z").text == "X a y b Z"
    assert decode_words("=?utf-8?q?x?= =?iso-8859-1?q?=E9?=").text == "xé"


@pytest.mark.parametrize(
    ("payload", "text", "repair"),
    [
        (b64("Khiếu nại")[:-2].rstrip("="), "Khiếu nại", "base64_padding"),
        (b64("Khiếu nại")[:6] + "!!" + b64("Khiếu nại")[6:], "Khiếu nại", "base64_stray"),
        (b64("Khiếu nại về đơn")[:9], "Khiế" + MARKER, "base64_cut"),  # 4×2 + 1 letters
        (b64("Khiếu nại về đơn")[:6] + "#%" + b64("Khiếu nại về đơn")[8:], "Khi" + MARKER,
         "base64_cut"),  # junk replaced letters: the clean prefix, then the marker
    ],
)
def test_broken_base64_is_repaired_or_marked(payload: str, text: str, repair: str) -> None:
    decoded = decode_words(f"=?utf-8?b?{payload}?=")
    assert decoded.text == text
    assert [r.kind for r in decoded.repairs][:1] == [repair]


def test_broken_quoted_printable_keeps_what_was_written() -> None:
    decoded = decode_words("=?utf-8?q?gi=E1=BA=A3m_gi=ZZ?=")
    assert decoded.text == "giảm gi=ZZ"
    assert [r.kind for r in decoded.repairs] == ["qp_escape"]


def test_undecodable_bytes_are_marked() -> None:
    """Neither UTF-8 nor windows-1258 (0x81, 0x8A, 0x8D are undefined in both)."""
    decoded = decode_words(f"=?utf-8?b?{b64(b'ok ' + bytes([0x81, 0x8A, 0x8D]) + b' end')}?=")
    assert decoded.text == "ok [?] end"
    assert [r.kind for r in decoded.repairs] == ["charset_replaced"]


def test_legacy_charsets_in_words_are_reported() -> None:
    decoded = decode_words("=?VISCII?Q?=F0=F4n_h=E0ng?=")
    assert decoded.text == "đôn hàng"
    assert decoded.legacy_charsets == ("viscii",)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ('"Tr\\"an" <a@example.vn>', None),  # no encoded-word: the parser's reading
        ('"=?utf-8?q?Tr=E1=BA=A7n?= \\"B\\"" <a@example.vn>', 'Trần "B"'),
        ('"=?utf-8?q?L=C3=AA?=" <a@example.vn>', "Lê"),
        ("=?utf-8?q?L=C3=AA?= <a@example.vn>", "Lê"),
        ("a@example.vn (Lê)", None),
    ],
)
def test_display_name_from_the_raw_header(raw: str, name: str | None) -> None:
    found = display_name(raw, "a@example.vn")
    assert (found.text if found is not None else None) == name
