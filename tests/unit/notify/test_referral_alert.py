"""The department a case is referred to is told the date to send its result by: the one
staff gave, else the last day of sla's clock for that referral. The referral (routing)
and that clock's DeadlineSet (sla, caused by the referral) reach notify in either order;
the alert goes once both are known, once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from hotro.services.notify.adapters.channels import template_context
from hotro.services.notify.adapters.rendering import CompanyInfo, render
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.domain import Dispatch
from hotro.services.routing.domain.workflow import Action
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Envelope
from tests.unit.audit.world import world
from tests.unit.notify.wire import REFERENCE, dispatches, envelope, memory_app, received

DEPARTMENT = "ky-thuat-bao-hanh"


def referral(cid: uuid.UUID, internal_due: date | None = None) -> Envelope:
    return envelope("routing", events.ReferredToDepartment(
        reference=REFERENCE, department=DEPARTMENT, question="Máy nén có lỗi?",
        internal_due=internal_due), cid, actor="nv.lan")


def department_clock(cid: uuid.UUID, caused_by: Envelope, last_day: date) -> Envelope:
    """sla's DeadlineSet of the clock it started for ``caused_by``."""
    return envelope("sla", events.DeadlineSet(
        reference=REFERENCE, clock="department", last_day=last_day,
        due_at=datetime.combine(last_day, datetime.min.time(), UTC),
        calendar_version="vn-2026.2", working_days=5, start=date(2026, 3, 6),
        rule="department: 5 working days", explanation="test"),
        cid).model_copy(update={"causation_id": caused_by.event_id})


def alerts(app: NotifyApplication, cid: uuid.UUID) -> list[Dispatch]:
    return [d for d in dispatches(app) if d.complaint_id == cid
            and d.purpose == "alert_new_referral"]


def _app_with_case() -> tuple[NotifyApplication, uuid.UUID]:
    app = memory_app()
    cid = uuid.uuid4()
    app.handle(received(cid))
    return app, cid


def test_a_date_staff_gave_is_told_at_once() -> None:
    app, cid = _app_with_case()
    app.handle(referral(cid, internal_due=date(2026, 3, 10)))
    [alert] = alerts(app, cid)
    assert alert.recipient == app.recipients.department(DEPARTMENT)
    assert alert.context["due_date"] == "2026-03-10"


def test_without_one_the_alert_waits_for_slas_date_for_that_referral() -> None:
    app, cid = _app_with_case()
    referred = referral(cid)
    app.handle(referred)
    assert alerts(app, cid) == []
    app.handle(department_clock(cid, referral(cid), date(2026, 3, 20)))  # another referral's
    assert alerts(app, cid) == []
    app.handle(department_clock(cid, referred, date(2026, 3, 13)))
    [alert] = alerts(app, cid)
    assert alert.context["due_date"] == "2026-03-13"
    text = render("alert_new_referral", "vi", template_context(alert.context),
                  CompanyInfo(), method="email")
    assert "chậm nhất ngày 13/03/2026" in text.text and "13/03/2026" in text.subject
    app.handle(department_clock(cid, referred, date(2026, 3, 13)))  # announced again
    assert len(alerts(app, cid)) == 1


def test_slas_date_first_then_the_referral_alerts_at_once() -> None:
    app, cid = _app_with_case()
    referred = referral(cid)
    app.handle(department_clock(cid, referred, date(2026, 3, 13)))
    assert alerts(app, cid) == []
    app.handle(referred)
    assert [a.context["due_date"] for a in alerts(app, cid)] == ["2026-03-13"]


def test_the_clock_of_a_referral_told_with_its_own_date_changes_nothing() -> None:
    app, cid = _app_with_case()
    referred = referral(cid, internal_due=date(2026, 3, 10))
    app.handle(referred)
    app.handle(department_clock(cid, referred, date(2026, 3, 10)))
    assert [a.context["due_date"] for a in alerts(app, cid)] == ["2026-03-10"]


def test_end_to_end_the_department_hears_slas_date() -> None:
    """Through the four applications: a referral with no date of staff's; the department's
    alert states the last day of the clock sla started for it."""
    w = world()
    cid = w.submit()
    w.act(cid, Action.REFER, department=DEPARTMENT, question="Máy nén có lỗi?")
    [clock] = [c for c in w.apps["sla"].clocks_of(cid) if c.kind.startswith("department")]
    [alert] = alerts(w.apps["notify"], cid)
    assert alert.context["due_date"] == clock.last_day
    assert alert.status == "sent"


def test_end_to_end_a_follow_up_question_is_timed_and_told_on_its_own() -> None:
    """Through the four applications: the department answers, is asked again; the second
    referral has its own clock, its own alert with that clock's date, and the department
    is warned as that date nears."""
    w = world()
    cid = w.submit()
    w.act(cid, Action.REFER, department=DEPARTMENT, question="Máy nén có lỗi?")
    w.advance(days=1)
    w.act(cid, Action.RECORD_DEPARTMENT_RESPONSE, actor="kt.duc", role="department",
          actor_dept=DEPARTMENT, result="Lỗi máy nén.")
    w.advance(days=1)
    w.act(cid, Action.REFER, department=DEPARTMENT, question="Sửa tại nhà được không?")
    sla, notify = w.apps["sla"], w.apps["notify"]
    second = next(c for c in sla.clocks_of(cid) if c.kind == f"department/{DEPARTMENT}/2")
    assert [a.context["due_date"] for a in alerts(notify, cid)][-1] == second.last_day
    assert len(alerts(notify, cid)) == 2
    w.clock.set(datetime.fromisoformat(f"{second.last_day}T09:00:00+07:00"))
    assert sla.check_clock(second.id, w.clock()) == "approaching"
    w.pump.settle()
    warned = [d for d in dispatches(notify) if d.complaint_id == cid
              and d.purpose == "alert_deadline_approaching"]
    assert notify.recipients.department(DEPARTMENT) in {d.recipient for d in warned}
    assert {d.context["department"] for d in warned} == {DEPARTMENT}


def test_the_same_referral_announced_twice_alerts_once() -> None:
    """A copy of the referral's envelope under another position (an operator's replay
    past the broker's dedupe window) finds its alert already noted."""
    app, cid = _app_with_case()
    referred = referral(cid, internal_due=date(2026, 3, 10))
    app.handle(referred)
    app.handle(referred.model_copy(update={"notification_id": referred.notification_id + 1000}))
    assert len(alerts(app, cid)) == 1
