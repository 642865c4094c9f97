"""SlaApplication on a real eventsourcing store: reactions, pause policy, timer checks,
calendar re-planning, races between replicas, and the wire mapping."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from hotro.services.sla.application import SlaApplication
from hotro.services.sla.domain.clock import CaseClocks, Clock
from hotro.services.sla.views import ClockBoard
from hotro.services.sla.workers import SlaTimer
from hotro.shared.calendar import parse_policy
from hotro.shared.calendar.rules import DEFAULT_RULES, DeadlineKind, DeadlinePolicy, DeadlineRule
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope
from tests.unit.sla.builders import (
    domain_events,
    envelope,
    make_app,
    received,
    sqlite_env,
    wire_types,
)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM_TZ)


def _clock(app: SlaApplication, complaint_id: uuid.UUID, kind: str) -> Clock:
    return app.get_clock(Clock.create_id(complaint_id, kind))


def test_received_starts_reply_and_first_contact_clocks_with_explanation() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    assert app.handle(envelope(cid, received(clock()), clock()))
    assert {c.kind: c.last_day for c in app.clocks_of(cid)} == {
        "reply": "2026-03-16", "first_contact": "2026-03-11"}
    sets = [p for t, _, p in wire_types(app) if t == "DeadlineSet"]
    assert {p["clock"] for p in sets} == {"reply", "first_contact"}
    reply = next(p for p in sets if p["clock"] == "reply")
    assert reply["start"] == "2026-03-02" and reply["working_days"] == 10
    assert "Skipped 4 non-working day(s)" in reply["explanation"]
    # the same upstream event delivered again is a no-op (tracking)
    again = envelope(cid, received(clock()), clock())
    assert app.handle(again) and not app.handle(again)
    assert len(app.clocks_of(cid)) == 2
    assert len(wire_types(app)) == 2


def test_product_override_from_the_policy_file(tmp_path: Path) -> None:
    policy = parse_policy('[[overrides]]\nproduct = "TRA-GOP-01"\nkind = "reply"\n'
                          'working_days = 15\nbasis = "instalment terms"\n', origin="t")
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, policy=policy)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock(), product="TRA-GOP-01"), clock()))
    reply = _clock(app, cid, "reply")
    assert reply.last_day == "2026-03-23" and reply.working_days == 15
    assert "product TRA-GOP-01 override" in reply.rule


def _request_info(app: SlaApplication, cid: uuid.UUID, when: datetime, due: date) -> None:
    app.handle(envelope(cid, wire.InfoRequested(
        reference="KN-1", items=("hoá đơn",), due_date=due, round=1), when))


def _provide_info(app: SlaApplication, cid: uuid.UUID, when: datetime) -> None:
    app.handle(envelope(cid, wire.InfoProvided(
        reference="KN-1", channel="email", content="đây"), when))


def test_by_default_the_reply_clock_keeps_running_while_awaiting_the_customer() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    _request_info(app, cid, at(2026, 3, 4), date(2026, 3, 9))
    assert _clock(app, cid, "reply").status == "running"
    assert _clock(app, cid, "first_contact").status == "met"  # engaging the customer
    info = _clock(app, cid, "customer_info/1")
    assert (info.last_day, info.counted) == ("2026-03-09", False)
    _provide_info(app, cid, at(2026, 3, 10))
    reply = _clock(app, cid, "reply")
    assert (reply.status, reply.last_day) == ("running", "2026-03-16")
    assert _clock(app, cid, "customer_info/1").status == "met"
    assert "DeadlineReplanned" not in [t for t, _, _ in wire_types(app)]


def test_a_pausing_reply_clock_moves_its_deadline_by_the_waiting_days() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, pause=frozenset({"reply"}))
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    _request_info(app, cid, at(2026, 3, 4), date(2026, 3, 9))
    assert _clock(app, cid, "reply").status == "paused"
    # while paused the timer raises nothing, even long after the old deadline
    assert app.check_clock(Clock.create_id(cid, "reply"), at(2026, 3, 18)) is None
    _provide_info(app, cid, at(2026, 3, 10, 15))
    reply = _clock(app, cid, "reply")
    assert (reply.status, reply.last_day) == ("running", "2026-03-20")
    replanned = [p for t, c, p in wire_types(app) if t == "DeadlineReplanned"]
    assert len(replanned) == 1
    assert replanned[0]["previous_last_day"] == "2026-03-16"
    assert replanned[0]["last_day"] == "2026-03-20"
    assert "information arrived on 2026-03-10" in replanned[0]["reason"]
    assert "Paused" not in {t for t, _, _ in wire_types(app)}


def test_closing_the_case_stops_every_open_clock_including_a_breached_one() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    assert app.check_clock(Clock.create_id(cid, "first_contact"), at(2026, 3, 12)) == "breached"
    closed = wire.ComplaintClosed(reference="KN-1", reason="done")
    app.handle(envelope(cid, closed, at(2026, 3, 12)))
    assert {c.kind: c.status for c in app.clocks_of(cid)} == {
        "reply": "stopped", "first_contact": "stopped"}
    assert app.check_clock(Clock.create_id(cid, "reply"), at(2026, 4, 1)) is None


def test_approaching_in_working_hours_only_then_breached_then_met_each_once() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    reply = Clock.create_id(cid, "reply")  # last day Monday 16/3
    assert app.check_clock(reply, at(2026, 3, 12, 10)) is None    # 3 working days left
    assert app.check_clock(reply, at(2026, 3, 13, 7, 59)) is None  # 2 left, before opening
    assert app.check_clock(reply, at(2026, 3, 14, 10)) is None    # Saturday
    assert app.check_clock(reply, at(2026, 3, 13, 8, 0)) == "approaching"
    assert app.check_clock(reply, at(2026, 3, 16, 9)) is None
    assert app.check_clock(reply, at(2026, 3, 16, 23, 59)) is None
    assert app.check_clock(reply, datetime(2026, 3, 17, tzinfo=VIETNAM_TZ)) == "breached"
    assert app.check_clock(reply, at(2026, 3, 18)) is None
    app.handle(envelope(cid, wire.ReplySent(reference="KN-1", purpose="reply", method="email",
                                            sent_at=at(2026, 3, 18), proof="<m@x>"),
                        at(2026, 3, 18)))
    events = [(t, c) for t, c, _ in wire_types(app) if c == "reply"]
    assert events == [("DeadlineSet", "reply"), ("DeadlineApproaching", "reply"),
                      ("DeadlineBreached", "reply"), ("DeadlineMet", "reply")]
    approaching = [p for t, c, p in wire_types(app) if t == "DeadlineApproaching"]
    assert approaching[0]["working_days_left"] == 2


def test_lead_time_is_configurable() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, lead_days=5)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    reply = Clock.create_id(cid, "reply")
    assert app.check_clock(reply, at(2026, 3, 9, 10)) is None  # 6 left
    assert app.check_clock(reply, at(2026, 3, 10, 10)) == "approaching"  # 5 left


def test_a_replica_with_a_stale_copy_loses_the_race(tmp_path: Path) -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    env = sqlite_env(tmp_path / "sla.sqlite")
    a, b = make_app(clock, env=env), make_app(clock, env=env)
    cid = uuid.uuid4()
    a.handle(envelope(cid, received(clock()), clock()))
    clock_id = Clock.create_id(cid, "reply")
    late = at(2026, 3, 20)
    stale: Clock = b.repository.get(clock_id)  # replica b read before replica a saved
    assert a.check_clock(clock_id, late) == "breached"
    stale.breach(now=late, trace=stale.trace)
    assert b._save_or_lose(stale) is False
    assert b.check_clock(clock_id, late) is None
    breached = [e for e in domain_events(a) if isinstance(e, Clock.Breached)]
    assert len(breached) == 1


def test_timer_raises_what_passed_while_down_exactly_once(tmp_path: Path) -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    env = sqlite_env(tmp_path / "sla.sqlite")
    app = make_app(clock, env=env)
    ids = [uuid.uuid4() for _ in range(5)]
    for cid in ids:
        app.handle(envelope(cid, received(clock()), clock()))
    app.close()
    clock.set(at(2026, 4, 1))  # weeks later, sla comes back
    restarted = make_app(clock, env=env)
    timer = SlaTimer(restarted, ClockBoard(restarted), lambda: [0, 1, 2, 3], 4)
    assert timer.tick() == 10
    assert timer.tick() == 0
    assert restarted.check_clock(Clock.create_id(ids[0], "reply"), clock()) is None
    breached = [e for e in domain_events(restarted) if isinstance(e, Clock.Breached)]
    assert len(breached) == 10
    assert len({e.originator_id for e in breached}) == 10


def test_timer_checks_only_held_partitions(tmp_path: Path) -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    for _ in range(8):
        app.handle(envelope(uuid.uuid4(), received(clock()), clock()))
    clock.set(at(2026, 4, 1))
    board = ClockBoard(app)
    none = SlaTimer(app, board, lambda: [], 4)
    assert none.tick() == 0
    half = SlaTimer(app, board, lambda: [0, 1], 4)
    rest = SlaTimer(app, board, lambda: [2, 3], 4)
    assert half.tick() + rest.tick() == 16
    assert len(board.overdue(clock())) == 16


def test_newer_calendar_replans_open_clocks_and_never_closed_ones(tmp_path: Path) -> None:
    """vn-2026.1 -> vn-2026.2 (Công văn 12729/VPCP-KGVX, 25/12/2025): Friday 2/1/2026 off,
    Saturday 10/1 worked. First contact (7 days from Mon 29/12/2025) moves from Thu 8/1 to
    Fri 9/1; the reply (10 days) stays Tue 13/1."""
    clock = SettableClock(at(2025, 12, 29, 9))
    env = sqlite_env(tmp_path / "sla.sqlite")
    old = make_app(clock, env=env, calendar_version="vn-2026.1")
    running, answered = uuid.uuid4(), uuid.uuid4()
    for cid in (running, answered):
        old.handle(envelope(cid, received(clock()), clock()))
    old.handle(envelope(answered, wire.AcknowledgementSent(
        reference="KN-1", method="email", sent_at=at(2025, 12, 29, 11), proof="<a@x>"),
        at(2025, 12, 29, 11)))
    assert _clock(old, running, "first_contact").last_day == "2026-01-08"
    old.close()

    new = make_app(clock, env=env, calendar_version="vn-2026.2")
    timer = SlaTimer(new, ClockBoard(new), lambda: [], 4)
    timer.tick()
    assert timer.replanned == 1
    moved = _clock(new, running, "first_contact")
    assert (moved.last_day, moved.calendar_version) == ("2026-01-09", "vn-2026.2")
    assert moved.due_at == "2026-01-10T00:00:00+07:00"
    assert "Friday 2026-01-02" in moved.explanation
    assert _clock(new, running, "reply").last_day == "2026-01-13"  # unchanged: no event
    met = _clock(new, answered, "first_contact")
    assert (met.status, met.last_day, met.calendar_version) == ("met", "2026-01-08",
                                                                "vn-2026.1")
    replanned = [p for t, _, p in wire_types(new) if t == "DeadlineReplanned"]
    assert len(replanned) == 1
    assert replanned[0]["previous_last_day"] == "2026-01-08"
    assert "vn-2026.1 replaced by vn-2026.2" in replanned[0]["reason"]
    timer.tick()
    new.close()
    again = make_app(clock, env=env, calendar_version="vn-2026.2")  # a second start
    SlaTimer(again, ClockBoard(again), lambda: [], 4).tick()
    older = make_app(clock, env=env, calendar_version="vn-2026.1")  # a lagging replica
    lagging = SlaTimer(older, ClockBoard(older), lambda: [], 4)
    lagging.tick()
    assert lagging.replanned == 0
    assert len([t for t, _, _ in wire_types(older) if t == "DeadlineReplanned"]) == 1


def test_board_follows_the_log() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, pause=frozenset({"reply"}))
    board = ClockBoard(app)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    board.refresh()
    assert {r.kind: r.status for r in board.open_clocks()} == {
        "reply": "running", "first_contact": "running"}
    _request_info(app, cid, at(2026, 3, 4), date(2026, 3, 9))
    board.refresh()
    assert {r.kind: r.status for r in board.open_clocks()} == {
        "reply": "paused", "customer_info/1": "running"}
    assert board.overdue(at(2026, 3, 9, 23, 59)) == []
    # due at 24:00 on 9/3: overdue from then on, even before the timer records the breach
    assert [r.kind for r in board.overdue(at(2026, 3, 10))] == ["customer_info/1"]
    _provide_info(app, cid, at(2026, 3, 10))
    board.refresh()
    assert {r.kind: r.status for r in board.open_clocks()} == {"reply": "running"}


def test_an_event_of_a_slower_partition_is_not_mistaken_for_a_duplicate(
        tmp_path: Path) -> None:
    """Partitions progress independently: intake's position 9 (partition 2) may arrive
    after position 36 (partition 0). It must be applied, and a redelivery of it dropped."""
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, env=sqlite_env(tmp_path / "sla.sqlite"))
    fast, slow = uuid.uuid4(), uuid.uuid4()
    late = envelope(fast, received(clock()), clock()).model_copy(update={"notification_id": 36})
    early = envelope(slow, received(clock()), clock()).model_copy(update={"notification_id": 9})
    assert app.handle(late)
    assert app.handle(early)
    assert not app.handle(early) and not app.handle(late)
    assert len(app.clocks_of(slow)) == 2 and len(app.clocks_of(fast)) == 2


# ---- reopened and refused cases ---------------------------------------------------------

def _five_day_replies() -> DeadlinePolicy:
    """Not the packaged policy: 5 working days to reply."""
    return DeadlinePolicy(defaults={**DEFAULT_RULES, DeadlineKind.REPLY: DeadlineRule(
        working_days=5, basis="test policy: five working days")})


def _reply_and_close(app: SlaApplication, cid: uuid.UUID, when: datetime) -> None:
    app.handle(envelope(cid, wire.ReplySent(reference="KN-1", purpose="reply", method="email",
                                            sent_at=when, proof="<r@x>"), when))
    app.handle(envelope(cid, wire.ComplaintClosed(reference="KN-1", reason="answered"), when))


def _reopen(cid: uuid.UUID, when: datetime) -> Envelope:
    return envelope(cid, wire.ComplaintReopened(reference="KN-1", reason="not fixed"), when)


def test_a_reopened_case_gets_a_new_reply_clock_from_the_reopen_instant() -> None:
    """Calendar vn-2026.1 (not the newest) and a 5-day reply policy: reopened Monday
    29/12/2025, the five working days are 30, 31/12, 2, 5, 6/1 (1/1 is a holiday; vn-2026.2
    would give Friday 2/1 off and end on 7/1)."""
    clock = SettableClock(at(2025, 12, 1, 9))
    app = make_app(clock, calendar_version="vn-2026.1", policy=_five_day_replies())
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    _reply_and_close(app, cid, at(2025, 12, 5))
    assert [c.status for c in app.clocks_of(cid) if c.is_open] == []

    clock.set(at(2025, 12, 29, 10))
    reopened = _reopen(cid, clock())
    assert app.handle(reopened)
    again = _clock(app, cid, "reply/reopen-1")
    assert (again.status, again.start, again.last_day, again.due_at, again.working_days,
            again.calendar_version) == ("running", "2025-12-29", "2026-01-06",
                                        "2026-01-07T00:00:00+07:00", 5, "vn-2026.1")
    assert Clock.create_id(cid, "reply/reopen-1") != Clock.create_id(cid, "reply")
    assert _clock(app, cid, "reply").status == "met"  # the first reply's history stands
    sets = [p for t, _, p in wire_types(app) if t == "DeadlineSet"]
    assert len(sets) == 3  # reply, first_contact, and the reopened reply
    assert (sets[-1]["clock"], sets[-1]["start"], sets[-1]["last_day"],
            sets[-1]["working_days"]) == ("reply", "2025-12-29", "2026-01-06", 5)

    # exactly once: the same reopen delivered again changes nothing
    published = len(wire_types(app))
    assert not app.handle(reopened)
    assert [c.kind for c in app.clocks_of(cid)] == ["reply", "first_contact", "reply/reopen-1"]
    assert len(wire_types(app)) == published

    # the timer watches it like any reply clock; the next reply meets it
    board = ClockBoard(app)
    board.refresh()
    assert [(r.kind, r.last_day) for r in board.open_clocks()] == [
        ("reply/reopen-1", date(2026, 1, 6))]
    _reply_and_close(app, cid, at(2026, 1, 5))
    assert (_clock(app, cid, "reply/reopen-1").status,
            _clock(app, cid, "reply/reopen-1").on_time) == ("met", True)
    assert wire_types(app)[-1][:2] == ("DeadlineMet", "reply")


def test_each_reopening_has_its_own_clock_with_the_cases_reply_rule() -> None:
    """The reopened clock keeps the days the policy gave the case (its product's
    override); a second reopening gets a second clock."""
    policy = parse_policy('[[overrides]]\nproduct = "TRA-GOP-01"\nkind = "reply"\n'
                          'working_days = 15\nbasis = "instalment terms"\n', origin="t")
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock, policy=policy)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock(), product="TRA-GOP-01"), clock()))
    _reply_and_close(app, cid, at(2026, 3, 4))
    app.handle(_reopen(cid, at(2026, 3, 9)))
    first = _clock(app, cid, "reply/reopen-1")
    assert (first.working_days, first.last_day) == (15, "2026-03-30")
    assert "product TRA-GOP-01 override" in first.rule
    _reply_and_close(app, cid, at(2026, 3, 11))
    app.handle(_reopen(cid, at(2026, 3, 16)))
    assert {c.kind: c.status for c in app.clocks_of(cid)} == {
        "reply": "met", "first_contact": "met", "reply/reopen-1": "met",
        "reply/reopen-2": "running"}


def test_reopening_a_case_sla_never_clocked_uses_the_policy_default() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    app.handle(_reopen(cid, clock()))
    reply = _clock(app, cid, "reply/reopen-1")
    assert (reply.status, reply.working_days, reply.last_day) == ("running", 10, "2026-03-16")


def test_refusing_the_case_stops_its_clocks() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    board = ClockBoard(app)
    cid = uuid.uuid4()
    app.handle(envelope(cid, received(clock()), clock()))
    refused = envelope(cid, wire.ComplaintRefused(
        reference="KN-1", reason="late_filing", explanation="quá hạn",
        filing_deadline=date(2026, 2, 20)), at(2026, 3, 3))
    assert app.handle(refused)
    assert {c.kind: c.status for c in app.clocks_of(cid)} == {
        "reply": "stopped", "first_contact": "stopped"}
    board.refresh()
    assert board.open_clocks() == []
    assert app.check_clock(Clock.create_id(cid, "reply"), at(2026, 4, 1)) is None
    assert not app.handle(refused)
    assert [t for t, _, _ in wire_types(app)] == ["DeadlineSet", "DeadlineSet"]


def test_a_late_filing_has_no_reply_clock_until_a_supervisor_accepts_it() -> None:
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    late = received(clock()).model_copy(update={"filed_late": True,
                                                "filing_deadline": date(2026, 2, 20)})
    app.handle(envelope(cid, late, clock()))
    assert {c.kind for c in app.clocks_of(cid)} == {"first_contact"}
    assert [p["clock"] for t, _, p in wire_types(app) if t == "DeadlineSet"] == \
        ["first_contact"]
    # Three working days under review count for nothing: the clock starts on the decision.
    decided = at(2026, 3, 5, 15)
    accepted = wire.LateFilingAccepted(reference="KN-1", waiver_reason="khách nằm viện",
                                       filing_deadline=date(2026, 2, 20))
    app.handle(envelope(cid, accepted, decided))
    reply = _clock(app, cid, "reply")
    assert reply.start == "2026-03-05" and reply.working_days == 10
    assert reply.last_day == "2026-03-19"
    [reply_set] = [p for t, _, p in wire_types(app)
                   if t == "DeadlineSet" and p["clock"] == "reply"]
    assert reply_set["last_day"] == "2026-03-19"


def test_starting_a_received_complaints_clocks_reads_the_store_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a clock exists is read from the case's index, which every clock's start
    writes in the same save: one read for a complaint just received (its index, absent),
    not one per clock as well; a referral's clock on a case with clocks, the same. The
    same referral again reads the department's clock too: still open, it is the one."""
    clock = SettableClock(at(2026, 3, 2, 9))
    app = make_app(clock)
    cid = uuid.uuid4()
    reads: list[uuid.UUID] = []
    get = app.repository.get

    def counted(aggregate_id: uuid.UUID, **kwargs: Any) -> Any:
        reads.append(aggregate_id)
        return get(aggregate_id, **kwargs)

    monkeypatch.setattr(app.repository, "get", counted)
    assert app.handle(envelope(cid, received(clock()), clock()))
    assert reads == [CaseClocks.create_id(cid)]
    assert {c.kind for c in app.clocks_of(cid)} == {"reply", "first_contact"}
    reads.clear()
    referral = wire.ReferredToDepartment(reference="KN-1", department="ky-thuat",
                                         question="?")
    assert app.handle(envelope(cid, referral, clock()))
    assert reads == [CaseClocks.create_id(cid)]
    reads.clear()
    assert app.handle(envelope(cid, referral, clock()))  # the same referral again
    assert reads == [CaseClocks.create_id(cid), Clock.create_id(cid, "department/ky-thuat")]
    assert [c.kind for c in app.clocks_of(cid)].count("department/ky-thuat") == 1
