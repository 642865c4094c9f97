"""A staff clock's alert says which deadline it is: the customer's reply, the first contact,
a department's result or the customer's additional information; a department's clock is
also told to that department."""

from __future__ import annotations

import uuid
from datetime import date

from hotro.services.notify.adapters.channels import template_context
from hotro.services.notify.adapters.rendering import CompanyInfo, RenderedMessage, render
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Dispatch
from hotro.shared.contracts import events
from tests.unit.notify.wire import (
    REFERENCE,
    deadline_approaching,
    deadline_breached,
    dispatches,
    envelope,
    memory_app,
    received,
)

DEPARTMENT = "ky-thuat-bao-hanh"
NAME = "Phòng Kỹ thuật / Bảo hành"


def _alerts(app: NotifyApplication, cid: uuid.UUID, purpose: str) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.complaint_id == cid and d.purpose == purpose]


def _text(dispatch: Dispatch) -> RenderedMessage:
    return render(dispatch.purpose, "vi", template_context(dispatch.context), CompanyInfo(),
                  method="email")


def _referred_case() -> tuple[NotifyApplication, uuid.UUID]:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    app.handle(envelope("routing", events.ReferredToDepartment(
        reference=REFERENCE, department=DEPARTMENT, question="Máy nén có lỗi?",
        internal_due=date(2026, 3, 12)), cid, actor="nv.lan"))
    return app, cid


def test_a_departments_clock_is_told_to_it_and_named_as_its_result() -> None:
    app, cid = _referred_case()
    app.handle(deadline_approaching(cid, "department"))
    app.handle(deadline_breached(cid, "department"))
    for purpose in ("alert_deadline_approaching", "alert_deadline_breached"):
        alerts = _alerts(app, cid, purpose)
        assert sorted(d.recipient for d in alerts) == sorted(
            ["nv.lan@vhv.vn", "supervisor@vhv.vn", app.recipients.department(DEPARTMENT)])
        message = _text(alerts[0])
        assert NAME in message.subject and NAME in message.text
        assert "gửi kết quả" in message.text
        assert "trả lời khách hàng" not in message.text + message.subject


def test_the_customers_missing_information_is_not_called_an_overdue_reply() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    app.handle(deadline_breached(cid, "customer_info"))
    [alert, _] = _alerts(app, cid, "alert_deadline_breached")
    message = _text(alert)
    assert "Khách hàng chưa bổ sung thông tin" in message.subject
    assert "hạn khách hàng bổ sung thông tin" in message.text
    assert "trả lời khách hàng" not in message.text
    assert {d.recipient for d in _alerts(app, cid, "alert_deadline_breached")} == {
        "support@vhv.vn", "supervisor@vhv.vn"}  # no department: not a department's clock


def test_the_first_contact_and_the_reply_say_which_they_are() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    app.handle(deadline_approaching(cid, "first_contact"))
    app.handle(deadline_breached(cid, "reply"))
    first = _text(_alerts(app, cid, "alert_deadline_approaching")[0])
    assert "liên hệ lần đầu với khách hàng" in first.text
    assert "Hạn liên hệ khách hàng lần đầu" in first.subject
    reply = _text(_alerts(app, cid, "alert_deadline_breached")[0])
    assert "đã quá hạn trả lời khách hàng" in reply.text
    assert "chưa được trả lời" in reply.subject


def test_an_alert_stored_before_it_named_its_clock_still_renders_as_the_reply() -> None:
    stored = {"reference": REFERENCE, "handler": "le.van.binh", "deadline": "2026-03-19",
              "working_days_left": 2}  # what older dispatches kept
    for purpose in ("alert_deadline_approaching", "alert_deadline_breached"):
        message = render(purpose, "vi", template_context(stored), CompanyInfo(),
                         method="email")
        assert "trả lời khách hàng" in message.text and "19/03/2026" in message.text
