"""Hand-checked deadlines against the official 2024–2026 schedule (calendar vn-2026.2).

Each row: event date, n working days, expected last day, and the hand count. Counting starts on
the day after the event (Civil Code art. 147); "(k)" marks the k-th working day.
Days off used below (public-sector schedule):
  2024: 1/1; Tết 8–14/2 (10–11/2 on the weekend, nghỉ bù 13–14/2); 18/4; 29/4 swapped (Sat 4/5
        worked); 30/4; 1/5; 2–3/9.
  2025: 1/1; Tết 27–31/1 (break 25/1–2/2); 7/4; 30/4; 1/5; 2/5 swapped (Sat 26/4 worked); 1–2/9.
  2026: 1/1; 2/1 swapped (Sat 10/1 worked); Tết 16–20/2 (break 14–22/2); 26/4 Sun + nghỉ bù
        27/4; 30/4; 1/5; 31/8 swapped (Sat 22/8 worked); 1–2/9.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pytest

from hotro.shared.calendar import load_calendar


class Row(NamedTuple):
    event: str
    n: int
    expected: str
    why: str


D = dt.date.fromisoformat

ROWS = [
    # ---- 2024 ---------------------------------------------------------------------------
    Row("2024-01-01", 1, "2024-01-02", "event on a holiday (Mon 1/1): Tue 2/1 (1)"),
    Row("2024-02-16", 1, "2024-02-19", "Friday start: Sat 17, Sun 18 skipped; Mon 19 (1)"),
    Row("2024-02-07", 1, "2024-02-15", "Wed before Tết: Thu 8–Wed 14 off; Thu 15 (1)"),
    Row(
        "2024-02-02",
        5,
        "2024-02-16",
        "Fri: Sat 3/Sun 4; Mon 5 (1) Tue 6 (2) Wed 7 (3); Tết 8–14; Thu 15 (4) Fri 16 (5)",
    ),
    Row(
        "2024-02-09",
        3,
        "2024-02-19",
        "event on Tết (30 Chạp): 10–14 off; Thu 15 (1) Fri 16 (2); weekend; Mon 19 (3)",
    ),
    Row("2024-02-13", 1, "2024-02-15", "event on a nghỉ bù day: Wed 14 also off; Thu 15 (1)"),
    Row(
        "2024-02-05",
        10,
        "2024-02-26",
        "reply window: Tue 6 (1) Wed 7 (2); Tết 8–14; Thu 15 (3) Fri 16 (4); "
        "Mon 19–Fri 23 (5–9); weekend; Mon 26 (10)",
    ),
    Row("2024-04-17", 1, "2024-04-19", "Thu 18/4 Giỗ Tổ off; Fri 19 (1)"),
    Row(
        "2024-04-26",
        1,
        "2024-05-02",
        "Fri: Sat 27, Sun 28, Mon 29 (swapped), Tue 30/4, Wed 1/5 off; Thu 2/5 (1)",
    ),
    Row(
        "2024-04-26",
        3,
        "2024-05-04",
        "as above: Thu 2/5 (1) Fri 3/5 (2); Sat 4/5 is the làm bù Saturday (3)",
    ),
    Row(
        "2024-04-25",
        7,
        "2024-05-08",
        "Fri 26/4 (1); 27/4–1/5 off; Thu 2 (2) Fri 3 (3) Sat 4 worked (4); Sun 5; "
        "Mon 6 (5) Tue 7 (6) Wed 8 (7)",
    ),
    Row("2024-05-03", 1, "2024-05-04", "swapped Saturday: Sat 4/5 is a working day (1)"),
    Row("2024-05-03", 2, "2024-05-06", "Sat 4/5 (1); Sun 5 skipped; Mon 6 (2)"),
    Row("2024-04-30", 1, "2024-05-02", "event on 30/4: Wed 1/5 off; Thu 2/5 (1)"),
    Row("2024-08-30", 1, "2024-09-04", "Fri: Sat 31/8, Sun 1/9, Mon 2/9, Tue 3/9 off; Wed 4/9 (1)"),
    Row(
        "2024-08-29",
        10,
        "2024-09-16",
        "Fri 30/8 (1); 31/8–3/9 off; Wed 4 (2) Thu 5 (3) Fri 6 (4); "
        "Mon 9–Fri 13 (5–9); Mon 16 (10)",
    ),
    Row("2024-09-02", 1, "2024-09-04", "event on Quốc khánh: Tue 3/9 off too; Wed 4 (1)"),
    Row(
        "2024-12-27",
        3,
        "2025-01-02",
        "year end: Sat 28, Sun 29; Mon 30 (1) Tue 31 (2); Wed 1/1/2025 off; Thu 2/1 (3)",
    ),
    Row("2024-12-31", 1, "2025-01-02", "New Year's Eve: Wed 1/1 off; Thu 2/1 (1)"),
    # ---- 2025 ---------------------------------------------------------------------------
    Row("2025-01-24", 1, "2025-02-03", "Friday before Tết: 25/1–2/2 all off; Mon 3/2 (1)"),
    Row(
        "2025-01-24",
        7,
        "2025-02-11",
        "filing window, Friday before Tết 2025: Mon 3–Fri 7/2 (1–5); Mon 10 (6) Tue 11 (7)",
    ),
    Row(
        "2025-01-22",
        10,
        "2025-02-12",
        "Thu 23 (1) Fri 24 (2); 25/1–2/2 off; Mon 3–Fri 7 (3–7); Mon 10 (8) Tue 11 (9) Wed 12 (10)",
    ),
    Row("2025-01-25", 1, "2025-02-03", "Saturday start inside the Tết break; Mon 3/2 (1)"),
    Row("2025-01-29", 2, "2025-02-04", "event on mùng 1: 30/1–2/2 off; Mon 3 (1) Tue 4 (2)"),
    Row(
        "2025-01-30",
        7,
        "2025-02-11",
        "event on mùng 2: 31/1–2/2 off; Mon 3–Fri 7 (1–5); Mon 10 (6) Tue 11 (7)",
    ),
    Row("2025-04-04", 1, "2025-04-08", "Fri: Sat 5, Sun 6, Mon 7/4 Giỗ Tổ; Tue 8 (1)"),
    Row("2025-04-25", 1, "2025-04-26", "Sat 26/4/2025 is the làm bù Saturday (1)"),
    Row(
        "2025-04-25",
        5,
        "2025-05-06",
        "Sat 26 (1); Sun 27; Mon 28 (2) Tue 29 (3); 30/4, 1/5, Fri 2/5 swapped, 3–4/5 off; "
        "Mon 5 (4) Tue 6 (5)",
    ),
    Row("2025-04-29", 1, "2025-05-05", "30/4–4/5 off (2/5 swapped); Mon 5/5 (1)"),
    Row("2025-05-01", 1, "2025-05-05", "event on 1/5: Fri 2/5 swapped, weekend; Mon 5/5 (1)"),
    Row(
        "2025-04-30",
        10,
        "2025-05-16",
        "event on 30/4: 1–4/5 off; Mon 5–Fri 9 (1–5); Mon 12–Fri 16 (6–10)",
    ),
    Row("2025-08-29", 1, "2025-09-03", "Fri: Sat 30, Sun 31, Mon 1/9, Tue 2/9 off; Wed 3/9 (1)"),
    Row(
        "2025-08-28",
        7,
        "2025-09-10",
        "Fri 29 (1); 30/8–2/9 off; Wed 3 (2) Thu 4 (3) Fri 5 (4); Mon 8 (5) Tue 9 (6) Wed 10 (7)",
    ),
    Row(
        "2025-12-31",
        1,
        "2026-01-05",
        "year end: Thu 1/1 holiday, Fri 2/1 swapped, Sat 3, Sun 4; Mon 5/1 (1)",
    ),
    Row(
        "2025-12-30",
        5,
        "2026-01-08",
        "Wed 31/12 (1); 1–4/1 off; Mon 5 (2) Tue 6 (3) Wed 7 (4) Thu 8 (5)",
    ),
    Row(
        "2025-12-26",
        10,
        "2026-01-12",
        "Mon 29 (1) Tue 30 (2) Wed 31 (3); 1–4/1 off; Mon 5–Fri 9 (4–8); "
        "Sat 10/1 làm bù (9); Sun 11; Mon 12 (10)",
    ),
    # ---- 2026 ---------------------------------------------------------------------------
    Row("2026-01-01", 1, "2026-01-05", "event on 1/1: Fri 2/1 swapped, weekend; Mon 5/1 (1)"),
    Row("2026-01-09", 1, "2026-01-10", "Sat 10/1/2026 is the làm bù Saturday (1)"),
    Row("2026-02-12", 1, "2026-02-13", "Thu before Tết: Fri 13/2 is still a working day (1)"),
    Row(
        "2026-02-13",
        7,
        "2026-03-03",
        "filing window, incident on the Friday before Tết 2026: 14–22/2 off; "
        "Mon 23–Fri 27 (1–5); Mon 2/3 (6) Tue 3/3 (7)",
    ),
    Row(
        "2026-02-13",
        10,
        "2026-03-06",
        "reply window from the Friday before Tết: Mon 23–Fri 27 (1–5); Mon 2–Fri 6/3 (6–10)",
    ),
    Row("2026-02-14", 1, "2026-02-23", "Saturday start in the Tết break: 15–22/2 off; Mon 23 (1)"),
    Row("2026-02-17", 5, "2026-02-27", "event on mùng 1: 18–22/2 off; Mon 23–Fri 27 (1–5)"),
    Row(
        "2026-04-24",
        1,
        "2026-04-28",
        "Fri: Sat 25, Sun 26 Giỗ Tổ, Mon 27 nghỉ bù; Tue 28 (1)",
    ),
    Row(
        "2026-04-24",
        3,
        "2026-05-04",
        "Tue 28 (1) Wed 29 (2); Thu 30/4, Fri 1/5, Sat 2, Sun 3 off; Mon 4/5 (3)",
    ),
    Row("2026-04-29", 1, "2026-05-04", "Thu 30/4, Fri 1/5, weekend; Mon 4/5 (1)"),
    Row(
        "2026-04-26",
        10,
        "2026-05-13",
        "event on Giỗ Tổ (a Sunday): Mon 27 nghỉ bù; Tue 28 (1) Wed 29 (2); 30/4–3/5 off; "
        "Mon 4–Fri 8 (3–7); Mon 11 (8) Tue 12 (9) Wed 13 (10)",
    ),
    Row("2026-08-21", 1, "2026-08-22", "Sat 22/8/2026 is the làm bù Saturday (1)"),
    Row(
        "2026-08-21",
        7,
        "2026-09-03",
        "Sat 22 (1); Sun 23; Mon 24–Fri 28 (2–6); Sat 29–Wed 2/9 off (31/8 swapped); Thu 3/9 (7)",
    ),
    Row("2026-08-28", 1, "2026-09-03", "Fri: 29/8–2/9 off (Mon 31/8 swapped); Thu 3/9 (1)"),
    Row(
        "2026-08-28",
        10,
        "2026-09-16",
        "Thu 3 (1) Fri 4 (2); Mon 7–Fri 11 (3–7); Mon 14 (8) Tue 15 (9) Wed 16 (10)",
    ),
    Row("2026-09-02", 1, "2026-09-03", "event on Quốc khánh: Thu 3/9 (1)"),
    Row(
        "2026-11-23",
        1,
        "2026-11-24",
        "24/11 (Ngày Văn hóa) is NOT a day off in the official versions: Tue 24 (1)",
    ),
    Row("2026-12-30", 1, "2026-12-31", "Thu 31/12/2026 is a working day (1)"),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.event}+{r.n}" for r in ROWS])
def test_hand_checked_deadline(row: Row) -> None:
    result = load_calendar("vn-2026.2").add_working_days(D(row.event), row.n)

    assert result.last_day == D(row.expected), row.why
    assert len(result.counted) == row.n
    assert result.covered


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.event}+{r.n}" for r in ROWS])
def test_working_days_between_agrees_with_the_table(row: Row) -> None:
    calendar = load_calendar("vn-2026.2")

    assert calendar.working_days_between(D(row.event), D(row.expected)) == row.n
    assert calendar.is_working_day(D(row.expected))


def test_the_table_is_large_enough_and_spans_every_year() -> None:
    assert len(ROWS) >= 45
    assert {r.event[:4] for r in ROWS} == {"2024", "2025", "2026"}
