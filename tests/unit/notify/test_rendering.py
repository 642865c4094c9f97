from __future__ import annotations

from datetime import UTC, date, datetime

import jinja2
import pytest

from hotro.services.notify.adapters.rendering import (
    LANGS,
    PURPOSES,
    CompanyInfo,
    TemplateFailure,
    available,
    format_date,
    format_datetime,
    format_long_date,
    render,
)
from tests.unit.notify.conftest import CONTEXTS, REFERENCE


def test_every_purpose_has_every_language() -> None:
    assert len(available()) == len(PURPOSES) * len(LANGS)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_template_renders_with_its_documented_context(
    purpose: str, lang: str, company: CompanyInfo
) -> None:
    message = render(purpose, lang, CONTEXTS[purpose], company)
    assert message.subject and "\n" not in message.subject
    assert REFERENCE in message.text
    assert REFERENCE in message.html
    assert message.html.lstrip().startswith("<!DOCTYPE html>")
    assert f'lang="{lang}"' in message.html


def test_vietnamese_acknowledgement(company: CompanyInfo) -> None:
    message = render("acknowledgement", "vi", CONTEXTS["acknowledgement"], company)
    assert message.subject == "Xác nhận đã tiếp nhận khiếu nại của Quý khách"
    assert "Kính gửi Quý khách Nguyễn Thị Ánh," in message.text
    # 02:30 UTC is 09:30 in Hà Nội.
    assert "lúc 09:30 ngày 05/03/2026" in message.text
    assert "chậm nhất ngày 19/03/2026" in message.text
    assert "Hotline: 0422111997 | Email: contact@vhv.vn" in message.text
    assert "Công ty VHV" in message.html
    assert "<strong>19/03/2026</strong>" in message.html


def test_english_acknowledgement(company: CompanyInfo) -> None:
    message = render("acknowledgement", "en", CONTEXTS["acknowledgement"], company)
    assert message.subject == "We have received your complaint"
    assert "Dear Nguyễn Thị Ánh," in message.text
    assert "at 09:30 on 05/03/2026" in message.text
    assert "no later than 19/03/2026" in message.text


def test_company_comes_from_the_model() -> None:
    other = CompanyInfo(name="Công ty Thử", hotline="19001234", email="hotro@example.vn")
    message = render("reply", "vi", CONTEXTS["reply"], other)
    assert "Công ty Thử" in message.text and "19001234" in message.text
    assert "hotro@example.vn" in message.html
    assert "VHV" not in message.text + message.html


def test_missing_variable_raises_instead_of_rendering_blank(company: CompanyInfo) -> None:
    context = dict(CONTEXTS["acknowledgement"])
    del context["reply_deadline"]
    with pytest.raises(jinja2.UndefinedError, match="reply_deadline"):
        render("acknowledgement", "vi", context, company)


def test_staff_content_is_escaped_in_html_only(company: CompanyInfo) -> None:
    content = 'Xin lỗi Quý khách <script>alert("x")</script> & "cảm ơn"\ndòng hai'
    message = render("reply", "vi", {**CONTEXTS["reply"], "content": content}, company)
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp;" in message.html
    assert "<br>\ndòng hai" in message.html  # line breaks kept, as markup we produced
    assert content in message.text


def test_reply_paragraphs_become_html_paragraphs(company: CompanyInfo) -> None:
    message = render("reply", "en", CONTEXTS["reply"], company)
    assert "<p>Chúng tôi sẽ đổi sản phẩm mới.</p>" in message.html
    assert "<p>Nhân viên sẽ liên hệ với Quý khách.</p>" in message.html


def test_refusal_for_late_filing_states_the_computed_deadline(company: CompanyInfo) -> None:
    vi = render("refusal", "vi", CONTEXTS["refusal"], company)
    assert "xảy ra ngày 02/02/2026" in vi.text
    assert "kết thúc vào ngày 11/02/2026" in vi.text
    en = render("refusal", "en", CONTEXTS["refusal"], company)
    assert "ended on 11/02/2026" in en.text


def test_refusal_not_eligible_needs_no_deadline(company: CompanyInfo) -> None:
    context = {
        "customer_name": "Trần Văn Cường",
        "reference": REFERENCE,
        "reason": "not_eligible",
        "detail": "Sản phẩm được mua bởi <một người khác>.",
    }
    message = render("refusal", "vi", context, company)
    assert "không thuộc trường hợp này" in message.text
    assert "Sản phẩm được mua bởi <một người khác>." in message.text
    assert "&lt;một người khác&gt;" in message.html


def test_unknown_refusal_reason_fails(company: CompanyInfo) -> None:
    with pytest.raises(TemplateFailure, match="bogus"):
        render("refusal", "vi", {**CONTEXTS["refusal"], "reason": "bogus"}, company)


def test_checklist_items_are_listed(company: CompanyInfo) -> None:
    message = render("info_request", "vi", CONTEXTS["info_request"], company)
    assert "  - Ảnh chụp hóa đơn mua hàng\n  - Số sê-ri của sản phẩm\n" in message.text
    assert "<li>Số sê-ri của sản phẩm</li>" in message.html
    assert "chậm nhất ngày 12/03/2026" in message.text


def test_internal_alert_links_the_case_when_given(company: CompanyInfo) -> None:
    context = {**CONTEXTS["alert_deadline_approaching"], "case_url": "https://hotro.local/c/1"}
    message = render("alert_deadline_approaching", "vi", context, company)
    assert message.subject == (
        "[Sắp đến hạn] Hạn trả lời khách hàng 19/03/2026 (còn 2 ngày làm việc)"
    )
    assert "Hồ sơ: https://hotro.local/c/1" in message.text
    assert 'href="https://hotro.local/c/1"' in message.html


@pytest.mark.parametrize(
    ("purpose", "lang"), [("nope", "vi"), ("reply", "fr"), ("../vi/_layout", "vi")]
)
def test_unknown_purpose_or_language(purpose: str, lang: str, company: CompanyInfo) -> None:
    with pytest.raises(ValueError, match="unknown"):
        render(purpose, lang, CONTEXTS["reply"], company)


def test_date_formatting_uses_vietnam_time() -> None:
    late_evening_utc = datetime(2026, 12, 31, 18, 5, tzinfo=UTC)
    assert format_date(late_evening_utc) == "01/01/2027"
    assert format_datetime(late_evening_utc) == "01:05 01/01/2027"
    assert format_date(date(2026, 3, 5)) == "05/03/2026"
    assert format_long_date(date(2026, 3, 5)) == "ngày 05 tháng 03 năm 2026"
    assert format_long_date(date(2026, 3, 5), "en") == "5 March 2026"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_date(datetime(2026, 3, 5, 9, 30))
