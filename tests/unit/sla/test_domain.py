"""Clock guards: each deadline event at most once; history never rewritten."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from hotro.services.sla.domain.clock import CaseClocks, Clock, ClockError, PausePolicy
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.eventstore.trace import sample_trace

DUE = datetime(2026, 3, 17, 0, 0, tzinfo=VIETNAM_TZ)
T = sample_trace()


def _clock() -> Clock:
    return Clock(complaint_id=uuid.uuid4(), kind="reply", reference="KN-1", start="2026-03-02",
                 last_day="2026-03-16", due_at=DUE.isoformat(), working_days=10,
                 rule="reply: 10", explanation="…", calendar_version="vn-2026.2",
                 counted=True, trace=T)


def _types(clock: Clock) -> list[str]:
    return [type(e).__name__ for e in clock.collect_events()]


def test_breach_only_when_due_and_only_once() -> None:
    clock = _clock()
    with pytest.raises(ClockError, match="not due"):
        clock.breach(now=DUE - timedelta(microseconds=1), trace=T)
    clock.breach(now=DUE, trace=T)  # 24:00 of the last day is already late
    with pytest.raises(ClockError):
        clock.breach(now=DUE + timedelta(days=1), trace=T)
    assert _types(clock) == ["Set", "Breached"]
    assert clock.status == "breached" and clock.is_open


def test_approaching_once_and_never_after_a_breach() -> None:
    clock = _clock()
    clock.approach(working_days_left=2, trace=T)
    with pytest.raises(ClockError, match="already"):
        clock.approach(working_days_left=1, trace=T)
    other = _clock()
    other.breach(now=DUE, trace=T)
    with pytest.raises(ClockError):
        other.approach(working_days_left=0, trace=T)


def test_met_late_after_breach_then_closed_for_good() -> None:
    clock = _clock()
    clock.breach(now=DUE, trace=T)
    clock.meet(at=DUE + timedelta(hours=3), trace=T)
    assert (clock.status, clock.on_time) == ("met", False)
    actions: list[Callable[[], None]] = [lambda: clock.meet(at=DUE, trace=T),
                                         lambda: clock.stop(reason="x", trace=T),
                                         lambda: clock.breach(now=DUE, trace=T)]
    for action in actions:
        with pytest.raises(ClockError):
            action()


def test_met_on_time_before_due() -> None:
    clock = _clock()
    clock.meet(at=DUE - timedelta(seconds=1), trace=T)
    assert clock.on_time is True


@pytest.mark.parametrize("close", ["meet", "stop", "breach"])
def test_replan_never_rewrites_a_closed_or_breached_clock(close: str) -> None:
    clock = _clock()
    {"meet": lambda: clock.meet(at=DUE, trace=T), "stop": lambda: clock.stop(reason="r", trace=T),
     "breach": lambda: clock.breach(now=DUE, trace=T)}[close]()
    with pytest.raises(ClockError, match="only running"):
        clock.replan(last_day="2026-03-17", due_at=(DUE + timedelta(days=1)).isoformat(),
                     working_days=10, rule="r", explanation="e", calendar_version="v2",
                     reason="new notice", trace=T)


def test_replan_refuses_an_unchanged_deadline_and_keeps_approached() -> None:
    clock = _clock()
    with pytest.raises(ClockError, match="unchanged"):
        clock.replan(last_day=clock.last_day, due_at=clock.due_at, working_days=10, rule="r",
                     explanation="e", calendar_version="v2", reason="x", trace=T)
    clock.approach(working_days_left=2, trace=T)
    clock.replan(last_day="2026-03-17", due_at=(DUE + timedelta(days=1)).isoformat(),
                 working_days=10, rule="r", explanation="e", calendar_version="v2",
                 reason="new notice", trace=T)
    assert clock.approached  # a second DeadlineApproaching is never raised for one clock
    assert (clock.last_day, clock.calendar_version, clock.status) == ("2026-03-17", "v2",
                                                                      "running")


def test_pause_and_resume() -> None:
    clock = _clock()
    with pytest.raises(ClockError, match="cannot resume"):
        clock.resume(at=DUE, on="2026-03-10", last_day="x", due_at="x", explanation="e",
                     calendar_version="v", reason="r", trace=T)
    with pytest.raises(ClockError, match="already due"):
        clock.pause(at=DUE, on="2026-03-17", reason="r", trace=T)
    clock.pause(at=DUE - timedelta(days=12), on="2026-03-04", reason="info", trace=T)
    assert clock.status == "paused" and clock.is_open
    with pytest.raises(ClockError):
        clock.breach(now=DUE + timedelta(days=1), trace=T)  # a paused clock does not breach
    with pytest.raises(ClockError, match="before the pause"):
        clock.resume(at=DUE, on="2026-03-03", last_day="x", due_at="x", explanation="e",
                     calendar_version="v", reason="r", trace=T)
    assert clock.pauses_if_resumed_on("2026-03-10") == [("2026-03-04", "2026-03-10")]
    clock.resume(at=DUE - timedelta(days=6), on="2026-03-10", last_day="2026-03-20",
                 due_at="2026-03-21T00:00:00+07:00", explanation="e", calendar_version="v",
                 reason="info arrived", trace=T)
    assert clock.status == "running" and clock.last_day == "2026-03-20"
    assert clock.closed_pauses() == [("2026-03-04", "2026-03-10")]
    assert _types(clock) == ["Set", "Paused", "Resumed"]


def test_meeting_a_paused_clock_is_on_time() -> None:
    clock = _clock()
    clock.pause(at=DUE - timedelta(days=12), on="2026-03-04", reason="info", trace=T)
    clock.meet(at=DUE + timedelta(days=5), trace=T)
    assert clock.on_time is True


def test_pause_policy_default_pauses_nothing_and_refuses_unknown_kinds() -> None:
    assert not PausePolicy().pauses_while_awaiting_customer("reply")
    policy = PausePolicy(frozenset({"reply", "department"}))
    assert policy.pauses_while_awaiting_customer("reply")
    assert policy.pauses_while_awaiting_customer("department/QA")
    assert not policy.pauses_while_awaiting_customer("first_contact")
    with pytest.raises(ValueError, match="customer_info"):
        PausePolicy(frozenset({"customer_info"}))


def test_case_index_lists_a_kind_once() -> None:
    index = CaseClocks(complaint_id=uuid.uuid4(), trace=T)
    index.add(kind="reply", trace=T)
    with pytest.raises(ClockError):
        index.add(kind="reply", trace=T)
    assert index.kinds == ["reply"]
