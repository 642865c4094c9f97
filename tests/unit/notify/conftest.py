from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.email_smtp import SmtpMailer
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.application import NotifyApplication
from hotro.shared.eventstore.persistence import persistence_env
from tests.support.smtp import SmtpSink, running_sink

REFERENCE = "KN-2026-000123"
CUSTOMER = "Nguyễn Thị Ánh"

#: A complete context for every purpose, shared by the rendering and email tests.
CONTEXTS: Mapping[str, Mapping[str, Any]] = {
    "acknowledgement": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "received_at": datetime(2026, 3, 5, 2, 30, tzinfo=UTC),
        "reply_deadline": date(2026, 3, 19),
    },
    "info_request": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "items": ["Ảnh chụp hóa đơn mua hàng", "Số sê-ri của sản phẩm"],
        "due_date": date(2026, 3, 12),
    },
    "reply": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "content": "Chúng tôi sẽ đổi sản phẩm mới.\n\nNhân viên sẽ liên hệ với Quý khách.",
    },
    "refusal": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "reason": "late_filing",
        "incident_date": date(2026, 2, 2),
        "filing_deadline": date(2026, 2, 11),
    },
    "reminder": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "items": ["Ảnh chụp hóa đơn mua hàng"],
        "due_date": date(2026, 3, 16),
    },
    "customer_link": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "customer_link": "https://hotro.example.vn/c/cap1.eyJjaWQiOiJ4In0.bWFj",
    },
    "reopened": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "new_reply_deadline": date(2026, 4, 2),
    },
    "withdrawn": {"customer_name": CUSTOMER, "reference": REFERENCE,
                  "reason": "Tôi đã tự sửa được máy."},
    "reply_date_moved": {
        "customer_name": CUSTOMER,
        "reference": REFERENCE,
        "new_reply_deadline": date(2026, 3, 20),
        "previous_reply_deadline": date(2026, 3, 16),
    },
    "alert_deadline_approaching": {
        "reference": REFERENCE,
        "handler": "Phòng Kỹ thuật",
        "deadline": date(2026, 3, 19),
        "working_days_left": 2,
    },
    "alert_deadline_breached": {
        "reference": REFERENCE,
        "handler": "Phòng Kỹ thuật",
        "deadline": date(2026, 3, 19),
    },
    "alert_deadline_moved": {
        "reference": REFERENCE,
        "clock": "first_contact",
        "handler": "le.van.binh",
        "department": None,
        "deadline": date(2026, 3, 9),
        "previous_deadline": date(2026, 3, 6),
        "calendar_version": "vn-2026.3",
    },
    "alert_new_referral": {
        "reference": REFERENCE,
        "department": "Phòng Bảo hành",
        "referred_by": "Lê Văn Bình",
        "summary": "Máy lọc nước rò rỉ sau 3 ngày sử dụng.",
        "due_date": date(2026, 3, 13),
    },
    "filing_accepted": {"customer_name": CUSTOMER, "reference": REFERENCE,
                        "reply_deadline": date(2026, 3, 23)},
    "filing_review": {"customer_name": CUSTOMER, "reference": REFERENCE,
                      "incident_date": date(2026, 2, 2), "filing_deadline": date(2026, 2, 11)},
    "follow_up_received": {"customer_name": CUSTOMER, "reference": REFERENCE,
                           "case_state": "closed"},
    "alert_follow_up": {"reference": REFERENCE, "handler": "Lê Văn Bình", "channel": "email",
                        "case_state": "refused", "excerpt": "Tôi gửi thêm giấy ra viện."},
    "alert_referral_ended": {"reference": REFERENCE, "department": "ky-thuat-bao-hanh",
                             "withdrawn": False, "ended_by": "gs.ha",
                             "reason": "Khách hàng đã được đổi máy tại cửa hàng."},
    "alert_customer_withdrew": {"reference": REFERENCE, "handler": "Lê Văn Bình",
                                "reason": "Tôi đã tự sửa được máy."},
    "alert_delivery_failed": {
        "reference": REFERENCE,
        "purpose": "info_request",
        "method": "email",
        "reason": "SMTP 550: mailbox unavailable",
        "attempts": 1,
        "kind": "failed",
        "message_id": "<0f1e@vhv.vn>",
    },
}


@pytest.fixture
def sink() -> Iterator[tuple[SmtpSink, int]]:
    """A real SMTP server on a free port (aiosmtpd), and that port."""
    with running_sink() as running:
        yield running


@pytest.fixture
def company() -> CompanyInfo:
    return CompanyInfo()


def free_port() -> int:
    """A port nothing listens on (tiny race: another process could take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sqlite_notify(store: Path) -> NotifyApplication:
    """Notify on a SQLite file, its clock at 6 March 2026 03:00 UTC."""
    return NotifyApplication(env=persistence_env(f"sqlite:///{store}"),
                             clock=lambda: datetime(2026, 3, 6, 3, 0, tzinfo=UTC))


def smtp_channels(port: int, tmp_path: Path, *, timeout_s: float = 5.0) -> Channels:
    """Channels whose email goes to an SMTP server on ``port`` (no TLS, no login)."""
    return Channels(
        email=SmtpMailer("127.0.0.1", port, False, None, None, timeout_s,
                         sender="contact@vhv.vn"),
        sms=RecordingShortMessageGateway(), letters=LetterStore(tmp_path / "letters"),
        company=CompanyInfo(), clock=lambda: datetime(2026, 3, 6, tzinfo=UTC))
