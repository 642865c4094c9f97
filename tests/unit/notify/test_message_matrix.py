"""Every template × kind × method × language, checked mechanically for what a customer or
staff member must never read, and the committed set in docs/messages/ equals a fresh render."""

from __future__ import annotations

import re

import pytest

from hotro.services.notify.adapters.channels import sms_text
from hotro.services.notify.adapters.rendering import checklist_names, render
from hotro.services.notify.adapters.samples import (
    DOCS_DIR,
    INTERNAL,
    KINDS,
    CompanyInfo,
    cases,
    rendered_samples,
    sample_context,
)

#: words that give away English inside a Vietnamese message
ENGLISH_TELLTALES = ("Dear", "please", "Please", "your", "filed", "deadline", "the ",
                     "reply to", "Reply", "reference", "complaint", "Complaint", "advice",
                     "received", "thank")
EMAIL_REPLY = {"vi": "trả lời email này", "en": "reply to this email"}
NOUN = {"vi": {"complaint": "khiếu nại", "advice": "yêu cầu tư vấn"},
        "en": {"complaint": "complaint", "advice": "advice request"}}
SMS_NOUN = {"vi": {"complaint": "khieu nai", "advice": "yeu cau tu van"},
            "en": {"complaint": "complaint", "advice": "advice request"}}
CASES = list(cases())


@pytest.mark.parametrize(("purpose", "kind", "method", "lang"), CASES,
                         ids=["-".join(c) for c in CASES])
def test_rendered_message_follows_the_rules(purpose: str, kind: str, method: str,
                                            lang: str) -> None:
    context = sample_context(purpose, kind, lang)
    if method == "sms":
        text = sms_text(purpose, lang, context, CompanyInfo())
        assert SMS_NOUN[lang][kind] in text and context["reference"] in text
        assert "email" not in text.lower()
        if lang == "vi":
            assert not [w for w in ENGLISH_TELLTALES if w in text]
        return
    message = render(purpose, lang, context, CompanyInfo(), method=method)
    for text in (message.subject + "\n" + message.text, message.html):
        for code in checklist_names():
            assert code not in text, f"checklist code {code} shown"
        if lang == "vi":
            found = [w for w in ENGLISH_TELLTALES if w in text.replace("Message-ID", "")]
            assert not found, f"English in a Vietnamese message: {found}"
        if method != "email":
            assert EMAIL_REPLY[lang] not in text.lower()
        # dates as dd/mm/yyyy, never ISO
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
        for day in re.findall(r"\b\d{1,2}/\d{1,2}/\d{4}\b", text):
            assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", day), day
    body = message.text.lower()
    if purpose != "customer_link":
        assert NOUN[lang][kind] in body
    other = "advice" if kind == "complaint" else "complaint"
    if lang == "vi" and kind == "advice":
        assert "khiếu nại" not in body
    if lang == "en":
        assert NOUN[lang][other] not in body
    if method != "email" and purpose not in INTERNAL | {"customer_link"}:
        assert "0422111997" in message.text and "contact@vhv.vn" in message.text
        assert "quầy" in body or "counter" in body


def test_information_request_names_items_and_keeps_the_staff_message() -> None:
    context = sample_context("info_request", "complaint", "vi")
    text = render("info_request", "vi", context, CompanyInfo()).text
    assert "Hóa đơn mua hàng (bản chụp hoặc hóa đơn điện tử)" in text
    assert context["message"] in text


def test_acknowledgement_explains_the_required_channel() -> None:
    context = sample_context("acknowledgement", "complaint", "vi")
    text = render("acknowledgement", "vi", context, CompanyInfo()).text
    assert "phải được gửi qua quầy hỗ trợ khách hàng" in text
    text = render("acknowledgement", "vi", {**context, "required_channel": None},
                  CompanyInfo()).text
    assert "phải được gửi qua" not in text


def test_every_kind_has_samples() -> None:
    assert {kind for _, kind, _, _ in CASES} == set(KINDS)


def test_committed_messages_equal_a_fresh_render() -> None:
    fresh = rendered_samples()
    committed = {p.name: p.read_text(encoding="utf-8") for p in DOCS_DIR.glob("*.txt")}
    assert committed == fresh, ("docs/messages/ is stale: run "
                                "python -m hotro.services.notify.adapters.samples --write")


def test_department_alerts_go_to_the_catalogues_address() -> None:
    from hotro.services.notify.main import build_application
    from hotro.services.notify.settings import NotifySettings

    app = build_application(NotifySettings(nats_url="nats://127.0.0.1:4222",
                                           store_url="memory:", allow_memory_store=True))
    assert app.recipients.department("ky-thuat-bao-hanh") == "kythuat@vhv.vn"
    assert app.recipients.department("thuong-mai-dien-tu") == "online@vhv.vn"
    text = render("alert_new_referral", "vi",
                  {"reference": "TV-2026-000124", "department": "ky-thuat-bao-hanh",
                   "referred_by": "nv.lan", "summary": "?", "due_date": None},
                  CompanyInfo()).text
    assert "Phòng Kỹ thuật / Bảo hành" in text and "yêu cầu tư vấn" in text
