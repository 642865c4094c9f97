"""A department that still owes its result is told when the case ends without it
(withdrawn by the customer, closed by a supervisor); a department that has answered, or a
case that was never referred, hears nothing; and each end is told once."""

from __future__ import annotations

import uuid

from hotro.services.notify.adapters.channels import template_context
from hotro.services.notify.adapters.rendering import CompanyInfo, render
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Dispatch
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Actor, Envelope
from tests.unit.notify.test_referral_alert import DEPARTMENT, _app_with_case, referral
from tests.unit.notify.wire import REFERENCE, dispatches, envelope


def ended(app: NotifyApplication, cid: uuid.UUID) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.complaint_id == cid
            and d.purpose == "alert_referral_ended"]


def closed(cid: uuid.UUID, reason: str, actor: str = "gs.ha") -> Envelope:
    return envelope("routing", events.ComplaintClosed(reference=REFERENCE, reason=reason),
                    cid, actor=actor)


def responded(cid: uuid.UUID, department: str = DEPARTMENT) -> Envelope:
    return envelope("routing", events.DepartmentResponded(
        reference=REFERENCE, department=department, result="Đã thay máy nén"), cid)


def test_a_withdrawal_while_the_department_owes_its_result_tells_the_department() -> None:
    app, cid = _app_with_case()
    app.handle(referral(cid))
    withdrawal = closed(cid, "withdrawn: Đã tự sửa được máy", actor="customer")
    app.handle(withdrawal)
    [alert] = ended(app, cid)
    assert alert.recipient == app.recipients.department(DEPARTMENT)
    assert alert.internal
    assert alert.context["withdrawn"] is True
    assert alert.context["reason"] == "Đã tự sửa được máy"
    text = render("alert_referral_ended", "vi", template_context(alert.context),
                  CompanyInfo(), method="email")
    assert "đã được khách hàng rút lại" in text.text
    assert "không cần gửi kết quả" in text.subject
    assert "Phòng Kỹ thuật" in text.text  # the department by its name
    app.handle(withdrawal)  # delivered again
    app.handle(closed(cid, "replied"))  # and no other end told after it
    assert len(ended(app, cid)) == 1


def test_a_supervisors_close_names_who_closed_it() -> None:
    app, cid = _app_with_case()
    app.handle(referral(cid))
    app.handle(closed(cid, "Khách hàng đã được đổi máy tại cửa hàng"))
    [alert] = ended(app, cid)
    assert alert.context["withdrawn"] is False
    assert alert.context["ended_by"] == "gs.ha"
    en = render("alert_referral_ended", "en", template_context(alert.context),
                CompanyInfo(), method="email")
    assert "closed (gs.ha)" in en.text and "đổi máy" in en.text


def test_a_department_that_answered_is_not_told() -> None:
    app, cid = _app_with_case()
    app.handle(referral(cid))
    app.handle(responded(cid, department="giao-van"))  # not the one awaited
    app.handle(responded(cid))
    app.handle(closed(cid, "replied"))
    assert ended(app, cid) == []


def test_a_case_never_referred_tells_no_department() -> None:
    app, cid = _app_with_case()
    app.handle(closed(cid, "withdrawn"))
    assert ended(app, cid) == []


def test_a_second_referral_is_awaited_again_after_a_reopen() -> None:
    app, cid = _app_with_case()
    app.handle(referral(cid))
    app.handle(responded(cid))
    app.handle(closed(cid, "replied"))
    app.handle(envelope("routing", events.ComplaintReopened(reference=REFERENCE,
                                                            reason="Khách báo lỗi lại"), cid))
    app.handle(referral(cid))
    app.handle(closed(cid, "withdrawn"))
    [alert] = ended(app, cid)
    assert alert.context["withdrawn"] is True and alert.context["reason"] == ""


def confirmations(app: NotifyApplication, cid: uuid.UUID) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.complaint_id == cid and d.purpose == "withdrawn"]


def test_the_customer_has_a_withdrawal_confirmed_once_and_a_close_confirms_nothing() -> None:
    app, cid = _app_with_case()
    app.handle(closed(cid, "Khách hàng đã được đổi máy"))  # a supervisor's close
    assert confirmations(app, cid) == []
    app.handle(envelope("routing", events.ComplaintReopened(reference=REFERENCE,
                                                            reason="mở lại"), cid))
    withdrawal = closed(cid, "withdrawn: Đã tự sửa được máy", actor="customer")
    app.handle(withdrawal)
    app.handle(withdrawal)  # delivered again
    [told] = confirmations(app, cid)
    assert not told.internal and told.method == "email"
    assert told.context["reason"] == "Đã tự sửa được máy"
    # the customer's name is kept sealed beside the context, not in it
    text = render("withdrawn", "vi", template_context({**told.context, "customer_name": "An"}),
                  CompanyInfo(), method="email")
    assert "rút khiếu nại mã số " + REFERENCE in text.text
    assert "Lý do Quý khách cho biết: Đã tự sửa được máy" in text.text


def test_the_owner_hears_of_a_withdrawal_on_the_page_not_of_one_staff_recorded() -> None:
    app, cid = _app_with_case()
    by_staff = closed(cid, "withdrawn: khách gọi hotline", actor="nv.lan")
    app.handle(by_staff)
    owner_alerts = [d for d in dispatches(app) if d.purpose == "alert_customer_withdrew"]
    assert owner_alerts == []
    app.handle(envelope("routing", events.ComplaintReopened(reference=REFERENCE,
                                                            reason="mở lại"), cid))
    on_page = closed(cid, "withdrawn: Đã tự sửa được máy").model_copy(
        update={"actor": Actor(kind="customer", id="customer-link")})
    app.handle(on_page)
    [alert] = [d for d in dispatches(app) if d.purpose == "alert_customer_withdrew"]
    assert alert.internal and alert.recipient == app.recipients.support  # nobody owns it
    assert alert.context["reason"] == "Đã tự sửa được máy"
