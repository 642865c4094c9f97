from __future__ import annotations

import pytest

from hotro.services.routing.domain.keywords import SearchText, strip_accents


def test_strip_accents_keeps_length_and_folds_d() -> None:
    assert strip_accents("đổi trả Điện") == "doi tra dien"


@pytest.mark.parametrize(("keyword", "text"), [
    ("không lên nguồn", "Máy giặt KHÔNG LÊN NGUỒN từ hôm qua"),
    ("không lên nguồn", "may giat khong   len nguon tu hom qua"),
    ("hoàn tiền", "Tôi muốn được hoàn tiền."),
    ("hoan tien", "Tôi muốn được hoàn tiền."),
    ("shipper", "Shipper không gọi trước"),
])
def test_keyword_found_with_or_without_accents(keyword: str, text: str) -> None:
    assert SearchText(text).has(keyword)


@pytest.mark.parametrize(("keyword", "text"), [
    ("lỗi", "Thẻ thành viên có lợi ích gì?"),  # same letters, different word
    ("hỏng", "Tôi không hồng hào"),
    ("giao", "giaohang"),  # whole words only
    ("hoàn tiền", "Tôi muốn đổi hàng"),
])
def test_keyword_not_found(keyword: str, text: str) -> None:
    assert not SearchText(text).has(keyword)


def test_one_prepared_text_answers_every_keyword() -> None:
    text = SearchText("Máy giặt khong len nguon, tôi muốn hoàn tiền")
    assert [k for k in ("không lên nguồn", "hoàn tiền", "lỗi", "hoan tien") if text.has(k)] \
        == ["không lên nguồn", "hoàn tiền", "hoan tien"]
