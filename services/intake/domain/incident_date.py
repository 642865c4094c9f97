"""The incident date a customer states in free text (an email), or why none is used.

Recognised (case-insensitive, with or without Vietnamese diacritics):

* numeric, day first: ``12/11/2026``, ``12-11-2026``, ``12.11.2026`` (one separator, a
  four-digit year; ``ngày`` before it is allowed), and ISO ``2026-11-12``;
* spelled out: ``ngày 12 tháng 11 năm 2026`` (``ngày`` optional);
* English: ``12 November 2026``, ``12 Nov 2026``, ``November 12, 2026``;
* relative to the day the message was received: ``hôm nay`` (that day, only when no other
  date is stated: it often only dates the writing), ``hôm qua`` (the
  day before), ``hôm kia`` (two days before), ``<thứ Hai…Chủ nhật> tuần trước`` (that
  weekday of the previous Monday-to-Sunday week; ``thứ 2`` … ``thứ 7`` too).

Quoted mail is not read (``own_words``): lines starting with ">", a reply's "On … wrote:"
line and everything from a forwarded or original message's header on.

* without a year, after ``ngày`` or ``hôm``: ``ngày 28/11``, ``hôm 28/11``, ``ngày 28 tháng
  11``. The year is the one that puts the day nearest the day of receipt (``ngày 30/12``
  written on 2 January is last December's; ``ngày 5/12`` written on 2 December is this
  year's, so in the future, and the customer is asked). Without the word before it,
  ``28/11`` is not read: addresses (``số 5/1``), sizes and scores look the same. In a
  text written with accents the word must carry its own (``ngay`` is also "at once":
  ``hoàn ngay 1/2 số tiền``); a text with no accent at all is read either way.

Deliberately not recognised: two-digit years (which century is a guess) and a bare
``12/11`` (see above). A date is *used* only when the text states exactly one distinct
valid date that is neither in the future nor more than ten years back; several different
dates make it ambiguous (a purchase date and a failure date, say), and then the customer
is asked. Only the first ``MAX_SCAN`` characters are read, and every pattern is linear (no
nested repetition), so hostile text costs at most one pass per pattern."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

MAX_SCAN = 20_000
#: the oldest incident a complaint may name, as the HTTP form checks it
MAX_AGE = timedelta(days=3660)

Outcome = Literal["found", "none", "ambiguous", "future", "too_old"]

_ENGLISH_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_WEEKDAYS = {"hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3,
             "sau": 4, "6": 4, "bay": 5, "7": 5}

_MONTH_NAMES = "|".join(sorted(_ENGLISH_MONTHS, key=len, reverse=True))
# All patterns run over folded text (lower case, no diacritics, đ -> d).
# The look-arounds are fixed-width: a date inside a longer number run (a phone number
# 0912.11.2026.5, a version 1.12.11.2026) is not a date, and nothing backtracks far.
_NUMERIC = re.compile(r"(?<![\d/.-])(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?![./-]?\d)")
_ISO = re.compile(r"(?<![\d/.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![./-]?\d)")
_SPELLED = re.compile(r"(?<!\d)(\d{1,2}) {0,3}thang {0,3}(\d{1,2}),? {0,3}nam {0,3}(\d{4})(?!\d)")
_ORDINAL = r"(?:st|nd|rd|th)?"
_ENGLISH_DMY = re.compile(
    rf"(?<!\w)(\d{{1,2}}){_ORDINAL} ({_MONTH_NAMES})\.?,? (\d{{4}})(?!\d)")
_ENGLISH_MDY = re.compile(
    rf"(?<!\w)({_MONTH_NAMES})\.? (\d{{1,2}}){_ORDINAL},? (\d{{4}})(?!\d)")
_DAY_MONTH = re.compile(r"\b(ngay|hom) {1,3}(\d{1,2})/(\d{1,2})(?![./-]?\d)")
_DAY_MONTH_SPELLED = re.compile(
    r"\b(ngay|hom) {1,3}(\d{1,2}) {0,3}thang {0,3}(\d{1,2})(?!\d)(?!,? {0,3}nam)")
#: the words before a day without a year, as written with their accents ("ngay" alone is
#: also "at once": "hoàn ngay 1/2 số tiền" is half the money, not 1 February)
_DAY_WORDS = ("ngày", "hôm")
#: a day without a year is read only when its nearest occurrence is this close
_YEARLESS_REACH = timedelta(days=183)
_RELATIVE = re.compile(r"\bhom (nay|qua|kia)\b")
_LAST_WEEK = re.compile(
    r"\b(?:thu (hai|ba|tu|nam|sau|bay|[2-7])|(chu nhat|cn)) tuan (?:truoc|roi)\b")


#: where quoted earlier mail begins (folded): nothing after it is the customer's own words
_QUOTE_STARTS = ("-----original message-----", "---------- forwarded message",
                 "-------- thu chuyen tiep", "---------- thu da chuyen tiep")


@dataclass(frozen=True)
class Candidate:
    """A date stated in the text: the phrase as the customer wrote it, and which rule."""

    day: date
    phrase: str
    rule: str


@dataclass(frozen=True)
class IncidentDate:
    """What the text says: ``day`` is set only when ``outcome`` is ``found``."""

    outcome: Outcome
    day: date | None = None
    phrase: str | None = None
    rule: str | None = None
    #: every date stated (for staff when the outcome is not ``found``)
    candidates: tuple[Candidate, ...] = ()


def fold(text: str) -> str:
    """Lower case without diacritics (đ -> d), one character per character of ``text``
    so that match positions map back to the original."""
    out = []
    for ch in text:
        low = ch.lower()[0]  # "İ".lower() is two characters: keep the first
        out.append("d" if low == "đ" else unicodedata.normalize("NFD", low)[0])
    return "".join(out)


def find_incident_date(text: str, received_on: date) -> IncidentDate:
    """The incident date ``text`` states, judged against ``received_on`` (the day, Vietnam
    time, the message was received); see the module docstring for what counts."""
    original = unicodedata.normalize("NFC", own_words(text[:MAX_SCAN]))
    # whitespace runs become one space (a linear pass) so phrases may wrap across lines
    original = re.sub(r"\s+", " ", original)
    folded = fold(original)
    found = _candidates(folded, original, received_on)
    if any(c.rule != "hom nay" for c in found):
        # "hôm nay" is often only when the customer writes ("Hôm nay tôi viết thư về việc
        # ngày 10/11…"): it counts only when no other date is stated
        found = [c for c in found if c.rule != "hom nay"]
    if not found:
        return IncidentDate("none")
    distinct = sorted({c.day for c in found})
    if len(distinct) > 1:
        return IncidentDate("ambiguous", candidates=tuple(found))
    first = found[0]
    if first.day > received_on:
        return IncidentDate("future", candidates=tuple(found))
    if received_on - first.day > MAX_AGE:
        return IncidentDate("too_old", candidates=tuple(found))
    return IncidentDate("found", first.day, first.phrase, first.rule, tuple(found))


def own_words(text: str) -> str:
    """The text without what it quotes: lines starting with ">", a reply's attribution line
    ("On … wrote:", "Vào … đã viết:") and everything from a forwarded or original message's
    header on — their dates are when earlier mail was sent, not the incident."""
    kept: list[str] = []
    for line in text.splitlines():
        folded = fold(line.strip())
        if any(marker in folded for marker in _QUOTE_STARTS):
            break
        if folded.startswith(">") or (folded.endswith(("wrote:", "da viet:"))
                                      and len(folded) < 300):
            continue
        kept.append(line)
    return "\n".join(kept)


def _candidates(folded: str, original: str, received_on: date) -> list[Candidate]:
    found: list[tuple[int, Candidate]] = []

    def add(start: int, end: int, day: date | None, rule: str) -> None:
        if day is not None:
            phrase = original[start:end]
            prefix = folded[max(0, start - 5):start]
            if prefix.endswith("ngay "):  # keep the customer's "ngày" in the phrase
                phrase = original[start - 5:end]
            found.append((start, Candidate(day, phrase, rule)))

    for m in _NUMERIC.finditer(folded):
        add(m.start(), m.end(), _date(int(m[4]), int(m[3]), int(m[1])), "dd/mm/yyyy")
    for m in _ISO.finditer(folded):
        add(m.start(), m.end(), _date(int(m[1]), int(m[2]), int(m[3])), "yyyy-mm-dd")
    for m in _SPELLED.finditer(folded):
        add(m.start(), m.end(), _date(int(m[3]), int(m[2]), int(m[1])),
            "ngay d thang m nam yyyy")
    for m in _ENGLISH_DMY.finditer(folded):
        add(m.start(), m.end(), _date(int(m[3]), _ENGLISH_MONTHS[m[2]], int(m[1])),
            "d month yyyy")
    for m in _ENGLISH_MDY.finditer(folded):
        add(m.start(), m.end(), _date(int(m[3]), _ENGLISH_MONTHS[m[1]], int(m[2])),
            "month d, yyyy")
    # a text written with accents writes "ngày" with its accent; one without any accent
    # cannot tell "ngày" from "ngay" and is read as the date word
    accented = original.lower() != folded
    for pattern, rule in ((_DAY_MONTH, "ngay dd/mm"), (_DAY_MONTH_SPELLED, "ngay d thang m")):
        for m in pattern.finditer(folded):
            if accented and original[m.start(1):m.end(1)].lower() not in _DAY_WORDS:
                continue
            add(m.start(), m.end(), _nearest(received_on, int(m[3]), int(m[2])), rule)
    for m in _RELATIVE.finditer(folded):
        back = {"nay": 0, "qua": 1, "kia": 2}[m[1]]
        add(m.start(), m.end(), received_on - timedelta(days=back), f"hom {m[1]}")
    for m in _LAST_WEEK.finditer(folded):
        weekday = 6 if m[2] else _WEEKDAYS[m[1]]
        monday = received_on - timedelta(days=received_on.weekday() + 7)
        add(m.start(), m.end(), monday + timedelta(days=weekday), "weekday tuan truoc")
    return [c for _, c in sorted(found, key=lambda pair: pair[0])]


def _nearest(received_on: date, month: int, day: int) -> date | None:
    """``day``/``month`` in the year that puts it nearest ``received_on`` (half a year at
    most: 29/02 in a year without one is not a date)."""
    around = [d for year in (received_on.year - 1, received_on.year, received_on.year + 1)
              if (d := _date(year, month, day)) is not None
              and abs(d - received_on) <= _YEARLESS_REACH]
    return min(around, key=lambda d: abs(d - received_on), default=None)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # 31/02, month 13: not a date
        return None
