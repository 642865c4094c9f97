"""sla moves a staff clock (DeadlineReplanned of a department's or the first-contact clock:
a newer holiday notice, or a paused clock counting again): the case's owner hears the new
date, and for a department's clock so does the department the case was referred to."""

from __future__ import annotations

import uuid
from datetime import date

from hotro.services.notify.adapters.channels import template_context
from hotro.services.notify.adapters.rendering import CompanyInfo, render
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Dispatch
from hotro.shared.contracts import events
from tests.unit.notify.test_reply_date_moved import replanned
from tests.unit.notify.wire import REFERENCE, dispatches, envelope, memory_app, received


def _moved(app: NotifyApplication, cid: uuid.UUID) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.complaint_id == cid
            and d.purpose == "alert_deadline_moved"]


def _referred(app: NotifyApplication, cid: uuid.UUID,
              department: str = "ky-thuat-bao-hanh") -> None:
    app.handle(envelope("routing", events.ReferredToDepartment(
        reference=REFERENCE, department=department, question="Lỗi do nhà sản xuất?"),
        cid, actor="nv.lan"))


def test_a_department_clock_moved_is_told_to_the_owner_and_the_department() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    _referred(app, cid)
    app.handle(replanned(cid, date(2026, 3, 16), date(2026, 3, 13), clock="department"))
    alerts = _moved(app, cid)
    assert sorted(d.recipient for d in alerts) == sorted(
        ["nv.lan@vhv.vn", app.recipients.department("ky-thuat-bao-hanh")])
    assert all(d.internal and d.language == "vi" for d in alerts)
    context = alerts[0].context
    assert (context["deadline"], context["previous_deadline"], context["department"]) == \
        ("2026-03-16", "2026-03-13", "ky-thuat-bao-hanh")
    text = render("alert_deadline_moved", "vi", template_context(context), CompanyInfo(),
                  method="email").text
    assert "16/03/2026" in text and "13/03/2026" in text and REFERENCE in text
    assert "Phòng Kỹ thuật / Bảo hành" in text  # its name, not its code


def test_the_department_told_is_the_one_the_case_was_last_referred_to() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    _referred(app, cid, "ky-thuat-bao-hanh")
    _referred(app, cid, "giao-van")
    app.handle(replanned(cid, date(2026, 3, 16), date(2026, 3, 13), clock="department"))
    told = {d.recipient for d in _moved(app, cid)}
    assert app.recipients.department("giao-van") in told
    assert app.recipients.department("ky-thuat-bao-hanh") not in told


def test_a_first_contact_clock_moved_before_anyone_owns_the_case_tells_support() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    app.handle(replanned(cid, date(2026, 3, 9), date(2026, 3, 6), clock="first_contact"))
    [alert] = _moved(app, cid)
    assert alert.recipient == app.recipients.support
    assert alert.context["department"] is None
    text = render("alert_deadline_moved", "vi", template_context(alert.context),
                  CompanyInfo(), method="email")
    assert "liên hệ lần đầu" in text.text and "09/03/2026" in text.subject


def test_the_customers_clocks_are_not_staff_alerts() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    for clock in ("customer_info", "filing"):
        app.handle(replanned(cid, date(2026, 3, 16), date(2026, 3, 13), clock=clock))
    assert _moved(app, cid) == []


def test_a_move_delivered_twice_alerts_once() -> None:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    _referred(app, cid)
    move = replanned(cid, date(2026, 3, 16), date(2026, 3, 13), clock="department")
    app.handle(move)
    app.handle(move)
    assert len(_moved(app, cid)) == 2  # owner and department, once each
