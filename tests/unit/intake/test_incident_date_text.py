"""The incident date a customer states in an email's text: the formats it understands,
what it refuses to guess, and hostile input."""

from __future__ import annotations

import time
from datetime import date

import pytest

from hotro.services.intake.domain.incident_date import MAX_SCAN, find_incident_date, fold

#: a Friday; the week before runs Mon 09/11 .. Sun 15/11/2026
RECEIVED = date(2026, 11, 20)


@pytest.mark.parametrize(("text", "expected", "phrase"), [
    ("Máy hỏng ngày 12/11/2026 ạ.", date(2026, 11, 12), "ngày 12/11/2026"),
    ("Sự cố xảy ra 12-11-2026", date(2026, 11, 12), "12-11-2026"),
    ("giao hàng 12.11.2026 bị vỡ", date(2026, 11, 12), "12.11.2026"),
    ("ngày 3/9/2026 tôi nhận hàng", date(2026, 9, 3), "ngày 3/9/2026"),
    ("Ngày 12 tháng 11 năm 2026, tivi tắt", date(2026, 11, 12),
     "Ngày 12 tháng 11 năm 2026"),
    ("ngay 12 thang 11 nam 2026 may hong", date(2026, 11, 12), "ngay 12 thang 11 nam 2026"),
    ("Hôm qua tủ lạnh ngừng chạy", date(2026, 11, 19), "Hôm qua"),
    ("hom kia shipper giao nham", date(2026, 11, 18), "hom kia"),
    ("Hôm nay máy giặt rò nước", date(2026, 11, 20), "Hôm nay"),
    ("Thứ Hai tuần trước tôi mua nồi cơm", date(2026, 11, 9), "Thứ Hai tuần trước"),
    ("thứ 7 tuần trước", date(2026, 11, 14), "thứ 7 tuần trước"),
    ("Chủ nhật tuần rồi cửa hàng đóng cửa", date(2026, 11, 15), "Chủ nhật tuần rồi"),
    ("The TV broke on 12 November 2026.", date(2026, 11, 12), "12 November 2026"),
    ("delivered 3rd Nov 2026", date(2026, 11, 3), "3rd Nov 2026"),
    ("On November 12, 2026 the fridge stopped", date(2026, 11, 12), "November 12, 2026"),
    ("ISO 2026-11-12 too", date(2026, 11, 12), "2026-11-12"),
    ("ngày\n12/11/2026 (the phrase wraps)", date(2026, 11, 12), "ngày 12/11/2026"),
    # the same date twice is one date
    ("12/11/2026 ... như đã nói, ngày 12/11/2026", date(2026, 11, 12), "12/11/2026"),
    # "hôm nay" only dates the writing when another date is stated
    ("Hôm nay tôi viết thư về việc ngày 10/11/2026", date(2026, 11, 10), "ngày 10/11/2026"),
    # no year after "ngày"/"hôm": the year that puts it nearest the day of receipt
    ("Máy hỏng ngày 12/11 ạ.", date(2026, 11, 12), "ngày 12/11"),
    ("hôm 18/11 shipper giao nhầm", date(2026, 11, 18), "hôm 18/11"),
    ("Ngày 12 tháng 11 tivi tắt", date(2026, 11, 12), "Ngày 12 tháng 11"),
    ("ngày 15/8 mua, dùng được ba tháng thì hỏng", date(2026, 8, 15), "ngày 15/8"),
    ("ngày 12/11/2026, tức là ngày 12/11", date(2026, 11, 12), "ngày 12/11/2026"),
    ("ngày 12/11, số nhà 5/1 đường Lê Lợi", date(2026, 11, 12), "ngày 12/11"),
    ("may giat hong ngay 12/11", date(2026, 11, 12), "ngay 12/11"),  # written unaccented
    ("Hoàn ngay 1/2 số tiền! Máy hỏng ngày 12/11.", date(2026, 11, 12), "ngày 12/11"),
])
def test_a_stated_date_is_found_with_its_phrase(text: str, expected: date,
                                                phrase: str) -> None:
    found = find_incident_date(text, RECEIVED)
    assert (found.outcome, found.day, found.phrase) == ("found", expected, phrase)


@pytest.mark.parametrize(("text", "outcome"), [
    ("Tủ lạnh không lạnh, mong công ty xem xét.", "none"),
    ("", "none"),
    ("mua ngày 01/11/2026, hỏng ngày 12/11/2026", "ambiguous"),
    ("hôm qua, à không, hôm kia", "ambiguous"),
    ("hẹn giao ngày 25/12/2026", "future"),
    ("ngày 12/11/2010", "too_old"),
    ("31/02/2026 và 12/13/2026", "none"),  # not dates
    ("12/11/26", "none"),  # two-digit year: which century is a guess
    ("12/11", "none"),  # no year and no "ngày": a size, a score, an address
    ("số nhà 5/1 đường Lê Lợi", "none"),
    ("ngày 12/11/26", "none"),  # two-digit year, also after "ngày"
    ("ngày 25/11 kỹ thuật sẽ đến", "future"),  # nearest 25/11 is after receipt
    ("ngày 29/2", "none"),  # no 29 February within half a year of receipt
    ("ngày 31/4", "none"),
    ("mua ngày 1/11, hỏng ngày 12/11", "ambiguous"),
    ("Đề nghị hoàn ngay 1/2 số tiền", "none"),  # "ngay" = at once: half the money
    ("SĐT 0912.345.678", "none"),
    ("0912.11.2026.5", "none"),  # inside a longer number run
    ("mã 112/11/2026", "none"),
    ("12/11-2026", "none"),  # mixed separators
    ("Ngày mai tôi sẽ ra cửa hàng", "none"),
])
def test_what_is_not_used(text: str, outcome: str) -> None:
    found = find_incident_date(text, RECEIVED)
    assert found.outcome == outcome
    assert found.day is None


@pytest.mark.parametrize(("text", "received", "expected"), [
    ("Máy hỏng ngày 30/12", date(2027, 1, 2), date(2026, 12, 30)),  # last December's
    ("hôm 2/1 máy hỏng", date(2026, 12, 30), None),  # next January's: in the future
    ("ngày 29/2 máy hỏng", date(2028, 3, 2), date(2028, 2, 29)),
    ("ngày 28 tháng 2 máy hỏng", date(2027, 3, 2), date(2027, 2, 28)),
])
def test_a_day_without_a_year_takes_the_year_nearest_receipt(
        text: str, received: date, expected: date | None) -> None:
    found = find_incident_date(text, received)
    assert found.day == expected
    assert found.outcome == ("found" if expected else "future")


def test_quoted_mail_is_not_read_for_the_date() -> None:
    reply = ("Tủ lạnh vẫn hỏng từ hôm qua.\n\n"
             "On Thu, Nov 12, 2026 at 10:00 AM Hỗ trợ <contact@vhv.vn> wrote:\n"
             "> Ngày 10/11/2026 chúng tôi đã nhận yêu cầu.\n")
    found = find_incident_date(reply, RECEIVED)
    assert (found.outcome, found.day) == ("found", date(2026, 11, 19))
    forwarded = ("Nhờ công ty xem giúp.\n---------- Forwarded message ---------\n"
                 "Date: 12 November 2026\nNgày 01/11/2026 đơn hàng giao thiếu.")
    assert find_incident_date(forwarded, RECEIVED).outcome == "none"
    vietnamese = "Máy hỏng ngày 18/11/2026.\nVào Th 5, 12/11/2026 lúc 10:00 An đã viết:\n"
    assert find_incident_date(vietnamese, RECEIVED).day == date(2026, 11, 18)


def test_an_ambiguous_text_keeps_every_date_for_staff() -> None:
    found = find_incident_date("mua ngày 01/11/2026, hỏng ngày 12/11/2026", RECEIVED)
    assert [(c.day, c.phrase) for c in found.candidates] == [
        (date(2026, 11, 1), "ngày 01/11/2026"), (date(2026, 11, 12), "ngày 12/11/2026")]


def test_fold_keeps_one_character_per_character() -> None:
    text = "Ngày Đặt Hàng İstanbul ỷ"
    assert len(fold(text)) == len(text)
    assert fold("Ngày Đặt HÀNG") == "ngay dat hang"


def test_only_the_first_characters_are_read() -> None:
    text = "x" * MAX_SCAN + " ngày 12/11/2026"
    assert find_incident_date(text, RECEIVED).outcome == "none"


@pytest.mark.parametrize("hostile", [
    "1/1/1111" * 50_000,
    "12/" * 100_000,
    "ngày " * 100_000,
    "thứ hai " * 100_000,
    "1" * 1_000_000,
    "12 november " * 100_000,
    "hôm" + " " * 1_000_000 + "qua",
])
def test_hostile_input_is_read_in_bounded_time(hostile: str) -> None:
    started = time.perf_counter()
    find_incident_date(hostile, RECEIVED)
    # linear patterns over at most MAX_SCAN characters: milliseconds; generous for CI
    assert time.perf_counter() - started < 2.0
