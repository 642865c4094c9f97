"""Text output cuts between letters, never inside one: Vietnamese marks stay on their
letter whether the text came composed (NFC) or decomposed (NFD, as macOS mail sends it)."""

from __future__ import annotations

import unicodedata

import pytest

from hotro.cli_text import ELLIPSIS, clean, graphemes, pad, truncate, width

NAME = "Nguyễn Thị Ánh Tuyết"
DESCRIPTION = ("Tủ lạnh mới mua không lạnh, kêu rất to vào ban đêm; đã gọi tổng đài "
               "hai lần nhưng chưa được hỗ trợ. Đề nghị đổi máy mới.")


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def letters_of(text: str) -> list[str]:
    """What a reader sees as letters, from the composed form."""
    return list(graphemes(unicodedata.normalize("NFC", text)))


@pytest.mark.parametrize("source", [DESCRIPTION, nfd(DESCRIPTION)], ids=["nfc", "nfd"])
def test_every_cut_keeps_whole_letters_and_fits(source: str) -> None:
    whole = letters_of(source)
    for limit in range(1, width(source) + 3):
        cut = truncate(source, limit)
        assert width(cut) <= limit, (limit, cut)
        cut.encode("utf-8")  # a str never holds half a character; and it encodes
        assert unicodedata.is_normalized("NFC", cut)
        if width(source) <= limit:
            assert cut == unicodedata.normalize("NFC", source)
            continue
        assert cut.endswith(ELLIPSIS)
        kept = list(graphemes(cut[:-1]))
        # the kept letters are the source's first letters, each with all its marks
        assert kept == whole[:len(kept)], (limit, cut)


def test_a_decomposed_letter_is_never_split_from_its_marks() -> None:
    word = nfd("Nguyễn")  # e + circumflex + tilde: three code points, one letter
    assert len(word) == 8 and width(word) == 6
    for limit in range(2, 7):
        cut = truncate(word + " Văn", limit)
        assert not any(unicodedata.combining(ch) for ch in cut)  # composed: no orphan mark
        kept = cut[:-1]
        assert kept == "Nguyễn"[:len(kept)]  # never "Nguye" with its marks dropped
    assert truncate(word + " Văn", 6) == "Nguyễ…"


def test_graphemes_keep_marks_joiners_and_flags_together() -> None:
    assert list(graphemes(nfd("ệ"))) == [nfd("ệ")]
    assert list(graphemes("a\u0323\u0302b")) == ["a\u0323\u0302", "b"]
    family = "👩\u200d👩\u200d👧"
    assert list(graphemes(family + "x")) == [family, "x"]
    assert list(graphemes("🇻🇳🇻🇳")) == ["🇻🇳", "🇻🇳"]
    assert list(graphemes("\r\nx")) == ["\r\n", "x"]


def test_widths_count_columns_not_code_points_nor_bytes() -> None:
    assert width(nfd("Đề nghị")) == width("Đề nghị") == 7
    assert len("Đề nghị".encode()) > 7
    assert width("越南") == 4  # wide characters take two columns
    assert truncate("越南越南", 5) == "越南…"
    assert width(truncate("越南越南", 5)) == 5


def test_pad_fills_to_the_exact_column_count() -> None:
    for text in (NAME, nfd(NAME), "staff:demo.support", "越南"):
        for columns in (3, 10, 28):
            assert width(pad(text, columns)) == columns
    assert pad(nfd("Hà Nội"), 8) == "Hà Nội  "


def test_controls_and_bidi_overrides_never_reach_the_terminal() -> None:
    hostile = "Ánh\x1b[31m đỏ\x07 \u202etxt.exe"
    shown = clean(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "Ánh" in shown and "đỏ" in shown
    assert "\x1b" not in truncate(hostile, 8)


def test_nothing_to_show_in_no_room() -> None:
    assert truncate(NAME, 0) == ""
    assert truncate(NAME, 1) == ELLIPSIS
    assert truncate("", 5) == ""
