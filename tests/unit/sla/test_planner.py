"""CalendarPlanner: working hours, working days left, pauses, versions, policy overrides.
Expected dates hand-checked against the 2026 schedule (Thông báo 9441/TB-BNV, Công văn
12729/VPCP-KGVX)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from hotro.services.sla.adapters.calendar_data import load_planner
from hotro.services.sla.domain.planning import CalendarPlanner
from hotro.shared.calendar import load_calendar, parse_policy
from hotro.shared.calendar.rules import default_policy
from hotro.shared.clock import VIETNAM_TZ


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM_TZ)


@pytest.fixture(scope="module")
def planner() -> CalendarPlanner:
    return load_planner("vn-2026.2")


@pytest.mark.parametrize(("moment", "inside", "why"), [
    (at(2026, 3, 13, 8, 0), True, "Friday 08:00: opening time is inside"),
    (at(2026, 3, 13, 7, 59), False, "Friday 07:59: before opening"),
    (at(2026, 3, 13, 16, 59), True, "Friday 16:59"),
    (at(2026, 3, 13, 17, 0), False, "Friday 17:00: closing time is outside"),
    (at(2026, 3, 14, 10), False, "Saturday"),
    (at(2026, 2, 17, 10), False, "Tuesday 17/02/2026: mùng 1 Tết Bính Ngọ"),
    (at(2026, 1, 2, 10), False, "Friday 02/01/2026: swapped day off (12729/VPCP-KGVX)"),
    (at(2026, 1, 10, 10), True, "Saturday 10/01/2026: worked in exchange"),
    (datetime(2026, 3, 13, 2, 0, tzinfo=UTC), True, "09:00 in Hà Nội is 02:00 UTC"),
    (datetime(2026, 3, 13, 10, 0, tzinfo=UTC), False, "17:00 in Hà Nội"),
])
def test_working_hours(planner: CalendarPlanner, moment: datetime, inside: bool,
                       why: str) -> None:
    assert planner.in_working_hours(moment) is inside, why


def test_configured_working_hours() -> None:
    p = load_planner("vn-2026.2", working_hours=(time(7, 30), time(11, 30)))
    assert p.in_working_hours(at(2026, 3, 13, 7, 30))
    assert not p.in_working_hours(at(2026, 3, 13, 11, 30))
    with pytest.raises(ValueError):
        CalendarPlanner(load_calendar("vn-2026.2"), default_policy(), version_order=[],
                        working_hours=(time(17), time(8)))


@pytest.mark.parametrize(("now", "last_day", "left"), [
    (at(2026, 3, 13), date(2026, 3, 16), 2),   # Friday (today) + Monday
    (at(2026, 3, 14), date(2026, 3, 16), 1),   # Saturday: only Monday
    (at(2026, 3, 16, 23, 59), date(2026, 3, 16), 1),  # the last day itself
    (at(2026, 3, 17), date(2026, 3, 16), 0),   # past
    (at(2026, 2, 13), date(2026, 2, 24), 3),   # Fri 13/2 + Mon 23/2 + Tue 24/2 (Tết between)
])
def test_working_days_left(planner: CalendarPlanner, now: datetime, last_day: date,
                           left: int) -> None:
    assert planner.working_days_left(now, last_day) == left


def test_plan_without_pause_is_the_shared_calendar(planner: CalendarPlanner) -> None:
    plan = planner.plan("reply", at(2026, 3, 2, 9))
    assert plan.last_day == date(2026, 3, 16)  # 3–6, 9–13, 16 March: 10 working days
    assert plan.due_at == datetime(2026, 3, 17, tzinfo=VIETNAM_TZ)
    assert plan.working_days == 10 and plan.calendar_version == "vn-2026.2"
    assert "Civil Code 2015 art. 147" in plan.explanation


def test_pause_takes_the_waiting_days_out_of_the_count(planner: CalendarPlanner) -> None:
    # Received Mon 2/3; paused Wed 4/3 (3 and 4 March consumed: 8 left); resumed Tue 10/3
    # (5, 6, 9, 10 March not counted); counting again from 11/3: 11,12,13,16,17,18,19,20.
    plan = planner.plan_counted(date(2026, 3, 2), 10, "reply: 10",
                                [(date(2026, 3, 4), date(2026, 3, 10))])
    assert plan.last_day == date(2026, 3, 20)
    assert "4 working day(s) not counted; 8 working day(s) still to count" in plan.explanation


def test_two_pauses_and_a_pause_over_tet(planner: CalendarPlanner) -> None:
    # Received Mon 2/2/2026, 10 days. Pause 3/2→5/2 (1 consumed, 9 left); pause 6/2→6/2 is
    # empty; pause 10/2→26/2 (6,9,10 Feb consumed: 6 left). Counting from 27/2:
    # 27/2, 2,3,4,5,6 March -> Friday 6 March.
    plan = planner.plan_counted(date(2026, 2, 2), 10, "reply: 10", [
        (date(2026, 2, 10), date(2026, 2, 26)), (date(2026, 2, 3), date(2026, 2, 5)),
        (date(2026, 2, 6), date(2026, 2, 6))])
    assert plan.last_day == date(2026, 3, 6)


def test_a_pause_after_the_deadline_changes_nothing(planner: CalendarPlanner) -> None:
    plan = planner.plan_counted(date(2026, 3, 2), 2, "r", [(date(2026, 3, 9), date(2026, 3, 20))])
    assert plan.last_day == date(2026, 3, 4)


def test_version_order() -> None:
    newer = load_planner("vn-2026.2")
    older = load_planner("vn-2026.1")
    assert newer.is_newer_than("vn-2026.1") and newer.is_newer_than("vn-2025.1")
    assert not newer.is_newer_than("vn-2026.2")
    assert not older.is_newer_than("vn-2026.2")  # a rolling deploy never re-plans backwards
    assert newer.is_newer_than("some-retired-version")


def test_the_version_order_is_given_not_read() -> None:
    reversed_order = CalendarPlanner(load_calendar("vn-2026.1"), default_policy(),
                                     version_order=["vn-2026.2", "vn-2026.1"])
    assert reversed_order.is_newer_than("vn-2026.2")


def test_product_then_category_overrides() -> None:
    policy = parse_policy("""
[[overrides]]
product = "TRA-GOP-01"
kind = "reply"
working_days = 15
basis = "instalment programme terms"

[[overrides]]
category = "warranty"
kind = "reply"
working_days = 12
basis = "warranty policy"
""", origin="test")
    p = load_planner("vn-2026.2", policy=policy)
    start = at(2026, 3, 2)
    assert p.plan("reply", start, product="TRA-GOP-01", category="warranty").last_day == \
        date(2026, 3, 23)
    by_category = p.plan("reply", start, category="warranty")
    assert by_category.last_day == date(2026, 3, 18)
    assert "category warranty override" in by_category.rule
    assert p.plan("reply", start, product="OTHER").last_day == date(2026, 3, 16)
