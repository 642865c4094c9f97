"""Departments: a department's due date cannot pass the customer's reply deadline (sla's,
as routing recorded it from DeadlineSet and DeadlineReplanned; a reopen's clock replaces
it), and a department's
answer recorded on its behalf is a supervisor's action of its own, after which the
department can still add its own answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from hotro.shared.contracts import events as wire
from tests.unit.routing import test_api as api_fixtures
from tests.unit.routing.app_builders import Feeder
from tests.unit.routing.builders import T0, day
from tests.unit.routing.test_api import Api

api = api_fixtures.api
triage_file = api_fixtures.triage_file


def _reply_clock(feed: Feeder, cid: uuid.UUID, last_day: date) -> None:
    due_at = datetime.combine(last_day + timedelta(days=1), datetime.min.time(),
                              tzinfo=T0.tzinfo)
    assert feed.send("sla", wire.DeadlineSet(
        reference=feed.app.get_case(cid).reference, clock="reply", last_day=last_day,
        due_at=due_at, calendar_version="test", working_days=10, start=day(0),
        rule="test", explanation="test"), cid)


async def test_a_department_due_date_cannot_pass_the_reply_deadline(api: Api) -> None:
    cid = api.feed.received()
    _reply_clock(api.feed, cid, day(12))
    assert api.app.get_case(cid).reply_last_day == day(12).isoformat()
    late = await api.act("support", cid, "refer",
                         {"department": "giao-van", "question": "Hành trình đơn?",
                          "internal_due": day(13).isoformat()})
    assert late.status_code == 422
    assert f"deadline {day(12):%d/%m/%Y}" in str(late.json()["detail"])
    on_time = await api.act("support", cid, "refer",
                            {"department": "giao-van", "question": "Hành trình đơn?",
                             "internal_due": day(12).isoformat()})
    assert on_time.status_code == 200, on_time.text


async def test_a_reopens_reply_clock_moves_the_bound(api: Api) -> None:
    cid = api.feed.received()
    _reply_clock(api.feed, cid, day(12))
    _reply_clock(api.feed, cid, day(30))  # reply/reopen-1 is a "reply" clock on the wire
    assert api.app.get_case(cid).reply_last_day == day(30).isoformat()


async def test_a_reply_deadline_sla_moves_moves_the_bound(api: Api) -> None:
    """A newer calendar notice, or the end of a pause, moves the reply deadline
    (DeadlineReplanned): a department may then be given the later day."""
    cid = api.feed.received()
    _reply_clock(api.feed, cid, day(12))
    assert api.feed.send("sla", wire.DeadlineReplanned(
        reference=api.app.get_case(cid).reference, clock="reply", last_day=day(19),
        due_at=datetime.combine(day(20), datetime.min.time(), tzinfo=T0.tzinfo),
        calendar_version="test", previous_last_day=day(12),
        reason="clock counts again"), cid)

    assert api.app.get_case(cid).reply_last_day == day(19).isoformat()
    later = await api.act("support", cid, "refer",
                          {"department": "giao-van", "question": "Hành trình đơn?",
                           "internal_due": day(19).isoformat()})
    assert later.status_code == 200, later.text


async def test_an_answer_on_the_departments_behalf_then_its_own(api: Api) -> None:
    cid = api.feed.received()
    await api.act("support", cid, "refer", {"department": "ky-thuat-bao-hanh",
                                            "question": "Lỗi máy nén?"})
    support = await api.act("support", cid, "record_department_response",
                            {"department": "ky-thuat-bao-hanh", "result": "x"})
    assert support.status_code == 403
    behalf = await api.act("supervisor", cid, "record_department_response_on_behalf",
                           {"department": "ky-thuat-bao-hanh",
                            "result": "Kỹ thuật báo qua điện thoại: thay máy nén."})
    assert behalf.status_code == 200, behalf.text
    case = api.app.get_case(cid)
    assert case.referrals[-1]["response"]["on_behalf"] is True
    assert case.timeline[-1]["actor_role"] == "supervisor"

    own = await api.act("kythuat", cid, "record_department_response",
                        {"result": "Biên bản kiểm tra: lỗi máy nén, thay mới."})
    assert own.status_code == 200, own.text
    response = api.app.get_case(cid).referrals[-1]["response"]
    assert response["on_behalf"] is False
    assert response["recorded_on_behalf"]["result"].startswith("Kỹ thuật báo")
    again = await api.act("kythuat", cid, "record_department_response", {"result": "y"})
    assert again.status_code == 409  # its own answer is given: no second one
