"""RoutingApplication: reactions to upstream events (exactly once, stale reports ignored,
business refusals become notes), staff actions, SLA statuses, and what goes on the wire."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from hotro.services.routing.application import ConcurrentChange
from hotro.services.routing.domain.permissions import Forbidden
from hotro.services.routing.domain.workflow import (
    Action,
    IllegalTransition,
    InvalidCommand,
    State,
)
from hotro.services.routing.views import CaseQueues
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from tests.unit.routing.app_builders import (
    Feeder,
    routing_app,
    stored_event_names,
    wire_events,
)
from tests.unit.routing.builders import T0, at, day, trace

SUPPORT = trace("nv.lan", role="support")
BOSS = trace("gs.hoa", role="supervisor")


def _timeline(app: object, complaint_id: uuid.UUID) -> list[str]:
    return [e["event"] for e in app.get_case(complaint_id).timeline]  # type: ignore[attr-defined]


def _request_info(app: object, complaint_id: uuid.UUID, items: list[str],
                  due: date) -> None:
    app.act(complaint_id, Action.REQUEST_INFO, role="support",  # type: ignore[attr-defined]
            actor_department=None, trace=SUPPORT, items=items, due_date=due)


def test_a_complaint_opens_a_case_with_the_rule_that_fired_and_starts_analysis() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    assert feed.received(cid) is cid  # the same complaint again changes nothing
    case = app.get_case(cid)
    assert case.state is State.ANALYSING
    assert case.triage is not None and case.triage["rule_id"] == "bao-hanh-dien-tu"
    assert "quy tắc 'bao-hanh-dien-tu'" in case.triage["explanation"]
    assert _timeline(app, cid) == ["Opened", "TriageApplied", "AnalysisStarted"]


def test_a_late_complaint_awaits_a_supervisors_review_instead_of_being_refused() -> None:
    app = routing_app()
    cid = Feeder(app).received(filed_late=True, filing_deadline=day(-3))
    case = app.get_case(cid)
    assert case.state is State.AWAITING_FILING_REVIEW
    assert _timeline(app, cid) == ["Opened", "TriageApplied", "FilingReviewOpened"]
    assert not [e for e in wire_events(app) if e.event_type == "ComplaintRefused"]
    with pytest.raises(Forbidden):  # support may not decide it
        app.act(cid, Action.ACCEPT_LATE_FILING, role="support", actor_department=None,
                trace=SUPPORT, waiver_reason="x")
    with pytest.raises(IllegalTransition):  # nobody analyses it before the decision
        app.act(cid, Action.REQUEST_INFO, role="support", actor_department=None,
                trace=SUPPORT, items=["hoa-don"], due_date=day(5))


def test_a_supervisor_accepts_a_late_filing_with_a_waiver_reason_once() -> None:
    app = routing_app()
    cid = Feeder(app).received(filed_late=True, filing_deadline=day(-3))
    with pytest.raises(InvalidCommand):
        app.act(cid, Action.ACCEPT_LATE_FILING, role="supervisor", actor_department=None,
                trace=BOSS, waiver_reason="  ")
    app.act(cid, Action.ACCEPT_LATE_FILING, role="supervisor", actor_department=None,
            trace=BOSS, waiver_reason="khách nằm viện, có giấy ra viện")
    case = app.get_case(cid)
    assert case.state is State.ANALYSING
    assert case.filing_review is not None
    assert case.filing_review["decision"] == "accepted"
    assert case.filing_review["by"] == "gs.hoa"
    [accepted] = [e for e in wire_events(app) if e.event_type == "LateFilingAccepted"]
    assert accepted.payload["waiver_reason"] == "khách nằm viện, có giấy ra viện"
    assert accepted.payload["filing_deadline"] == day(-3).isoformat()
    with pytest.raises(IllegalTransition):
        app.act(cid, Action.REFUSE_LATE_FILING, role="supervisor", actor_department=None,
                trace=BOSS)


def test_a_supervisor_refuses_a_late_filing_with_the_rule_and_its_last_day() -> None:
    app = routing_app()
    cid = Feeder(app).received(filed_late=True, filing_deadline=date(2025, 2, 26))
    app.act(cid, Action.REFUSE_LATE_FILING, role="supervisor", actor_department=None,
            trace=BOSS, note="Quý khách có thể gửi yêu cầu tư vấn.")
    case = app.get_case(cid)
    assert case.state is State.REFUSED
    assert case.filing_review is not None and case.filing_review["decision"] == "refused"
    [refused] = [e for e in wire_events(app) if e.event_type == "ComplaintRefused"]
    assert refused.payload["reason"] == "late_filing"
    assert refused.payload["filing_deadline"] == "2025-02-26"
    explanation = refused.payload["explanation"]
    assert "trong vòng 7 ngày làm việc kể từ ngày xảy ra sự việc" in explanation
    assert explanation.endswith("Quý khách có thể gửi yêu cầu tư vấn.")
    assert "working days" not in explanation  # one language


def test_what_the_customer_sends_during_the_review_is_kept_for_the_supervisor() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received(filed_late=True, filing_deadline=day(-3))
    feed.send("intake", wire.InfoProvided(reference="r", channel="email",
                                          content="Tôi nằm viện từ 02/02 đến 20/02"), cid)
    case = app.get_case(cid)
    assert case.state is State.AWAITING_FILING_REVIEW
    assert "Tôi nằm viện từ 02/02 đến 20/02" in case.notes[-1]["text"]
    assert not case.follow_up_pending


def test_a_timely_case_has_no_filing_review_to_decide() -> None:
    app = routing_app()
    cid = Feeder(app).received()
    for action, args in ((Action.ACCEPT_LATE_FILING, {"waiver_reason": "x"}),
                         (Action.REFUSE_LATE_FILING, {})):
        with pytest.raises(IllegalTransition):
            app.act(cid, action, role="supervisor", actor_department=None, trace=BOSS,
                    **args)


def test_information_from_intake_ticks_only_the_items_named() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    _request_info(app, cid, ["hoa-don", "anh-san-pham"], day(5))
    feed.send("intake", wire.InfoProvided(reference="r", channel="email", content="Hóa đơn đây",
                                          items=("hoa-don", "ma-la")), cid)
    case = app.get_case(cid)
    assert case.checklist == {"hoa-don": True, "anh-san-pham": False}
    assert case.state is State.ANALYSING
    assert "ma-la" in case.info_received[-1]["note"]
    feed.send("intake", wire.InfoProvided(reference="r", channel="counter",
                                          content="Ảnh chụp lỗi"), cid)
    assert app.get_case(cid).checklist == {"hoa-don": True, "anh-san-pham": False}
    # intake already published this information: routing does not publish it again
    assert not [e for e in wire_events(app) if e.event_type == "InfoProvided"]


def test_information_for_an_ended_case_is_a_follow_up_a_reopen_clears() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    app.act(cid, Action.FORCE_CLOSE, role="supervisor", actor_department=None, trace=BOSS,
            reason="đã gọi điện trả lời")
    assert feed.send("intake", wire.InfoProvided(reference="r", channel="email",
                                                 content="  Máy vẫn hỏng  "), cid)
    case = app.get_case(cid)
    assert case.state is State.CLOSED
    assert case.follow_up_pending
    assert case.follow_ups[-1]["excerpt"] == "Máy vẫn hỏng"
    [follow_up] = [e for e in wire_events(app) if e.event_type == "FollowUpReceived"]
    assert follow_up.payload == {"reference": case.reference, "channel": "email",
                                 "excerpt": "Máy vẫn hỏng", "case_state": "closed"}
    queues = CaseQueues(app)
    assert [r["complaint_id"] for r in queues.page(offset=0, limit=5, follow_up=True)[1]] \
        == [str(cid)]
    with pytest.raises(Forbidden):  # the supervisor decides
        app.act(cid, Action.DISMISS_FOLLOW_UP, role="support", actor_department=None,
                trace=SUPPORT, reason="x")
    app.act(cid, Action.REOPEN, role="supervisor", actor_department=None, trace=BOSS,
            reason="khách báo lỗi tái diễn")
    assert not app.get_case(cid).follow_up_pending
    assert queues.page(offset=0, limit=5, follow_up=True)[0] == 0


def test_a_supervisor_dismisses_a_follow_up_that_needs_no_reopen() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    app.act(cid, Action.FORCE_CLOSE, role="supervisor", actor_department=None, trace=BOSS,
            reason="đã trả lời")
    with pytest.raises(IllegalTransition):  # nothing to dismiss yet
        app.act(cid, Action.DISMISS_FOLLOW_UP, role="supervisor", actor_department=None,
                trace=BOSS, reason="x")
    feed.send("intake", wire.InfoProvided(reference="r", channel="web",
                                          content="Cảm ơn, tôi đã nhận máy"), cid)
    app.act(cid, Action.DISMISS_FOLLOW_UP, role="supervisor", actor_department=None,
            trace=BOSS, reason="khách chỉ cảm ơn")
    case = app.get_case(cid)
    assert case.state is State.CLOSED and not case.follow_up_pending
    assert CaseQueues(app).page(offset=0, limit=5, follow_up=True)[0] == 0
    assert "FollowUpDismissed" not in {e.event_type for e in wire_events(app)}


def test_deadline_reports_are_recorded_while_they_apply_and_settled_by_progress() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    feed.deadline(cid, "reply", day(14), breached=False)
    feed.deadline(cid, "reply", day(14), breached=False)  # the same report: nothing new
    case = app.get_case(cid)
    assert case.sla_status == "approaching"
    assert _timeline(app, cid).count("DeadlineRecorded") == 1
    app.act(cid, Action.REFER, role="support", actor_department=None, trace=SUPPORT,
            department="ky-thuat-bao-hanh", question="Lỗi máy nén?")
    feed.deadline(cid, "department", day(3), breached=True)
    case = app.get_case(cid)
    assert case.sla_status == "breached"
    assert set(case.deadlines) == {"reply", "department"}
    app.act(cid, Action.RECORD_DEPARTMENT_RESPONSE, role="department",
            actor_department="ky-thuat-bao-hanh", trace=trace("kt.duc", "department", "department"),
            result="Thay máy nén")
    case = app.get_case(cid)
    assert set(case.deadlines) == {"reply"}  # the department answered
    assert case.sla_status == "approaching"
    # a late report about the department clock no longer applies
    feed.deadline(cid, "department", day(3), breached=True)
    assert set(app.get_case(cid).deadlines) == {"reply"}


def test_customer_never_answers_back_to_analysis_by_default() -> None:
    clock = SettableClock(T0)
    app = routing_app(clock)
    feed = Feeder(app)
    cid = feed.received()
    _request_info(app, cid, ["hoa-don"], day(2))
    clock.set(at(3))
    feed.deadline(cid, "customer_info", day(1), breached=True)  # another round's due date
    assert app.get_case(cid).state is State.AWAITING_CUSTOMER_INFO
    feed.deadline(cid, "customer_info", day(2), breached=True)
    case = app.get_case(cid)
    assert case.state is State.ANALYSING
    assert _timeline(app, cid)[-3:] == ["DeadlineRecorded", "InfoRequestLapsed", "NoteAdded"]
    assert "hoa-don" in case.notes[-1]["text"]
    assert case.deadlines == {}  # the lapse settles the customer_info clock
    assert case.checklist == {"hoa-don": False}
    # the case survives storage: reload it from the store's events
    assert app.repository.get(case.id).state is State.ANALYSING


def test_customer_never_answers_withdraws_when_so_configured() -> None:
    app = routing_app(customer_info_timeout="withdraw")
    feed = Feeder(app)
    cid = feed.received()
    _request_info(app, cid, ["hoa-don"], day(2))
    feed.deadline(cid, "customer_info", day(2), breached=True)
    case = app.get_case(cid)
    assert case.state is State.WITHDRAWN
    [closed] = [e for e in wire_events(app) if e.event_type == "ComplaintClosed"]
    assert closed.payload["reason"].startswith("withdrawn: the customer did not provide")


def test_notify_reply_closes_the_case_other_deliveries_are_noted() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    app.act(cid, Action.RESOLVE, role="support", actor_department=None, trace=SUPPORT,
            resolution="Đổi máy mới")
    app.act(cid, Action.REQUEST_REPLY, role="support", actor_department=None, trace=SUPPORT,
            method="email", content="Kính gửi quý khách")
    feed.send("notify", wire.ReplySent(reference="r", purpose="info_request", method="email",
                                       sent_at=at(1), proof="<a@vhv.vn>"), cid)
    assert app.get_case(cid).state is State.REPLY_DUE
    feed.send("notify", wire.ReplySent(reference="r", purpose="reply", method="email",
                                       sent_at=at(1), proof="<b@vhv.vn>"), cid)
    case = app.get_case(cid)
    assert case.state is State.CLOSED
    assert case.reply_sent is not None and case.reply_sent["proof"] == "<b@vhv.vn>"
    assert case.outcome == {"state": "closed", "reason": "replied to the customer by email",
                            "forced": False}
    assert "info_request delivered by email" in case.notes[0]["text"]
    # notify already published the delivery: no ReplySent from routing
    assert not [e for e in wire_events(app) if e.event_type == "ReplySent"]


def test_a_reply_recorded_by_staff_is_published_with_who_gave_it() -> None:
    app = routing_app()
    cid = Feeder(app).received()
    app.act(cid, Action.RESOLVE, role="support", actor_department=None, trace=SUPPORT,
            resolution="Hướng dẫn reset")
    app.act(cid, Action.RECORD_REPLY_SENT, role="agent", actor_department=None,
            trace=trace("hl.minh", "agent"), method="phone", proof="call-7781",
            sent_at=at(hours=2), summary="Đã hướng dẫn qua điện thoại")
    [sent] = [e for e in wire_events(app) if e.event_type == "ReplySent"]
    assert sent.payload["recorded_by"] == "hl.minh"
    assert sent.payload["method"] == "phone"
    assert sent.actor.id == "hl.minh"


@pytest.mark.parametrize(("action", "arguments", "message"), [
    (Action.REFER, {"department": "phong-ma", "question": "?"}, "unknown department"),
    (Action.REQUEST_INFO, {"items": ["so-do"], "due_date": day(3)}, "unknown checklist"),
])
def test_unknown_codes_are_refused_without_an_event(action: Action, arguments: dict[str, object],
                                                    message: str) -> None:
    app = routing_app()
    cid = Feeder(app).received()
    before = stored_event_names(app)
    with pytest.raises(InvalidCommand, match=message):
        app.act(cid, action, role="support", actor_department=None, trace=SUPPORT, **arguments)
    assert stored_event_names(app) == before


def test_the_read_model_rebuilds_from_the_log_overdue_first() -> None:
    clock = SettableClock(T0)
    app = routing_app(clock)
    feed = Feeder(app)
    first = feed.received()
    clock.set(at(hours=1))
    second = feed.received(channel="hotline")
    clock.set(at(hours=2))
    third = feed.received(kind="advice", category=None, product=None)
    feed.deadline(third, "reply", day(10), breached=True)
    feed.deadline(second, "reply", day(10), breached=False)
    queues = CaseQueues(app)
    rows = queues.list()
    assert [r["complaint_id"] for r in rows] == [str(third), str(second), str(first)]
    assert [r["sla_status"] for r in rows] == ["breached", "approaching", "on_track"]
    assert [r["complaint_id"] for r in queues.list(channel="hotline")] == [str(second)]
    assert [r["complaint_id"] for r in queues.list(sla="breached")] == [str(third)]
    app.act(third, Action.WITHDRAW, role="support", actor_department=None, trace=SUPPORT,
            reason="x")
    assert queues.list(state="withdrawn")[0]["sla_status"] is None
    # a fresh model read from the start of the log agrees with the one kept up to date
    assert CaseQueues(app).list() == queues.list()


def test_a_staff_action_meeting_routings_own_concurrent_save_is_applied_to_the_newer_case(
        ) -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    save = app.save
    raced: list[bool] = []

    def save_after_a_reaction(*objects: Any, **kwargs: Any) -> Any:
        if not raced:  # between the staff action's load and its save, sla's breach lands
            raced.append(True)
            assert feed.deadline(cid, "first_contact", day(1), breached=True)
        return save(*objects, **kwargs)

    app.save = save_after_a_reaction  # type: ignore[method-assign]
    app.act(cid, Action.RESOLVE, role="support", actor_department=None, trace=SUPPORT,
            resolution="Đổi máy mới")
    events = _timeline(app, cid)
    assert raced and events[-2:] == ["DeadlineRecorded", "ResolvedBySupport"], events
    assert events.count("ResolvedBySupport") == 1


def test_a_staff_action_that_keeps_meeting_concurrent_saves_asks_to_reload() -> None:
    app = routing_app()
    feed = Feeder(app)
    cid = feed.received()
    save = app.save
    breaches = iter(range(1, 10))

    def always_raced(*objects: Any, **kwargs: Any) -> Any:
        feed.deadline(cid, "first_contact", day(next(breaches)), breached=True)
        return save(*objects, **kwargs)

    app.save = always_raced  # type: ignore[method-assign]
    with pytest.raises(ConcurrentChange, match="reload"):
        app.act(cid, Action.RESOLVE, role="support", actor_department=None, trace=SUPPORT,
                resolution="Đổi máy mới")
    app.save = save  # type: ignore[method-assign]
    assert "ResolvedBySupport" not in _timeline(app, cid)
