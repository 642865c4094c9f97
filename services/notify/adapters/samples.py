"""Every message notify renders, for a reviewer to read: each template × request kind
(complaint KN-…, advice request TV-…) × method (email; letter or counter receipt for a
customer message; SMS) × language, rendered with sample data into ``docs/messages/``.

``python -m hotro.services.notify.adapters.samples --write`` renews the files; a test checks
the committed set equals a fresh render."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from hotro.services.notify.adapters.channels import sms_text
from hotro.services.notify.adapters.rendering import LANGS, PURPOSES, CompanyInfo, render

__all__ = ["CompanyInfo", "cases", "rendered_samples", "sample_context", "write"]

#: where the rendered set lives, relative to the repository
DOCS_DIR: Final = Path(__file__).resolve().parents[3] / "docs" / "messages"
INTERNAL: Final = frozenset(p for p in PURPOSES if p.startswith("alert_"))
KINDS: Final = {"complaint": "KN-2026-000123", "advice": "TV-2026-000124"}
LINK: Final = "https://hotro.vhv.vn/c/cap1.mau.mau"


def methods(purpose: str) -> tuple[str, ...]:
    """How a message of ``purpose`` may go: alerts by email; the acknowledgement also as a
    counter receipt; every other customer message also as a letter."""
    if purpose in INTERNAL:
        return ("email",)
    if purpose == "acknowledgement":
        return ("email", "receipt_slip", "letter", "sms")
    return ("email", "letter", "sms")


def sample_context(purpose: str, kind: str, lang: str) -> dict[str, Any]:
    """Sample data shaped like what the application stores (checklist codes included)."""
    reference = KINDS[kind]
    customer = "Nguyễn Thị Ánh"
    common: dict[str, Any] = {"reference": reference, "customer_name": customer}
    link = {"customer_link": LINK}
    contexts: dict[str, dict[str, Any]] = {
        "acknowledgement": {**link, "received_at": datetime(2026, 3, 5, 2, 30, tzinfo=UTC),
                            "reply_deadline": date(2026, 3, 19),
                            "required_channel": "counter" if kind == "complaint" else None},
        "info_request": {**link, "items": ["hoa-don", "anh-san-pham"],
                         "due_date": date(2026, 3, 12),
                         "message": ("Vui lòng chụp rõ số sê-ri ở mặt sau máy." if lang == "vi"
                                     else "Please photograph the serial number on the back.")},
        "reminder": {**link, "items": ["hoa-don"], "due_date": date(2026, 3, 16)},
        "reply": {"content": ("Chúng tôi sẽ đổi sản phẩm mới cho Quý khách.\n\n"
                              "Nhân viên sẽ liên hệ để hẹn lịch." if lang == "vi" else
                              "We will replace the product.\n\nOur staff will call you "
                              "to arrange a time.")},
        "refusal": ({"reason": "late_filing", "incident_date": date(2026, 2, 2),
                     "filing_deadline": date(2026, 2, 11),
                     "detail": ("Theo quy trình hỗ trợ khách hàng, khiếu nại phải được gửi "
                                "trong vòng 7 ngày làm việc kể từ ngày xảy ra sự việc."
                                if lang == "vi" else
                                "Under our customer-support rules a complaint must be made "
                                "within 7 working days of the day of the incident.")}
                    if kind == "complaint" else {"reason": "not_eligible"}),
        "reopened": {**link, "new_reply_deadline": date(2026, 4, 2)},
        "withdrawn": {"reason": "Đã tự sửa được máy." if lang == "vi" else
                      "I fixed it myself."},
        "reply_date_moved": {**link, "new_reply_deadline": date(2026, 3, 20),
                             "previous_reply_deadline": date(2026, 3, 16)},
        "filing_accepted": {**link, "reply_deadline": date(2026, 3, 23)},
        "filing_review": {"incident_date": date(2026, 2, 2),
                          "filing_deadline": date(2026, 2, 11)},
        "follow_up_received": {"case_state": "closed"},
        "alert_follow_up": {"handler": "le.van.binh", "channel": "email",
                            "case_state": "closed",
                            "excerpt": "Máy lọc nước lại rò rỉ sau khi sửa."},
        "customer_link": {**link},
        "alert_deadline_approaching": {"handler": "le.van.binh", "deadline": date(2026, 3, 19),
                                       "working_days_left": 2},
        "alert_deadline_breached": {"handler": "le.van.binh", "deadline": date(2026, 3, 19)},
        "alert_deadline_moved": {"handler": "le.van.binh", "clock": "department",
                                 "department": "Phòng Kỹ thuật / Bảo hành",
                                 "deadline": date(2026, 3, 16),
                                 "previous_deadline": date(2026, 3, 13),
                                 "calendar_version": "vn-2026.3"},
        "alert_new_referral": {"department": "Phòng Kỹ thuật / Bảo hành",
                               "referred_by": "le.van.binh",
                               "summary": "Máy lọc nước rò rỉ sau 3 ngày sử dụng.",
                               "due_date": date(2026, 3, 13)},
        "alert_referral_ended": {"department": "Phòng Kỹ thuật / Bảo hành",
                                 "withdrawn": True, "ended_by": "khách hàng",
                                 "reason": "Đã tự sửa được máy."},
        "alert_customer_withdrew": {"handler": "le.van.binh",
                                    "reason": "Đã tự sửa được máy."},
        "alert_delivery_failed": {"purpose": "info_request", "method": "email",
                                  "reason": "SMTP 550: mailbox unavailable", "attempts": 1,
                                  "kind": "failed", "message_id": "<0f1e@vhv.vn>"},
    }
    return {**common, **contexts[purpose]}


def cases() -> Iterator[tuple[str, str, str, str]]:
    """(purpose, kind, method, lang) of every rendered sample (alerts: Vietnamese only,
    as staff receive them)."""
    for purpose in PURPOSES:
        for kind in KINDS:
            for method in methods(purpose):
                for lang in LANGS:
                    if purpose in INTERNAL and lang != "vi":
                        continue
                    yield purpose, kind, method, lang


def rendered_samples(company: CompanyInfo | None = None) -> dict[str, str]:
    """File name → content: the subject, then the text variant."""
    company = company or CompanyInfo()
    out: dict[str, str] = {}
    for purpose, kind, method, lang in cases():
        name = f"{purpose}.{kind}.{method}.{lang}.txt"
        context = sample_context(purpose, kind, lang)
        if method == "sms":
            out[name] = sms_text(purpose, lang, context, company) + "\n"
            continue
        message = render(purpose, lang, context, company, method=method)
        out[name] = f"Subject: {message.subject}\n\n{message.text}"
    # A late filing's acknowledgement: under a supervisor's review, no reply date yet.
    for kind in KINDS:
        for lang in LANGS:
            context = {**sample_context("acknowledgement", kind, lang), "under_review": True,
                       "reply_deadline": None}
            message = render("acknowledgement", lang, context, company, method="email")
            out[f"acknowledgement-under-review.{kind}.email.{lang}.txt"] = \
                f"Subject: {message.subject}\n\n{message.text}"
    return out


def write(directory: Path = DOCS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    samples = rendered_samples()
    for stale in directory.glob("*.txt"):
        if stale.name not in samples:
            stale.unlink()
    written = []
    for name, text in sorted(samples.items()):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["--write"]:
        print("usage: python -m hotro.services.notify.adapters.samples --write")
        raise SystemExit(2)
    print(f"{len(write())} files in {DOCS_DIR}")
