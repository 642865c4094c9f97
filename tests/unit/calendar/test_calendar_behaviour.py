from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from hotro.shared.calendar import (
    CompanyOverrides,
    ExtraDayOff,
    OutsideCoverageError,
    UnknownCalendarVersionError,
    Weekday,
    available_versions,
    default_version,
    load_calendar,
    version_in_force,
)

D = dt.date.fromisoformat
ICT = dt.timezone(dt.timedelta(hours=7))


# ---- legal day counting -----------------------------------------------------------------


def test_period_ends_at_midnight_local_after_the_last_day() -> None:
    result = load_calendar().add_working_days(D("2026-02-13"), 10)

    assert result.ends_at.isoformat() == "2026-03-07T00:00:00+07:00"
    assert result.ends_at.utcoffset() == dt.timedelta(hours=7)
    assert result.counted[-1] == result.last_day


def test_event_day_is_never_counted_even_when_it_is_a_working_day() -> None:
    result = load_calendar().add_working_days(D("2026-03-02"), 1)  # Monday

    assert result.counted == [D("2026-03-03")]


def test_skipped_days_carry_reasons_with_sources() -> None:
    result = load_calendar().add_working_days(D("2026-02-13"), 1)
    reasons = {s.date: s.reason for s in result.skipped}

    assert reasons[D("2026-02-14")] == "Saturday (weekly rest day)"
    assert "Tết Nguyên đán" in reasons[D("2026-02-17")]
    assert "holiday, source Thông báo 9441/TB-BNV" in reasons[D("2026-02-17")]
    assert list(reasons) == [D("2026-02-14") + dt.timedelta(days=i) for i in range(9)]


@pytest.mark.parametrize(
    ("moment", "expected_event_date"),
    [
        # 16:59:59 UTC is 23:59:59 in Hà Nội: still Friday 13/2.
        (dt.datetime(2026, 2, 13, 16, 59, 59, tzinfo=dt.UTC), "2026-02-13"),
        # 17:00 UTC is midnight local: the event happened on Saturday 14/2.
        (dt.datetime(2026, 2, 13, 17, 0, tzinfo=dt.UTC), "2026-02-14"),
        (dt.datetime(2026, 2, 13, 8, 0, tzinfo=ICT), "2026-02-13"),
    ],
)
def test_datetime_events_are_converted_to_the_local_date(
    moment: dt.datetime, expected_event_date: str
) -> None:
    result = load_calendar().add_working_days(moment, 7)

    assert result.event_date == D(expected_event_date)
    # Both Friday 13/2 and Saturday 14/2 reach Tuesday 3/3 (Tết break 14–22/2).
    assert result.last_day == D("2026-03-03")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        load_calendar().add_working_days(dt.datetime(2026, 2, 13, 9, 0), 1)


@pytest.mark.parametrize("n", [0, -3])
def test_at_least_one_working_day(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        load_calendar().add_working_days(D("2026-02-13"), n)


def test_working_days_between_is_zero_when_end_is_not_after_start() -> None:
    calendar = load_calendar()

    assert calendar.working_days_between(D("2026-03-03"), D("2026-03-03")) == 0
    assert calendar.working_days_between(D("2026-03-03"), D("2026-02-01")) == 0
    assert calendar.working_days_between(D("2026-02-13"), D("2026-02-22")) == 0


# ---- explanation ------------------------------------------------------------------------


def test_explanation_names_rule_days_sources_and_version() -> None:
    text = load_calendar().add_working_days(D("2026-02-13"), 7).explain()

    assert "Event on Friday 2026-02-13" in text
    assert "Civil Code 2015 art. 147" in text
    assert "art. 148" in text
    assert "Last day: Tuesday 2026-03-03" in text
    assert "2026-03-04T00:00:00+07:00" in text
    assert "Thông báo 9441/TB-BNV" in text
    assert "7) Tue 2026-03-03" in text
    assert "Calendar: vn-2026.2; company overrides: none." in text
    assert "WARNING" not in text


def test_rule_text_cites_the_civil_code() -> None:
    result = load_calendar().add_working_days(D("2026-02-13"), 7)

    assert "art. 147(1)" in result.rule
    assert "art. 148" in result.rule


# ---- coverage -----------------------------------------------------------------------------


def test_outside_the_covered_years_falls_back_and_says_so() -> None:
    result = load_calendar().add_working_days(D("2026-12-30"), 3)

    # Thu 31/12 (1); Fri 1/1/2027 New Year's Day (fixed date); weekend; Mon 4/1 (2) Tue 5/1 (3).
    assert result.last_day == D("2027-01-05")
    assert not result.covered
    assert "not covered by an official schedule" in result.explain()


def test_fallback_compensates_fixed_holidays_on_weekends() -> None:
    calendar = load_calendar()

    # 2028: 30/4 Sunday → nghỉ bù Tuesday 2/5 (Monday 1/5 is itself a holiday).
    assert not calendar.is_working_day(D("2028-05-01"))
    assert not calendar.is_working_day(D("2028-05-02"))
    assert calendar.is_working_day(D("2028-05-03"))


def test_strict_calendar_refuses_uncovered_dates() -> None:
    calendar = load_calendar(strict=True)

    with pytest.raises(OutsideCoverageError, match="not covered by an official schedule"):
        calendar.add_working_days(D("2026-12-30"), 3)
    assert calendar.add_working_days(D("2026-12-29"), 2).last_day == D("2026-12-31")


# ---- company overrides ------------------------------------------------------------------


def test_company_not_observing_swaps_works_the_swapped_weekday() -> None:
    calendar = load_calendar(overrides=CompanyOverrides(observe_swaps=False))

    assert calendar.add_working_days(D("2026-01-01"), 1).last_day == D("2026-01-02")
    # Sat 10/1 is a rest day for this company: Fri 9 → Mon 12.
    assert calendar.add_working_days(D("2026-01-09"), 1).last_day == D("2026-01-12")
    # Mon 31/8 is worked: Fri 28/8 → Mon 31/8.
    assert calendar.add_working_days(D("2026-08-28"), 1).last_day == D("2026-08-31")
    # Holidays and nghỉ bù still apply: Fri 24/4 → Tue 28/4.
    assert calendar.add_working_days(D("2026-04-24"), 1).last_day == D("2026-04-28")


def test_company_extra_day_off_is_skipped_with_its_reason() -> None:
    overrides = CompanyOverrides(
        extra_days_off=(ExtraDayOff(date=D("2026-03-02"), reason="company anniversary"),)
    )
    result = load_calendar(overrides=overrides).add_working_days(D("2026-02-13"), 7)

    # Mon 23–Fri 27 (1–5); Mon 2/3 company day off; Tue 3 (6) Wed 4 (7).
    assert result.last_day == D("2026-03-04")
    assert any(s.reason == "company day off: company anniversary" for s in result.skipped)
    assert "1 extra company day(s) off" in result.explain()


def test_company_working_saturdays() -> None:
    overrides = CompanyOverrides(working_weekdays=["mon", "tue", "wed", "thu", "fri", "Saturday"])
    calendar = load_calendar(overrides=overrides)

    # Sat 14 (1); 15 Sun; 16–20 Tết; Sat 21 (2); Sun 22; Mon 23–Fri 27 (3–7).
    assert calendar.add_working_days(D("2026-02-13"), 7).last_day == D("2026-02-27")
    # A Tết day on a Saturday stays a holiday: 2024 Sat 10/2 (mùng 1) is off; next is Thu 15/2.
    assert calendar.add_working_days(D("2024-02-09"), 1).last_day == D("2024-02-15")
    assert Weekday.SATURDAY in overrides.working_weekdays


def test_weekday_names_are_validated() -> None:
    with pytest.raises(ValidationError, match="unknown weekday name"):
        CompanyOverrides(working_weekdays=["mon", "funday"])
    with pytest.raises(ValidationError):
        CompanyOverrides(working_weekdays=[])


def test_days_off_listing_has_sources() -> None:
    calendar = load_calendar()
    days_off = {day.date: day for day in calendar.days_off(2026)}

    assert days_off[D("2026-01-02")].source == "Công văn 12729/VPCP-KGVX"
    assert days_off[D("2026-01-02")].kind == "swapped_off"
    assert days_off[D("2026-04-27")].kind == "compensatory"
    assert D("2026-11-24") not in days_off
    assert [d.date for d in calendar.working_weekends(2026)] == [D("2026-01-10"), D("2026-08-22")]
    assert all(day.source for day in days_off.values())


# ---- versions -----------------------------------------------------------------------------


def test_versions_listed_and_default_is_newest_official() -> None:
    ids = [v.id for v in available_versions()]

    assert ids == [
        "vn-2024.1",
        "vn-2024.2",
        "vn-2025.1",
        "vn-2026.1",
        "vn-2026.2",
        "vn-2026.3-unconfirmed",
    ]
    assert default_version() == "vn-2026.2"
    assert load_calendar().version == "vn-2026.2"
    assert load_calendar().effective_from == D("2025-12-25")


def test_older_version_does_not_know_later_swaps() -> None:
    before_swap = load_calendar("vn-2026.1")

    # Before Công văn 12729 (25/12/2025), Friday 2/1/2026 was a working day.
    assert before_swap.add_working_days(D("2025-12-31"), 1).last_day == D("2026-01-02")
    assert not before_swap.is_working_day(D("2026-01-10"))


def test_2024_swap_arrives_with_its_own_version() -> None:
    assert load_calendar("vn-2024.1").is_working_day(D("2024-04-29"))
    assert not load_calendar("vn-2024.1").is_working_day(D("2024-05-04"))
    assert not load_calendar("vn-2024.2").is_working_day(D("2024-04-29"))
    assert load_calendar("vn-2024.2").is_working_day(D("2024-05-04"))


def test_version_in_force_on_a_date() -> None:
    assert version_in_force(D("2025-12-24")) == "vn-2026.1"
    assert version_in_force(D("2025-12-25")) == "vn-2026.2"
    assert version_in_force(D("2026-11-01")) == "vn-2026.2"
    assert version_in_force(D("2024-05-01")) == "vn-2024.2"
    with pytest.raises(UnknownCalendarVersionError):
        version_in_force(D("2023-01-01"))


def test_unconfirmed_version_adds_culture_day_on_top_of_official_entries() -> None:
    calendar = load_calendar("vn-2026.3-unconfirmed")

    assert calendar.add_working_days(D("2026-11-23"), 1).last_day == D("2026-11-25")
    assert not calendar.is_working_day(D("2026-01-02"))


def test_unknown_version_lists_the_known_ones() -> None:
    with pytest.raises(UnknownCalendarVersionError, match=r"vn-2031\.1.*known: vn-2024\.1"):
        load_calendar("vn-2031.1")


def test_a_computation_is_counted_and_explained_once_per_day_and_rule() -> None:
    calendar = load_calendar()
    first = calendar.add_working_days(dt.date(2026, 4, 24), 10)
    assert calendar.add_working_days(dt.date(2026, 4, 24), 10) is first
    assert first.explain() is first.explain()
    assert calendar.add_working_days(dt.date(2026, 4, 24), 5) is not first  # another rule
    assert calendar.add_working_days(dt.date(2026, 4, 24), 5).last_day < first.last_day
    moment = dt.datetime(2026, 4, 24, 16, 59, tzinfo=dt.UTC)  # 23:59 local: the same day
    assert calendar.add_working_days(moment, 10) is first
