"""An answer that reaches sla before the request it answers (intake's InfoProvided and
routing's InfoRequested travel on different subjects, so sla may see them in either
order): the request must leave no running customer clock and pause nothing."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from hotro.services.sla.application import SlaApplication
from hotro.services.sla.domain.clock import Clock
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from hotro.shared.contracts import events as wire
from tests.unit.sla.builders import envelope, make_app, received


def at(d: int, hh: int = 10) -> datetime:
    return datetime(2026, 3, d, hh, tzinfo=VIETNAM_TZ)


def _clock(app: SlaApplication, cid: uuid.UUID, kind: str) -> Clock:
    return app.get_clock(Clock.create_id(cid, kind))


def _request(app: SlaApplication, cid: uuid.UUID, when: datetime, round_: int) -> None:
    assert app.handle(envelope(cid, wire.InfoRequested(
        reference="KN-1", items=("hoá đơn",), due_date=date(2026, 3, 20), round=round_), when))


def _answer(app: SlaApplication, cid: uuid.UUID, when: datetime) -> None:
    assert app.handle(envelope(cid, wire.InfoProvided(
        reference="KN-1", channel="email", content="đây"), when))


def test_an_answer_processed_before_its_request_leaves_no_running_customer_clock() -> None:
    app = make_app(SettableClock(at(2)), pause=frozenset({"reply"}))
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(at(2)), at(2)))
    _answer(app, cid, at(5))             # recorded by staff at 10:00 on the 5th ...
    _request(app, cid, at(4), round_=1)  # ... of a request made the day before
    info = _clock(app, cid, "customer_info/1")
    assert info.status == "met" and info.met_at == at(5).isoformat()
    reply = _clock(app, cid, "reply")
    assert reply.status == "running" and reply.last_day == "2026-03-16"  # never paused
    assert _clock(app, cid, "first_contact").status == "met"
    assert [c.kind for c in app.clocks_of(cid) if c.is_open] == ["reply"]


def test_an_earlier_answer_does_not_meet_a_later_request() -> None:
    app = make_app(SettableClock(at(2)))
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(at(2)), at(2)))
    _request(app, cid, at(3), round_=1)
    _answer(app, cid, at(4))
    _request(app, cid, at(5), round_=2)  # a second round: still awaited
    assert _clock(app, cid, "customer_info/1").status == "met"
    assert _clock(app, cid, "customer_info/2").status == "running"


def test_rounds_answered_before_either_request_is_seen_meet_each_at_its_own_answer() -> None:
    app = make_app(SettableClock(at(2)))
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(at(2)), at(2)))
    _answer(app, cid, at(4))
    _answer(app, cid, at(9))
    _request(app, cid, at(3), round_=1)
    _request(app, cid, at(6), round_=2)
    assert _clock(app, cid, "customer_info/1").met_at == at(4).isoformat()
    assert _clock(app, cid, "customer_info/2").met_at == at(9).isoformat()
