"""A case referred to the same department again once it answered (a follow-up question,
or a referral after a reopen) is waited for on a clock of its own: before, the first
referral's clock stood, met, and the second referral had no deadline at all."""

from __future__ import annotations

import uuid
from datetime import datetime

from hotro.services.sla.application import SlaApplication
from hotro.services.sla.views import ClockBoard
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from hotro.shared.contracts import events as wire
from tests.unit.sla.builders import envelope, make_app, received, wire_types

DEPARTMENT = "ky-thuat-bao-hanh"


def at(d: int, hh: int = 10) -> datetime:
    return datetime(2026, 3, d, hh, tzinfo=VIETNAM_TZ)


def referred(question: str = "Lỗi máy nén?") -> wire.ReferredToDepartment:
    return wire.ReferredToDepartment(reference="KN-1", department=DEPARTMENT,
                                     question=question)


def answered() -> wire.DepartmentResponded:
    return wire.DepartmentResponded(reference="KN-1", department=DEPARTMENT,
                                    result="Đã kiểm tra")


def _setup() -> tuple[SettableClock, SlaApplication, uuid.UUID]:
    clock = SettableClock(at(2))
    app = make_app(clock)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    app.handle(envelope(cid, referred(), at(2)))
    app.handle(envelope(cid, answered(), at(4)))
    return clock, app, cid


def _department_clocks(app: SlaApplication, cid: uuid.UUID) -> dict[str, str]:
    return {c.kind: c.status for c in app.clocks_of(cid) if c.kind.startswith("department")}


def test_a_second_referral_after_the_answer_gets_its_own_clock() -> None:
    _, app, cid = _setup()
    app.handle(envelope(cid, referred("Có sửa tại nhà được không?"), at(5)))
    assert _department_clocks(app, cid) == {f"department/{DEPARTMENT}": "met",
                                            f"department/{DEPARTMENT}/2": "running"}
    second = next(c for c in app.clocks_of(cid) if c.kind.endswith("/2"))
    assert second.start == "2026-03-05"
    sets = [p for t, clock, p in wire_types(app) if t == "DeadlineSet" and clock == "department"]
    assert [p["start"] for p in sets] == ["2026-03-02", "2026-03-05"]


def test_the_answer_meets_the_latest_referrals_clock() -> None:
    _, app, cid = _setup()
    app.handle(envelope(cid, referred(), at(5)))
    app.handle(envelope(cid, answered(), at(6)))
    assert _department_clocks(app, cid) == {f"department/{DEPARTMENT}": "met",
                                            f"department/{DEPARTMENT}/2": "met"}
    met = [p for t, clock, p in wire_types(app) if t == "DeadlineMet" and clock == "department"]
    assert len(met) == 2


def test_a_referral_while_the_departments_clock_runs_is_the_same_one() -> None:
    clock = SettableClock(at(2))
    app = make_app(clock)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    app.handle(envelope(cid, referred(), at(2)))
    app.handle(envelope(cid, referred(), at(3)))  # the same referral announced again
    assert _department_clocks(app, cid) == {f"department/{DEPARTMENT}": "running"}


def test_a_department_member_sees_a_case_referred_to_it_again() -> None:
    _, app, cid = _setup()
    app.handle(envelope(cid, referred(), at(5)))
    board = ClockBoard(app)
    board.refresh()
    assert board.referred_to(cid, DEPARTMENT)
    assert not board.referred_to(cid, f"{DEPARTMENT}/2")
    [row] = [r for r in board.open_clocks() if r.complaint_id == cid
             and r.kind.startswith("department")]
    assert row.kind == f"department/{DEPARTMENT}/2"
