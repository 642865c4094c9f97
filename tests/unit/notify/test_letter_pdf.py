from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from hotro.services.notify.adapters.letter_pdf import Letter, LetterStore, render_letter_pdf
from tests.unit.notify.conftest import REFERENCE


def sample_letter(**overrides: object) -> Letter:
    fields: dict[str, object] = {
        "reference": REFERENCE,
        "date": date(2026, 3, 5),
        "recipient_name": "Bà Nguyễn Thị Ánh",
        "recipient_address": ["Số 12 ngõ 34 phố Huỳnh Thúc Kháng", "Phường Láng Hạ, Hà Nội"],
        "subject": "Trả lời khiếu nại về máy lọc nước",
        "paragraphs": [
            "Khiếu nại của Quý khách về việc máy lọc nước bị rò rỉ sau 3 ngày sử dụng đã được "
            "Công ty VHV tiếp nhận ngày 02/03/2026.",
            "Chúng tôi sẽ đổi sản phẩm mới trong vòng 05 ngày làm việc. <b>Không</b> & hết.",
        ],
        "signer_name": "Trần Thị Hương",
        "signer_title": "Trưởng phòng Chăm sóc khách hàng",
    }
    fields.update(overrides)
    return Letter.model_validate(fields)


def page_text(pdf: bytes) -> str:
    reader = PdfReader(BytesIO(pdf))
    return unicodedata.normalize("NFC", "\n".join(p.extract_text() for p in reader.pages))


def test_letter_text_keeps_vietnamese_diacritics() -> None:
    pdf = render_letter_pdf(sample_letter())
    assert pdf.startswith(b"%PDF-")
    text = page_text(pdf)
    for expected in (
        REFERENCE,
        "CÔNG TY VHV",
        "0422111997",
        "contact@vhv.vn",
        "Hà Nội, ngày 05 tháng 03 năm 2026",
        "Bà Nguyễn Thị Ánh",
        "Phường Láng Hạ, Hà Nội",
        "Trả lời khiếu nại về máy lọc nước",
        "Khiếu nại của Quý khách",
        "Trần Thị Hương",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    ):
        assert expected in text, expected


def test_letter_content_is_not_interpreted_as_markup() -> None:
    text = page_text(render_letter_pdf(sample_letter()))
    assert "<b>Không</b> & hết." in text


def test_letter_embeds_a_truetype_font_and_no_base14_font() -> None:
    reader = PdfReader(BytesIO(render_letter_pdf(sample_letter())))
    resources = reader.pages[0]["/Resources"].get_object()
    assert isinstance(resources, DictionaryObject)
    fonts = resources["/Font"].get_object()
    assert isinstance(fonts, DictionaryObject)
    base_fonts = set()
    for name in fonts:
        font = fonts[name].get_object()
        assert isinstance(font, DictionaryObject)
        base_fonts.add(str(font["/BaseFont"]))
    assert base_fonts, "no fonts on the page"
    assert all("SourceSerif" in f or "DejaVu" in f for f in base_fonts), base_fonts


def test_english_letter() -> None:
    text = page_text(render_letter_pdf(sample_letter(lang="en")))
    assert "Hà Nội, 5 March 2026" in text
    assert f"Ref: {REFERENCE}" in text
    assert "CỘNG HÒA" not in text


def test_long_letter_flows_onto_more_pages() -> None:
    pdf = render_letter_pdf(sample_letter(paragraphs=["Nội dung trả lời khiếu nại. " * 40] * 8))
    assert len(PdfReader(BytesIO(pdf)).pages) >= 2


def test_first_page_rasterises(tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:  # Debian's poppler-utils; .ci/run installs it
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and pdftoppm (poppler-utils) is not installed")
        pytest.skip("poppler-utils not installed")
    source = tmp_path / "letter.pdf"
    source.write_bytes(render_letter_pdf(sample_letter()))
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            source,
            tmp_path / "p1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    png = tmp_path / "p1.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 5_000  # a blank page is far smaller


def test_letter_store_saves_by_delivery_id(tmp_path: Path) -> None:
    store = LetterStore(tmp_path / "letters")
    path = store.save("dlv-0001", b"%PDF-1.4 first")
    assert path == tmp_path / "letters" / "dlv-0001.pdf"
    assert path.read_bytes() == b"%PDF-1.4 first"
    assert store.save("dlv-0001", b"%PDF-1.4 second").read_bytes() == b"%PDF-1.4 second"
    assert [p.name for p in (tmp_path / "letters").iterdir()] == ["dlv-0001.pdf"]


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".hidden", "x" * 200, "ánh"])
def test_letter_store_refuses_unsafe_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        LetterStore(tmp_path).save(bad, b"%PDF")
