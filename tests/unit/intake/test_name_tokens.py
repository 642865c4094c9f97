"""A customer's name as search tokens: the same tokens with or without Vietnamese
diacritics, in any case, spacing and punctuation."""

from __future__ import annotations

import pytest

from hotro.services.intake.domain.names import MAX_TOKENS, name_tokens


@pytest.mark.parametrize("written", ["Nguyễn Thị Thuỷ", "nguyen thi thuy", "NGUYỄN  THỊ-THỦY",
                                     "Nguyen, Thi Thuy.", "Nguyễn Thị Thuỷ"])
def test_written_any_way_the_same_tokens(written: str) -> None:
    assert name_tokens(written) == ["nguyen", "thi", "thuy"]


def test_d_with_stroke_is_d_and_each_token_once() -> None:
    assert name_tokens("Đặng Đức Đặng") == ["dang", "duc"]
    assert name_tokens("Ưng Hoàng Phúc") == ["ung", "hoang", "phuc"]


def test_nothing_to_index() -> None:
    assert name_tokens("  -- ") == []
    assert len(name_tokens(" ".join(f"t{i}" for i in range(40)))) == MAX_TOKENS
