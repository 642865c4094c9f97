"""sla's read models kept in tables: the board's rows read back as they were applied (dates,
offsets), in due order, overdue as of any instant, closed clocks leaving while a case's
departments stay; reply compliance by month and per case."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hotro.services.sla.application import SlaApplication
from hotro.services.sla.domain.clock import Clock
from hotro.services.sla.views import ClockBoard, ClockRow, ReplyCompliance
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from hotro.shared.contracts import events as wire
from tests.unit.sla.builders import envelope, make_app, received


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM_TZ)


def _receive(app: SlaApplication, when: datetime, reference: str = "KN-1") -> uuid.UUID:
    cid = uuid.uuid4()
    assert app.handle(envelope(cid, received(when, reference=reference), when))
    return cid


def _refer(app: SlaApplication, cid: uuid.UUID, department: str, when: datetime) -> None:
    assert app.handle(envelope(cid, wire.ReferredToDepartment(
        reference="KN-1", department=department, question="?"), when))


def _reply(app: SlaApplication, cid: uuid.UUID, when: datetime) -> None:
    assert app.handle(envelope(cid, wire.ReplySent(
        reference="KN-1", purpose="reply", method="email", sent_at=when, proof="<r@x>"), when))


def _close(app: SlaApplication, cid: uuid.UUID, when: datetime) -> None:
    assert app.handle(envelope(cid, wire.ComplaintClosed(reference="KN-1", reason="done"),
                               when))


def _id(cid: uuid.UUID, kind: str) -> uuid.UUID:
    return Clock.create_id(cid, kind)


def test_a_row_reads_back_with_its_dates_and_offset() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = _receive(app, clock(), reference="KN-7")
    board = ClockBoard(app)
    board.refresh()
    reply = app.get_clock(_id(cid, "reply"))
    assert board.row(_id(cid, "reply")) == ClockRow(
        clock_id=_id(cid, "reply"), complaint_id=cid, reference="KN-7", kind="reply",
        status="running", last_day=date(2026, 3, 16),
        due_at=datetime(2026, 3, 17, tzinfo=VIETNAM_TZ), approached=False,
        calendar_version=reply.calendar_version, counted=True)
    row = board.row(_id(cid, "reply"))
    assert row is not None and row.due_at.utcoffset() == timedelta(hours=7)
    assert board.row(uuid.uuid4()) is None

    assert app.check_clock(_id(cid, "reply"), at(2026, 3, 13, 8)) == "approaching"
    board.refresh()
    approached = board.row(_id(cid, "reply"))
    assert approached is not None and (approached.approached, approached.status) == (
        True, "running")


def test_a_paused_and_resumed_row_gets_its_new_deadline() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, pause=frozenset({"reply"}))
    cid = _receive(app, clock())
    board = ClockBoard(app)
    assert app.handle(envelope(cid, wire.InfoRequested(
        reference="KN-1", items=("hoá đơn",), due_date=date(2026, 3, 9), round=1),
        at(2026, 3, 4)))
    board.refresh()
    paused = board.row(_id(cid, "reply"))
    assert paused is not None and paused.status == "paused"
    assert app.handle(envelope(cid, wire.InfoProvided(
        reference="KN-1", channel="email", content="đây"), at(2026, 3, 10, 15)))
    board.refresh()
    resumed = board.row(_id(cid, "reply"))
    assert resumed is not None
    assert (resumed.status, resumed.last_day, resumed.due_at) == (
        "running", date(2026, 3, 20), datetime(2026, 3, 21, tzinfo=VIETNAM_TZ))


def test_open_clocks_are_in_due_then_reference_then_kind_order() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    second = _receive(app, clock(), reference="KN-2")  # stored before KN-1, sorts after it
    first = _receive(app, clock(), reference="KN-1")
    earlier = _receive(app, at(2026, 2, 27, 9), reference="KN-9")
    _refer(app, first, "tin-dung", at(2026, 3, 2, 9))  # same instant: by kind
    _refer(app, first, "ke-toan", at(2026, 3, 2, 9))
    board = ClockBoard(app)
    board.refresh()
    rows = board.open_clocks()
    assert rows == sorted(rows, key=lambda r: (r.due_at, r.reference, r.kind))
    listed = [(r.reference, r.kind) for r in rows]
    assert listed == [("KN-1", "department/ke-toan"), ("KN-1", "department/tin-dung"),
                      ("KN-9", "first_contact"), ("KN-1", "first_contact"),
                      ("KN-2", "first_contact"), ("KN-9", "reply"), ("KN-1", "reply"),
                      ("KN-2", "reply")]
    assert {r.complaint_id for r in board.open_clocks()} == {first, second, earlier}


def test_overdue_counts_breached_rows_and_running_ones_past_due_at_any_offset() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = _receive(app, clock())
    board = ClockBoard(app)
    board.refresh()
    assert board.overdue(at(2026, 3, 2, 9)) == []
    assert app.check_clock(_id(cid, "first_contact"), at(2026, 3, 12)) == "breached"
    board.refresh()
    # breached is overdue whatever "now" says; reply is due at 24:00 on 16/3 (17:00 UTC)
    assert [r.kind for r in board.overdue(at(2026, 3, 2, 9))] == ["first_contact"]
    due = datetime(2026, 3, 16, 17, 0, tzinfo=UTC)
    assert [r.kind for r in board.overdue(due - timedelta(microseconds=1))] == [
        "first_contact"]
    assert [r.kind for r in board.overdue(due)] == ["first_contact", "reply"]
    assert all(r.is_overdue(due) for r in board.overdue(due))


def test_a_paused_clock_is_never_overdue() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, pause=frozenset({"reply"}))
    cid = _receive(app, clock())
    assert app.handle(envelope(cid, wire.InfoRequested(
        reference="KN-1", items=("hoá đơn",), due_date=date(2026, 3, 9), round=1),
        at(2026, 3, 4)))
    board = ClockBoard(app)
    board.refresh()
    assert [r.kind for r in board.overdue(at(2026, 5, 1))] == ["customer_info/1"]


def test_met_and_stopped_clocks_leave_the_board_and_the_departments_stay() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = _receive(app, clock())
    other = _receive(app, clock())
    board = ClockBoard(app)
    board.refresh()
    told: list[uuid.UUID] = []
    assert set(board.watch(told.append)) == {_id(c, k) for c in (cid, other)
                                             for k in ("reply", "first_contact")}
    _refer(app, cid, "ke-toan", at(2026, 3, 3))
    _reply(app, cid, at(2026, 3, 4))
    board.refresh()
    assert [r.kind for r in board.open_clocks() if r.complaint_id == cid] == [
        "department/ke-toan"]
    assert board.row(_id(cid, "reply")) is None
    assert {_id(cid, "department/ke-toan"), _id(cid, "reply"),
            _id(cid, "first_contact")} <= set(told)
    assert _id(other, "reply") not in told

    _close(app, cid, at(2026, 3, 5))
    board.refresh()
    assert [r.complaint_id for r in board.open_clocks()] == [other, other]
    assert told[-1] == _id(cid, "department/ke-toan")
    assert board.referred_to(cid, "ke-toan")
    assert not board.referred_to(cid, "tin-dung")
    assert not board.referred_to(other, "ke-toan")


def test_a_refresh_that_fails_half_way_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cids = [_receive(app, clock(), reference=f"KN-{n}") for n in range(3)]
    board = ClockBoard(app)
    read = app.mapper.to_domain_event
    calls = 0

    def flaky(note: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError("store went away")
        return read(note)

    monkeypatch.setattr(app.mapper, "to_domain_event", flaky)
    with pytest.raises(OSError):
        board.refresh()
    board.refresh()
    assert {r.complaint_id for r in board.open_clocks()} == set(cids)
    assert len(board.open_clocks()) == 6


def test_compliance_by_month_and_per_case() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    on_time = _receive(app, at(2026, 3, 2, 9))
    _reply(app, on_time, at(2026, 3, 5))
    _close(app, on_time, at(2026, 3, 5))
    breached = _receive(app, at(2026, 3, 2, 9))
    assert app.check_clock(_id(breached, "reply"), at(2026, 3, 17)) == "breached"
    _close(app, breached, at(2026, 3, 18))  # stopped after the breach: still late
    met_late = _receive(app, at(2026, 3, 2, 9))
    _reply(app, met_late, at(2026, 3, 20))
    stopped = _receive(app, at(2026, 3, 3, 9))
    _close(app, stopped, at(2026, 3, 4))  # never replied: not counted
    still_open = _receive(app, at(2026, 4, 1, 9))
    assert app.handle(envelope(on_time, wire.ComplaintReopened(
        reference="KN-1", reason="not fixed"), at(2026, 4, 2)))
    compliance = ReplyCompliance(app)
    assert compliance.by_month() == {
        "2026-03": {"on_time": 1, "late": 2, "open": 0, "rate": 33.3},
        "2026-04": {"on_time": 0, "late": 0, "open": 2, "rate": 0.0}}
    # the case's first reply clock only (the reopened one counts by month, not here)
    assert compliance.outcomes() == {str(on_time): "on_time", str(breached): "late",
                                     str(met_late): "late", str(still_open): "open"}
    _reply(app, still_open, at(2026, 4, 2))
    assert compliance.outcomes()[str(still_open)] == "on_time"
    assert compliance.by_month()["2026-04"] == {"on_time": 1, "late": 0, "open": 1,
                                                "rate": 100.0}
