"""An adversarial audit of the working-day arithmetic at its edges, derived by hand.

Rule (Civil Code 2015 art. 147–148, as ``shared.calendar`` applies it): N working days are
counted from the day AFTER the event's local date (Asia/Ho_Chi_Minh, UTC+7, no DST); the
deadline is the N-th working day and the period ends at 24:00 local that day. Filing window
7, reply 10 working days (docs/process.md steps 1 and 3; data/deadline_policy.toml).

Sources of the expected days (every row names the days it relies on):
  [LC]   Labour Code 2019 art. 112 (1/1; Tết 5 days; Giỗ Tổ 10/3 lunar; 30/4; 1/5; 2/9 + one
         adjacent day, in force 01/01/2021) and art. 111.3 (a holiday on the weekly rest
         day is compensated on the next working day).
  [LC12] Labour Code 2012 art. 115.1.đ: before 2021 Quốc khánh was one day, 2/9 alone.
  [D24] [D25] [D26]  data/vn_2024_2026.toml, the official days of 2024, 2025, 2026:
         2024: 1/1; Tết 8–14/2 (13–14/2 nghỉ bù); 18/4; 29/4 swapped ↔ Sat 4/5 worked;
               30/4; 1/5; 2–3/9.
         2025: 1/1; Tết 27–31/1; 7/4; Sat 26/4 worked ↔ 2/5 swapped; 30/4; 1/5; 1–2/9.
         2026: 1/1; 2/1 swapped ↔ Sat 10/1 worked; Tết 16–20/2; Sun 26/4 Giỗ Tổ + nghỉ
               bù Mon 27/4; 30/4; 1/5; Sat 22/8 worked ↔ 31/8 swapped; 1–2/9.
  [P]    the provisional rules of the data file for a year no notice covers (2027 on, and
         before 2024): Tết = 2 days before mùng 1 + 3 from it; the day joined to 2/9 by
         2/9's weekday (Thu → Fri, Sat → Fri, Sun → Mon); no swaps.
  [LUN]  lunar dates (mùng 1 Tết, Giỗ Tổ) as the `holidays` package (0.109, VN) gives them:
         2027: 6/2 (Sat), 16/4 (Fri); 2028: 26/1 (Wed), 4/4 (Tue); 2035: 8/2 (Thu), 17/4
         (Tue); 2020: 25/1, 2/4; 1999: 16/2, 25/4.
  [CAL]  the Gregorian calendar: 2028 is a leap year (Tue 29/2/2028); 1/1/2027 is a
         Friday, 1/1/2028 a Saturday, 2/9/2028 a Saturday, 2/9/2035 a Sunday.
"(k)" marks the k-th working day counted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotro.cli_calendar import register
from hotro.services.sla.adapters.calendar_data import load_planner
from hotro.shared.calendar import (
    CalendarError,
    OutsideCoverageError,
    WorkingCalendar,
    load_calendar,
    parse_policy,
)
from hotro.shared.calendar.provisional import provisional_days_off
from hotro.shared.calendar.resources import packaged_schedule

D = dt.date.fromisoformat
UTC = dt.UTC
ICT = dt.timezone(dt.timedelta(hours=7))
#: the newest official version when this audit was written: its provisional years are the
#: ones derived below (a later notice for 2027 would be a new version)
VERSION = "vn-2026.2"


def _calendar() -> WorkingCalendar:
    return load_calendar(VERSION)


class Row(NamedTuple):
    event: str
    n: int
    expected: str
    covered: bool
    why: str


ROWS = [
    # ---- covered years: swaps, working Saturdays, events on days off ------------------
    Row("2024-02-07", 7, "2024-02-23", True,
        "[D24] Wed before Tết: 8–14/2 off; Thu 15 (1) Fri 16 (2); Mon 19–Fri 23 (3–7)"),
    Row("2024-04-28", 1, "2024-05-02", True,
        "[D24] Sunday event: Mon 29/4 swapped, 30/4, 1/5 off; Thu 2/5 (1)"),
    Row("2024-05-03", 10, "2024-05-16", True,
        "[D24] Sat 4/5 worked (1); Sun 5; Mon 6–Fri 10 (2–6); Mon 13–Thu 16 (7–10)"),
    Row("2024-05-04", 1, "2024-05-06", True,
        "[D24] event ON the working Saturday: Sun 5; Mon 6 (1)"),
    Row("2024-09-03", 1, "2024-09-04", True, "[D24] event on the adjacent day: Wed 4/9 (1)"),
    Row("2025-04-25", 2, "2025-04-28", True, "[D25] Sat 26/4 worked (1); Sun 27; Mon 28 (2)"),
    Row("2025-04-26", 1, "2025-04-28", True,
        "[D25] event ON the working Saturday: Sun 27; Mon 28 (1)"),
    Row("2025-05-02", 1, "2025-05-05", True,
        "[D25] event on the swapped Friday: Sat 3, Sun 4; Mon 5 (1)"),
    Row("2025-08-31", 1, "2025-09-03", True, "[D25] Sun: Mon 1/9, Tue 2/9 off; Wed 3 (1)"),
    Row("2026-01-02", 1, "2026-01-05", True,
        "[D26] event on the swapped Friday: Sat 3, Sun 4; Mon 5 (1)"),
    Row("2026-01-09", 2, "2026-01-12", True, "[D26] Sat 10/1 worked (1); Sun 11; Mon 12 (2)"),
    Row("2026-01-10", 1, "2026-01-12", True,
        "[D26] event ON the working Saturday: Sun 11; Mon 12 (1)"),
    Row("2026-02-15", 10, "2026-03-06", True,
        "[D26] Sunday inside Tết: 16–22/2 off; Mon 23–Fri 27 (1–5); Mon 2–Fri 6/3 (6–10)"),
    Row("2026-04-25", 1, "2026-04-28", True,
        "[D26] Sat: Sun 26 Giỗ Tổ, Mon 27 nghỉ bù; Tue 28 (1)"),
    Row("2026-08-22", 1, "2026-08-24", True,
        "[D26] event ON the working Saturday: Sun 23; Mon 24 (1)"),
    Row("2026-08-29", 1, "2026-09-03", True,
        "[D26] Sat: Sun 30, Mon 31 swapped, Tue 1/9, Wed 2/9; Thu 3 (1)"),
    Row("2026-09-01", 7, "2026-09-11", True,
        "[D26] event on a holiday: Wed 2/9 off; Thu 3 (1) Fri 4 (2); Mon 7–Fri 11 (3–7)"),
    # ---- year boundaries ----------------------------------------------------------------
    Row("2024-12-31", 10, "2025-01-15", True,
        "[D25] Wed 1/1 off; Thu 2 (1) Fri 3 (2); Mon 6–Fri 10 (3–7); Mon 13–Wed 15 (8–10)"),
    Row("2025-12-31", 7, "2026-01-12", True,
        "[D26] 1/1, 2/1 swapped, 3–4/1 off; Mon 5–Fri 9 (1–5); Sat 10 worked (6); Mon 12 (7)"),
    Row("2026-12-17", 10, "2026-12-31", True,
        "[D26] Fri 18 (1); Mon 21–Fri 25 (2–6); Mon 28–Thu 31 (7–10): all inside 2026"),
    Row("2026-12-30", 1, "2026-12-31", True, "[D26] Thu 31/12/2026 (1), nothing after it"),
    Row("2026-12-31", 1, "2027-01-04", False,
        "[LC][CAL] Fri 1/1/2027 (provisional), Sat 2, Sun 3; Mon 4 (1)"),
    Row("2026-12-25", 7, "2027-01-06", False,
        "[LC] Mon 28 (1) … Thu 31 (4); Fri 1/1/2027 off; Mon 4 (5) Tue 5 (6) Wed 6 (7)"),
    Row("2026-12-24", 10, "2027-01-08", False,
        "[LC] Fri 25 (1); Mon 28–Thu 31 (2–5); Fri 1/1 off; Mon 4–Fri 8 (6–10)"),
    Row("2023-12-29", 1, "2024-01-02", False,
        "[D24] Sat 30, Sun 31/12/2023 (2023: no notice in the data), Mon 1/1/2024; Tue 2 (1)"),
    Row("2027-12-31", 1, "2028-01-04", False,
        "[LC][CAL] Sat 1/1/2028 → nghỉ bù Mon 3/1; Sun 2; Tue 4 (1)"),
    # ---- leap day 2028 ------------------------------------------------------------------
    Row("2028-02-28", 1, "2028-02-29", False, "[CAL] Tue 29/2/2028 is a working day (1)"),
    Row("2028-02-25", 3, "2028-03-01", False, "[CAL] Mon 28 (1) Tue 29 (2) Wed 1/3 (3)"),
    Row("2028-02-29", 1, "2028-03-01", False, "[CAL] event on the leap day: Wed 1/3 (1)"),
    Row("2028-02-21", 7, "2028-03-01", False,
        "[CAL] Tue 22 (1) … Fri 25 (4); Mon 28 (5) Tue 29 (6) Wed 1/3 (7)"),
    Row("2028-02-29", 10, "2028-03-14", False,
        "[CAL] Wed 1 (1) Thu 2 (2) Fri 3 (3); Mon 6–Fri 10 (4–8); Mon 13 (9) Tue 14 (10)"),
    # ---- provisional 2027 ---------------------------------------------------------------
    Row("2027-02-03", 1, "2027-02-11", False,
        "[P][LUN] Tết Thu 4–Mon 8 (mùng 1 Sat 6), nghỉ bù Tue 9, Wed 10; Thu 11 (1)"),
    Row("2027-01-29", 7, "2027-02-16", False,
        "[P][LUN] Mon 1–Wed 3 (1–3); 4–10 off; Thu 11 (4) Fri 12 (5) Mon 15 (6) Tue 16 (7)"),
    Row("2027-04-15", 1, "2027-04-19", False, "[LUN] Fri 16/4 Giỗ Tổ; weekend; Mon 19 (1)"),
    Row("2027-04-29", 1, "2027-05-04", False,
        "[LC] Fri 30/4; Sat 1/5 → nghỉ bù Mon 3/5; Sun 2; Tue 4 (1)"),
    Row("2027-09-01", 1, "2027-09-06", False,
        "[LC][P] Thu 2/9 + Fri 3/9 (Thursday → the next day); weekend; Mon 6 (1)"),
    # ---- provisional 2028 ---------------------------------------------------------------
    Row("2028-01-21", 5, "2028-02-04", False,
        "[P][LUN] Tết Mon 24–Fri 28/1 (mùng 1 Wed 26); Mon 31 (1) … Fri 4/2 (5)"),
    Row("2028-04-03", 1, "2028-04-05", False, "[LUN] Tue 4/4 Giỗ Tổ; Wed 5 (1)"),
    Row("2028-04-28", 1, "2028-05-03", False,
        "[LC] Sun 30/4 → nghỉ bù Tue 2/5 (Mon 1/5 is itself a holiday); Wed 3 (1)"),
    Row("2028-08-31", 1, "2028-09-05", False,
        "[LC][P][CAL] 2/9 Sat → Fri 1/9 joined, nghỉ bù Mon 4/9; Tue 5 (1)"),
    # ---- provisional 2035 ---------------------------------------------------------------
    Row("2035-02-05", 1, "2035-02-13", False,
        "[P][LUN] Tết Tue 6–Sat 10 (mùng 1 Thu 8), Sat → nghỉ bù Mon 12; Tue 13 (1)"),
    Row("2035-04-16", 1, "2035-04-18", False, "[LUN] Tue 17/4 Giỗ Tổ; Wed 18 (1)"),
    Row("2035-04-27", 1, "2035-05-02", False, "[LC] weekend, Mon 30/4, Tue 1/5; Wed 2 (1)"),
    Row("2035-08-31", 1, "2035-09-05", False,
        "[LC][P][CAL] Sun 2/9 → Mon 3/9 joined, nghỉ bù Tue 4/9; Wed 5 (1)"),
    # ---- before the data: explicit, flagged -------------------------------------------
    Row("2021-09-01", 1, "2021-09-06", False,
        "[LC][P] 2021: Thu 2/9 + Fri 3/9 (notice for 2021 gave 2–5/9); Mon 6 (1)"),
    Row("2020-08-28", 7, "2020-09-09", False,
        "[LC12] 2020: 2/9 (Wed) alone; Mon 31/8 (1) Tue 1/9 (2) Thu 3 (3) … Wed 9 (7)"),
    Row("2020-08-31", 1, "2020-09-01", False, "[LC12] Tue 1/9/2020 was a working day (1)"),
    Row("1999-09-01", 1, "1999-09-03", False, "[LC12] 1999: Thu 2/9 alone; Fri 3/9 (1)"),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.event}+{r.n}" for r in ROWS])
def test_hand_derived_deadline(row: Row) -> None:
    calendar = _calendar()

    result = calendar.add_working_days(D(row.event), row.n)

    assert result.last_day == D(row.expected), row.why
    assert result.covered is row.covered, row.why
    assert bool(result.warnings) is not row.covered
    assert len(result.counted) == row.n and result.counted[-1] == result.last_day
    assert result.ends_at == dt.datetime.combine(D(row.expected) + dt.timedelta(days=1),
                                                 dt.time(0), tzinfo=ICT)
    assert calendar.working_days_between(D(row.event), D(row.expected)) == row.n


def test_the_table_spans_every_kind_of_year() -> None:
    years = {r.event[:4] for r in ROWS}
    assert {"1999", "2020", "2024", "2025", "2026", "2027", "2028", "2035"} <= years


def test_a_count_that_starts_before_the_data_says_so_truthfully() -> None:
    result = _calendar().add_working_days(D("2020-08-28"), 7)

    [warning] = result.warnings
    assert "before those calendar vn-2026.2 covers" in warning
    assert "Quốc khánh one day before 2021" in warning
    assert "recompute when it is published" not in warning


# ---- years nothing can be computed for: an explicit CalendarError, never a crash ----------

@pytest.mark.parametrize("event", ["0001-01-01", "1899-12-30", "2151-01-01", "9999-12-30",
                                   "9999-12-31", "2150-12-31"])
def test_dates_beyond_any_schedule_are_refused_explicitly(event: str) -> None:
    with pytest.raises(OutsideCoverageError):
        _calendar().add_working_days(D(event), 1)


@pytest.mark.parametrize("year", [-5, 0, 1, 1899, 2151, 9999, 10000])
def test_years_beyond_any_schedule_are_refused_explicitly(year: int) -> None:
    with pytest.raises(CalendarError, match=r"no provisional one is computed outside 1900–2150"):
        _calendar().special_days(year)


def test_working_days_between_at_the_ends_of_time() -> None:
    calendar = _calendar()

    assert calendar.working_days_between(dt.date.max, dt.date.max) == 0
    assert calendar.working_days_between(dt.date.max, dt.date.min) == 0
    assert calendar.working_days_between(D("2026-03-06"), D("2026-03-02")) == 0


def test_strict_calendar_refuses_2027_but_answers_2026() -> None:
    strict = load_calendar(VERSION, strict=True)

    assert strict.add_working_days(D("2026-12-17"), 10).last_day == D("2026-12-31")
    with pytest.raises(OutsideCoverageError):
        strict.add_working_days(D("2026-12-31"), 1)


# ---- provisional years: what Điều 112 fixes -------------------------------------------

@pytest.mark.parametrize(("year", "off_weekdays"), [
    # [LC][P][LUN][CAL]: each weekday off, the holidays and their nghỉ bù
    (2027, ["01-01", "02-04", "02-05", "02-08", "02-09", "02-10", "04-16", "04-30", "05-03",
            "09-02", "09-03"]),
    (2028, ["01-03", "01-24", "01-25", "01-26", "01-27", "01-28", "04-04", "05-01", "05-02",
            "09-01", "09-04"]),
    (2035, ["01-01", "02-06", "02-07", "02-08", "02-09", "02-12", "04-17", "04-30", "05-01",
            "09-03", "09-04"]),
    # [LC12]: 2/9 alone before 2021 (Tết 2020: 23–29/1 as the notice gave it)
    (2020, ["01-01", "01-23", "01-24", "01-27", "01-28", "01-29", "04-02", "04-30", "05-01",
            "09-02"]),
])
def test_provisional_weekdays_off(year: int, off_weekdays: list[str]) -> None:
    calendar = _calendar()
    off = sorted(d.date for d in calendar.days_off(year) if d.date.weekday() < 5)

    assert off == [D(f"{year}-{md}") for md in off_weekdays]
    assert calendar.working_weekends(year) == []  # swaps are never guessed


# ---- timezone: the local date of the instant, whatever zone it is written in ----------

class Instant(NamedTuple):
    at: str
    n: int
    expected: str
    why: str


INSTANTS = [
    Instant("2026-03-13T23:30:00+07:00", 10, "2026-03-27",
            "Fri 23:30 local (after hours): Mon 16 (1) … Fri 27 (10)"),
    Instant("2026-03-13T16:30:00+00:00", 10, "2026-03-27", "the same instant written in UTC"),
    Instant("2026-03-13T17:00:00+00:00", 10, "2026-03-27",
            "Sat 00:00 local: Sun; Mon 16 (1) … Fri 27 (10)"),
    Instant("2026-03-15T16:59:59+00:00", 10, "2026-03-27", "Sun 23:59:59 local"),
    Instant("2026-03-15T17:30:00+00:00", 10, "2026-03-30",
            "Mon 00:30 local (Sun in UTC): Tue 17 (1) … Mon 30 (10)"),
    Instant("2026-03-15T13:00:00-04:00", 10, "2026-03-30", "Mon 00:00 local, written at -04:00"),
    Instant("2026-03-16T08:00:00+09:00", 10, "2026-03-30", "Mon 06:00 local, written at +09:00"),
    Instant("2026-01-09T17:30:00+00:00", 10, "2026-01-23",
            "[D26] Sat 10/1 00:30 local, a working Saturday, is the event day: Mon 12 (1) … "
            "Fri 23 (10) (the UTC date, Fri 9, would give Thu 22)"),
    Instant("2026-04-30T03:00:00+00:00", 10, "2026-05-15",
            "[D26] received on a holiday (30/4 10:00): Fri 1/5, weekend; Mon 4 (1) … Fri 15 (10)"),
    Instant("2026-12-31T17:00:00+00:00", 1, "2027-01-04",
            "Fri 1/1/2027 00:00 local is the event day: weekend; Mon 4 (1)"),
]


@pytest.mark.parametrize("case", INSTANTS, ids=[i.at for i in INSTANTS])
def test_an_instant_counts_from_its_local_date(case: Instant) -> None:
    result = _calendar().add_working_days(dt.datetime.fromisoformat(case.at), case.n)

    assert result.last_day == D(case.expected), case.why


@pytest.mark.parametrize("case", INSTANTS, ids=[i.at for i in INSTANTS])
def test_sla_plans_the_reply_from_the_local_date(case: Instant) -> None:
    planner = load_planner(VERSION)

    plan = planner.plan("reply", dt.datetime.fromisoformat(case.at), working_days=case.n)

    assert plan.last_day == D(case.expected), case.why
    assert plan.due_at.utcoffset() == dt.timedelta(hours=7)


@pytest.mark.parametrize(("at", "inside", "why"), [
    ("2026-01-10T02:00:00+00:00", True, "[D26] Sat 10/1 09:00 local, a working Saturday"),
    ("2026-03-14T02:00:00+00:00", False, "Sat 14/3 09:00 local, a weekly rest day"),
    ("2026-03-13T01:00:00+00:00", True, "Fri 08:00 local: opening time"),
    ("2026-03-13T10:00:00+00:00", False, "Fri 17:00 local: closing time"),
    ("2026-03-13T00:59:59+00:00", False, "Fri 07:59:59 local"),
    ("2026-04-27T03:00:00+00:00", False, "[D26] Mon 27/4 10:00 local, nghỉ bù"),
])
def test_working_hours_are_local(at: str, inside: bool, why: str) -> None:
    assert load_planner(VERSION).in_working_hours(dt.datetime.fromisoformat(at)) is inside, why


# ---- the filing window (7 working days from the incident) ---------------------------

@pytest.mark.parametrize(("incident", "received", "late", "why"), [
    ("2026-03-02", "2026-03-02T09:00:00+07:00", False,
     "incident on the receipt day: Tue 3 (1) … Wed 11 (7)"),
    ("2026-03-02", "2026-03-11T23:59:59+07:00", False, "the last second of Wed 11/3"),
    ("2026-03-02", "2026-03-11T16:59:59+00:00", False, "the same, written in UTC"),
    ("2026-03-02", "2026-03-11T17:00:00+00:00", True, "Thu 12/3 00:00 local: late"),
    ("2026-12-10", "2026-12-03T09:00:00+07:00", False,
     "an incident date in the future is not late (and does not crash)"),
    ("2026-09-02", "2026-09-11T12:00:00+07:00", False,
     "[D26] incident on a holiday: Thu 3 (1) Fri 4 (2) Mon 7–Fri 11 (3–7)"),
])
def test_filing_window_verdict(incident: str, received: str, late: bool, why: str) -> None:
    deadline = _calendar().add_working_days(D(incident), 7)

    assert (dt.datetime.fromisoformat(received) >= deadline.ends_at) is late, why


def test_a_future_incident_gives_its_deadline() -> None:
    # Fri 11/12 (1); Mon 14–Fri 18 (2–6); Mon 21 (7)
    assert _calendar().add_working_days(D("2026-12-10"), 7).last_day == D("2026-12-21")


# ---- products with their own deadlines ---------------------------------------------

POLICY = """
[defaults.filing]
working_days = 7
basis = "step 1"
[defaults.reply]
working_days = 10
basis = "step 3"
[defaults.first_contact]
working_days = 7
basis = "law"
[defaults.department]
working_days = 5
basis = "internal"
[defaults.customer_info]
working_days = 5
basis = "internal"
[[overrides]]
product = "TRA-GOP-01"
kind = "reply"
working_days = 15
basis = "instalment terms"
[[overrides]]
category = "warranty"
kind = "reply"
working_days = 20
basis = "warranty policy"
[[overrides]]
category = "warranty"
kind = "filing"
working_days = 30
basis = "warranty policy"
"""


@pytest.mark.parametrize(("kind", "product", "category", "days", "last_day"), [
    # reply from Fri 13/2/2026, before Tết [D26]: Mon 23/2 is the first working day
    ("reply", None, None, 10, "2026-03-06"),
    ("reply", "TRA-GOP-01", None, 15, "2026-03-13"),
    ("reply", "TRA-GOP-01", "warranty", 15, "2026-03-13"),  # the product's wins
    ("reply", "OTHER", "warranty", 20, "2026-03-20"),
    ("filing", "TRA-GOP-01", None, 7, "2026-03-03"),  # the product's is for reply only
    ("filing", None, "warranty", 30, "2026-04-03"),
])
def test_product_and_category_deadlines(kind: str, product: str | None, category: str | None,
                                        days: int, last_day: str) -> None:
    # Mon 23–Fri 27/2 (1–5); Mon 2–Fri 6/3 (6–10); 9–13/3 (11–15); 16–20/3 (16–20);
    # 23–27/3 (21–25); Mon 30 (26) Tue 31 (27); Wed 1/4 (28) Thu 2 (29) Fri 3 (30)
    policy = parse_policy(POLICY, origin="test")
    planner = load_planner(VERSION, policy=policy)

    plan = planner.plan(kind, D("2026-02-13"), product=product, category=category)

    assert plan.working_days == days
    assert plan.last_day == D(last_day)
    assert planner.calendar.working_days_between(D("2026-02-13"), plan.last_day) == days


# ---- `hotro calendar` / `hotro deadline` at the same edges ----------------------------

def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="hotro")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([argv[0], "--calendar-version", VERSION, *argv[1:]])
    code: int = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("year", [-5, 0, 1, 1899, 2151, 9999, 10000])
def test_cli_calendar_refuses_a_year_it_cannot_answer_without_a_traceback(
        year: int, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(["calendar", "--", str(year)], capsys)

    assert code == 2 and out == ""
    assert err.startswith("error: ") and "1900–2150" in err


@pytest.mark.parametrize(("year", "present", "absent"), [
    (2027, ["2027-02-09 Tue compensatory", "2027-05-03 Mon compensatory",
            "2027-09-03 Fri holiday"], []),
    (2028, ["2028-01-03 Mon compensatory", "2028-05-02 Tue compensatory",
            "2028-09-01 Fri holiday", "2028-09-04 Mon compensatory"], ["2028-02-29"]),
    (2035, ["2035-02-12 Mon compensatory", "2035-09-04 Tue compensatory"], []),
    (2020, ["2020-09-02 Wed holiday"], ["2020-09-01", "2020-09-03"]),
    (1999, ["1999-09-02 Thu holiday"], ["1999-09-03"]),
])
def test_cli_calendar_for_uncovered_years(year: int, present: list[str], absent: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _cli(["calendar", str(year)], capsys)

    assert code == 0 and "WARNING: not covered by an official schedule" in out
    assert all(line in out for line in present), out
    assert not any(text in out for text in absent), out


@pytest.mark.parametrize(("event", "n", "first_line"), [
    ("2026-01-09T17:30:00Z", 10, "2026-01-23"),  # Sat 10/1 local, a working Saturday
    ("2026-01-09T23:30:00+07:00", 1, "2026-01-10"),  # Fri local: Sat 10/1 worked (1)
    ("2028-02-28", 1, "2028-02-29"),
    ("2026-12-31", 1, "2027-01-04"),
])
def test_cli_deadline_edges(event: str, n: int, first_line: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _cli(["deadline", "--from", event, "--working-days", str(n)], capsys)

    assert code == 0 and out.splitlines()[0] == first_line


@pytest.mark.parametrize("event", ["9999-12-31", "9999-12-30", "0001-01-01",
                                   "2026-01-09T23:30:00"])
def test_cli_deadline_refuses_with_exit_code_2(event: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(["deadline", "--from", event, "--working-days", "1"], capsys)

    assert code == 2 and out == "" and err.startswith("error: ")


# ---- properties ------------------------------------------------------------------------

#: one calendar for the properties (computations are cached per calendar: cheap to repeat)
PROPERTY_CALENDAR = _calendar()
#: events from the year before the data to well into the provisional years
events = st.dates(min_value=D("2023-06-01"), max_value=D("2036-12-31"))
counts = st.integers(min_value=1, max_value=40)
FEW = settings(max_examples=150, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])


@FEW
@given(events, counts)
def test_the_deadline_is_the_nth_working_day_after_the_event(event: dt.date, n: int) -> None:
    calendar = PROPERTY_CALENDAR
    result = calendar.add_working_days(event, n)

    assert calendar.is_working_day(result.last_day)
    assert calendar.working_days_between(event, result.last_day) == n
    # …and the first day that many: one day earlier there is one fewer
    assert calendar.working_days_between(event, result.last_day - dt.timedelta(days=1)) == n - 1
    assert result.counted == sorted(set(result.counted)) and result.counted[0] > event
    assert all(calendar.is_working_day(day) for day in result.counted)
    assert not any(calendar.is_working_day(s.date) for s in result.skipped)
    assert result.ends_at.utcoffset() == dt.timedelta(hours=7)
    assert result.ends_at.date() == result.last_day + dt.timedelta(days=1)
    assert result.covered is all(calendar.covers(day) for day in
                                 [*result.counted, *(s.date for s in result.skipped)])


@FEW
@given(events, events, counts)
def test_monotone_in_the_start(a: dt.date, b: dt.date, n: int) -> None:
    early, late = sorted((a, b))

    assert (PROPERTY_CALENDAR.add_working_days(early, n).last_day
            <= PROPERTY_CALENDAR.add_working_days(late, n).last_day)


@FEW
@given(events, counts, counts)
def test_monotone_in_n_and_additive(event: dt.date, m: int, n: int) -> None:
    calendar = PROPERTY_CALENDAR
    first = calendar.add_working_days(event, m).last_day

    assert calendar.add_working_days(event, m + n).last_day == \
        calendar.add_working_days(first, n).last_day
    assert first < calendar.add_working_days(event, m + n).last_day


instants = st.datetimes(min_value=dt.datetime(2023, 6, 1), max_value=dt.datetime(2036, 12, 31),
                        timezones=st.timezones())


@FEW
@given(instants, counts)
def test_an_instant_is_counted_from_its_date_in_vietnam(moment: dt.datetime, n: int) -> None:
    # independent: UTC+7 with no DST, so the local date is that of the UTC instant + 7 hours
    local = (moment.astimezone(UTC) + dt.timedelta(hours=7)).date()

    assert PROPERTY_CALENDAR.local_date(moment) == local
    assert PROPERTY_CALENDAR.add_working_days(moment, n) == \
        PROPERTY_CALENDAR.add_working_days(local, n)


@contextmanager
def _host_tz(name: str) -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


HOST_ZONES = ["UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12",
              "Asia/Ho_Chi_Minh", "Europe/London"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instants, counts)
def test_nothing_depends_on_the_hosts_tz(moment: dt.datetime, n: int) -> None:
    seen = set()
    for zone in HOST_ZONES:
        with _host_tz(zone):
            calendar = load_calendar(VERSION)  # a fresh calendar: no cache shared
            planner = load_planner(VERSION)
            result = calendar.add_working_days(moment, n)
            seen.add((result.last_day, result.ends_at.isoformat(), result.explain(),
                      planner.plan("reply", moment).last_day,
                      planner.in_working_hours(moment),
                      planner.working_days_left(moment, result.last_day)))
    assert len(seen) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1900, max_value=2150))
def test_every_provisional_year_keeps_to_article_112(year: int) -> None:
    days = provisional_days_off(year, packaged_schedule().provisional)
    holidays = [d for d in days if days[d].kind == "holiday"]
    compensatory = [d for d in days if days[d].kind == "compensatory"]

    # 1/1, 5 Tết, Giỗ Tổ, 30/4, 1/5, 2/9 (+ its adjacent day from 2021) — unless two of
    # them fall on one day (Giỗ Tổ on 30/4 or 1/5), which stays one day off
    assert len(holidays) in ((11, 10) if year >= 2021 else (10, 9))
    assert all(d.year == year for d in days)
    assert all(d.weekday() < 5 for d in compensatory)
    assert len(compensatory) == len([d for d in holidays if d.weekday() >= 5])
    assert all(not day.official for day in days.values())
