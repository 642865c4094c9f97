"""The four branches of the support process at the aggregate level, and the guards."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import pytest

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.triage import TriageDecision
from hotro.services.routing.domain.workflow import (
    Action,
    IllegalTransition,
    InvalidCommand,
    ReopenPeriodExpired,
    State,
)
from hotro.shared.eventstore.trace import sample_trace
from tests.unit.routing.builders import (
    T0,
    at,
    day,
    event_names,
    open_case,
    state_of,
    trace,
)

SUPPORT = trace("nv.lan", role="support")
AGENT = trace("nv.hung", role="agent")
NOTIFY = trace("notify", role=None, kind="system")


def replied_case() -> Case:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(hours=1))
    case.resolve(resolution="Đổi máy mới", trace=SUPPORT, now=at(hours=2))
    case.record_reply_sent(method="phone", proof="call-1", sent_at=at(hours=3),
                           trace=AGENT, now=at(hours=3))
    return case


def closed_case(on: datetime = T0) -> Case:
    case = replied_case()
    case.close(reason="Đã trả lời", trace=SUPPORT, now=on)
    return case


def test_case_id_is_derived_from_the_complaint_id() -> None:
    complaint_id = uuid.uuid4()
    assert Case.create_id(complaint_id) == Case.create_id(complaint_id)
    assert open_case(complaint_id=complaint_id).id == Case.create_id(complaint_id)
    assert Case.create_id(uuid.uuid4()) != Case.create_id(complaint_id)


def test_opened_case_records_what_was_received() -> None:
    case = open_case(channel="email", kind="advice", product="the-thanh-vien",
                     category="diem-thanh-vien", filed_late=False)
    assert state_of(case) is State.NEW
    assert (case.channel, case.kind, case.product, case.category) == (
        "email", "advice", "the-thanh-vien", "diem-thanh-vien")
    assert case.incident_date == day(-2).isoformat()
    assert case.info_rounds == 0 and case.checklist == {}
    assert case.timeline == [{"event": "Opened", "at": T0, "actor_id": "intake",
                              "actor_kind": "system", "actor_role": None, "state": "new"}]


def test_a_info_requested_twice_then_resolved_by_support_replied_by_email_and_closed() -> None:
    case = open_case()
    case.apply_triage(TriageDecision(rule_id="tu-khoa-loi-san-pham", outcome="request_info",
                                     checklist=("hoa-don", "anh-san-pham"), explanation="…"),
                      trace=NOTIFY, now=at(hours=0.5))
    case.start_analysis(trace=SUPPORT, now=at(hours=1))
    case.request_info(items=["hoa-don", "anh-san-pham"], due_date=day(5),
                      message="Xin gửi hóa đơn và ảnh", trace=SUPPORT, now=at(hours=2))
    assert state_of(case) is State.AWAITING_CUSTOMER_INFO
    assert case.open_checklist_items == ["hoa-don", "anh-san-pham"]

    case.record_info_provided(items=["hoa-don"], channel="email", trace=NOTIFY, now=at(1))
    assert state_of(case) is State.ANALYSING
    assert case.checklist == {"hoa-don": True, "anh-san-pham": False}

    case.request_info(items=["anh-san-pham", "phieu-bao-hanh"], due_date=day(6),
                      trace=SUPPORT, now=at(2))
    case.record_info_provided(items=["anh-san-pham", "phieu-bao-hanh"], channel="counter",
                              attachments=[{"sha256": "0" * 64, "filename": "loi.jpg",
                                            "content_type": "image/jpeg", "size": 10}],
                              trace=AGENT, now=at(3))
    assert case.info_rounds == 2
    assert case.open_checklist_items == []
    assert case.info_due_date == day(6).isoformat()

    case.resolve(resolution="Đổi sản phẩm mới tại cửa hàng", trace=SUPPORT, now=at(4))
    case.request_reply(method="email", content="Kính gửi Quý khách…", trace=SUPPORT, now=at(4))
    assert state_of(case) is State.REPLY_DUE
    assert case.reply_request is not None and case.reply_request["language"] == "vi"
    case.record_reply_sent(method="email", proof="<abc@vhv.vn>", sent_at=at(4, hours=1),
                           trace=NOTIFY, now=at(4, hours=1))
    case.close(reason="Đã trả lời khách hàng", trace=SUPPORT, now=at(5))

    assert state_of(case) is State.CLOSED
    assert case.outcome == {"state": "closed", "reason": "Đã trả lời khách hàng",
                            "forced": False}
    assert case.ended_at == at(5)
    assert event_names(case) == [
        "Opened", "TriageApplied", "AnalysisStarted", "InfoRequested", "InfoProvided",
        "InfoRequested", "InfoProvided", "ResolvedBySupport", "ReplyRequested", "ReplySent",
        "Closed",
    ]
    assert case.triage is not None and case.triage["rule_id"] == "tu-khoa-loi-san-pham"
    assert case.version == len(case.timeline)


def test_b_referred_department_responds_reply_by_letter_and_closed() -> None:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(hours=1))
    case.refer(department="ky-thuat-bao-hanh", question="Máy có lỗi nhà sản xuất không?",
               internal_due=day(3), trace=SUPPORT, now=at(hours=2))
    assert state_of(case) is State.REFERRED_TO_DEPARTMENT
    assert case.department == "ky-thuat-bao-hanh"

    engineer = trace("kt.minh", role="department", kind="department")
    case.record_department_response(department="ky-thuat-bao-hanh",
                                    result="Lỗi bo mạch, đổi máy", trace=engineer, now=at(2))
    assert state_of(case) is State.DEPARTMENT_RESPONDED
    assert case.referrals[-1]["response"]["result"] == "Lỗi bo mạch, đổi máy"

    case.request_reply(method="letter", content="Công văn trả lời", trace=SUPPORT, now=at(3))
    case.record_reply_sent(method="letter", proof="CV-2025-118", sent_at=at(3),
                           trace=SUPPORT, now=at(3))
    case.close(reason="Đã gửi công văn", trace=SUPPORT, now=at(4))

    assert state_of(case) is State.CLOSED
    assert event_names(case)[1:] == [
        "AnalysisStarted", "ReferredToDepartment", "DepartmentResponded", "ReplyRequested",
        "ReplySent", "Closed",
    ]
    assert [entry["actor_id"] for entry in case.timeline][3] == "kt.minh"


def test_c_resolved_at_once_and_phone_reply_recorded_by_staff() -> None:
    case = replied_case()
    assert state_of(case) is State.REPLIED
    assert case.reply_sent == {"method": "phone", "proof": "call-1", "sent_at": at(hours=3),
                               "summary": "", "recorded_by": "nv.hung"}
    assert event_names(case) == ["Opened", "AnalysisStarted", "ResolvedBySupport", "ReplySent"]


def test_d_late_complaint_is_refused() -> None:
    case = open_case(incident_date=day(-20), filing_deadline=day(-9), filed_late=True)
    case.refuse(reason="late_filing", explanation="Quá 07 ngày làm việc kể từ ngày gặp sự cố",
                trace=SUPPORT, now=at(hours=1))
    assert state_of(case) is State.REFUSED
    assert case.outcome == {"state": "refused", "reason": "late_filing",
                            "explanation": "Quá 07 ngày làm việc kể từ ngày gặp sự cố",
                            "filing_deadline": day(-9).isoformat()}
    assert event_names(case) == ["Opened", "Refused"]


def test_customer_may_withdraw_an_open_case() -> None:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(1))
    case.withdraw(reason="Khách tự xử lý được", trace=AGENT, now=at(2))
    assert state_of(case) is State.WITHDRAWN and case.is_ended


Command = Callable[[Case], None]

ILLEGAL: list[tuple[str, Command, Action]] = [
    ("close before any reply",
     lambda c: c.close(reason="x", trace=sample_trace(), now=at(1)), Action.CLOSE),
    ("resolve before analysis",
     lambda c: c.resolve(resolution="x", trace=sample_trace(), now=at(1)), Action.RESOLVE),
    ("department response without referral",
     lambda c: c.record_department_response(department="giao-van", result="x",
                                            trace=sample_trace(), now=at(1)),
     Action.RECORD_DEPARTMENT_RESPONSE),
    ("reply sent before resolution",
     lambda c: c.record_reply_sent(method="email", proof="p", sent_at=at(1),
                                   trace=sample_trace(), now=at(1)),
     Action.RECORD_REPLY_SENT),
    ("reopen an open case",
     lambda c: c.reopen(reason="x", within_days=30, trace=sample_trace(), now=at(1)),
     Action.REOPEN),
    ("info provided when none was requested",
     lambda c: c.record_info_provided(items=[], channel="email", trace=sample_trace(),
                                      now=at(1)),
     Action.RECORD_INFO_PROVIDED),
]


@pytest.mark.parametrize(("label", "command", "action"), ILLEGAL, ids=[i[0] for i in ILLEGAL])
def test_illegal_transitions_raise_and_leave_the_case_unchanged(
        label: str, command: Command, action: Action) -> None:
    case = open_case()
    version, pending, before = case.version, len(case.collect_events()), repr(case)
    with pytest.raises(IllegalTransition) as raised:
        command(case)
    assert raised.value.state is State.NEW and raised.value.action is action
    assert action.value in str(raised.value) and "new" in str(raised.value)
    assert case.version == version and case.collect_events() == [] and pending == 1
    assert repr(case) == before


def test_nothing_but_notes_and_reopening_once_closed() -> None:
    case = closed_case(on=at(1))
    assert case.allowed_actions() == [Action.REOPEN, Action.ADD_NOTE]
    with pytest.raises(IllegalTransition, match="cannot withdraw a case that is closed"):
        case.withdraw(trace=SUPPORT, now=at(2))
    case.add_note(text="Khách gọi lại cảm ơn", trace=AGENT, now=at(2))
    assert state_of(case) is State.CLOSED
    assert case.notes == [{"at": at(2), "author": "nv.hung", "text": "Khách gọi lại cảm ơn"}]


@pytest.mark.parametrize("command", [
    lambda c: c.refer(department="giao-van", question=" ", trace=SUPPORT, now=at(1)),
    lambda c: c.request_info(items=[], due_date=day(3), trace=SUPPORT, now=at(1)),
    lambda c: c.request_info(items=["hoa-don", "hoa-don"], due_date=day(3), trace=SUPPORT,
                             now=at(1)),
    lambda c: c.request_info(items=["hoa-don"], due_date=day(-1), trace=SUPPORT, now=at(0)),
    lambda c: c.resolve(resolution="ok", trace=SUPPORT, now=datetime(2025, 3, 4)),
    lambda c: c.refuse(reason="too_hard", explanation="x", trace=SUPPORT, now=at(1)),
], ids=["blank question", "no items", "repeated items", "due in the past", "naive now",
        "unknown refusal reason"])
def test_invalid_arguments_are_refused_before_any_event(command: Command) -> None:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(hours=1))
    case.collect_events()
    with pytest.raises(InvalidCommand):
        command(case)
    assert case.version == 2 and case.collect_events() == []


def test_only_the_referred_department_can_respond() -> None:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(hours=1))
    case.refer(department="giao-van", question="Đơn đi đâu?", trace=SUPPORT, now=at(1))
    with pytest.raises(InvalidCommand, match="referred to 'giao-van', not 'ke-toan-hoan-tien'"):
        case.record_department_response(department="ke-toan-hoan-tien", result="x",
                                        trace=SUPPORT, now=at(2))
    assert case.version == 3


def test_only_requested_items_can_be_ticked() -> None:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(hours=1))
    case.request_info(items=["hoa-don"], due_date=day(3), trace=SUPPORT, now=at(hours=2))
    with pytest.raises(InvalidCommand, match="never requested"):
        case.record_info_provided(items=["ma-don-hang"], channel="web", trace=SUPPORT,
                                  now=at(1))
    assert state_of(case) is State.AWAITING_CUSTOMER_INFO


def test_reopen_inside_the_period_goes_back_to_analysis() -> None:
    case = closed_case(on=at(0))
    case.reopen(reason="Khách chưa nhận được máy đổi", within_days=30,
                trace=trace("gs.thu", role="supervisor"), now=at(30))
    assert state_of(case) is State.ANALYSING
    assert case.reopen_count == 1 and case.ended_at is None and case.outcome is None
    assert event_names(case)[-2:] == ["Closed", "Reopened"]


def test_reopen_outside_the_period_is_refused() -> None:
    case = closed_case(on=at(0))
    with pytest.raises(ReopenPeriodExpired, match="within 30 days"):
        case.reopen(reason="x", within_days=30, trace=SUPPORT, now=at(30, hours=1))
    assert state_of(case) is State.CLOSED and case.version == 5


def test_a_refused_case_may_be_reopened_but_a_withdrawn_one_may_not() -> None:
    refused = open_case(filed_late=True)
    refused.refuse(reason="late_filing", explanation="x", trace=SUPPORT, now=at(1))
    refused.reopen(reason="Khách chứng minh ngày mua", within_days=7, trace=SUPPORT,
                   now=at(2))
    assert refused.state is State.ANALYSING

    withdrawn = open_case()
    withdrawn.withdraw(trace=SUPPORT, now=at(1))
    with pytest.raises(IllegalTransition):
        withdrawn.reopen(reason="x", within_days=7, trace=SUPPORT, now=at(2))


def test_supervisor_override_closes_without_reply() -> None:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(1))
    case.force_close(reason="Trùng với KN-2025-000041", trace=SUPPORT, now=at(2))
    assert case.outcome == {"state": "closed", "reason": "Trùng với KN-2025-000041",
                            "forced": True}


def test_every_action_is_the_name_of_a_case_command() -> None:
    # The application service dispatches staff actions with getattr(case, action.value).
    for action in Action:
        assert callable(getattr(Case, action.value)), action
