"""A calendar version means one schedule forever: the data may gain versions, never change
what a released one decides (its days, its provisional years)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hotro.shared.calendar import CalendarDataError, load_calendar
from hotro.shared.calendar.fingerprints import (
    compare,
    current_fingerprints,
    read_recorded,
    write_recorded,
)
from hotro.shared.calendar.resources import SCHEDULE_FILE, parse_schedule, read_packaged_toml
from hotro.shared.calendar.schedule import ScheduleData

NEW_VERSION = {"id": "vn-2027.1", "effective_from": dt.date(2026, 12, 1), "status": "official",
               "sources": ["Bộ luật Lao động 2019, Điều 112"], "description": "test"}


def _data(edit: Any) -> ScheduleData:
    raw = read_packaged_toml(SCHEDULE_FILE)
    edit(raw)
    return parse_schedule(raw, origin="test")


def test_every_released_version_still_decides_what_it_did() -> None:
    found = compare(read_recorded(), current_fingerprints())
    assert found.changed == () and found.removed == ()
    assert found.unrecorded == (), "record new versions: hotro calendar-versions --write"


def test_an_edit_in_place_to_a_released_version_is_found() -> None:
    def move_a_day(raw: dict[str, Any]) -> None:
        day = next(d for d in raw["days"] if d["date"] == dt.date(2025, 9, 1))
        day["date"] = dt.date(2025, 9, 3)

    found = compare(read_recorded(), current_fingerprints(_data(move_a_day)))
    assert "vn-2025.1" in found.changed and "vn-2024.2" not in found.changed


def test_retuned_provisional_rules_change_every_version_unless_entered_as_a_revision(
        ) -> None:
    def retune(raw: dict[str, Any]) -> None:
        raw["provisional"] = {**raw["provisional"], "tet_days_before": 1, "tet_days_from": 4}

    assert set(compare(read_recorded(), current_fingerprints(_data(retune))).changed) == \
        set(read_recorded())

    def revise(raw: dict[str, Any]) -> None:
        raw["versions"].append(NEW_VERSION)
        raw["provisional_revisions"] = [
            {**raw["provisional"], "since": "vn-2027.1", "tet_days_before": 1,
             "tet_days_from": 4}]

    revised = _data(revise)
    found = compare(read_recorded(), current_fingerprints(revised))
    assert found.changed == () and found.unrecorded == ("vn-2027.1",)
    # 2027: Tết (mùng 1 = Saturday 6/2/2027) from 28 tháng Chạp under the first rules, from
    # 29 under the revision
    old = {d.date for d in load_calendar("vn-2026.2", schedule=revised).days_off(2027)}
    new = {d.date for d in load_calendar("vn-2027.1", schedule=revised).days_off(2027)}
    assert dt.date(2027, 2, 4) in old and dt.date(2027, 2, 4) not in new


def test_writing_records_new_versions_and_refuses_to_rewrite_a_released_one(
        tmp_path: Path) -> None:
    path = tmp_path / "fingerprints.json"
    recorded = read_recorded()
    current = {**recorded, "vn-2027.1": "0" * 64}
    found = write_recorded(recorded, current, path)
    assert found.unrecorded == ("vn-2027.1",)
    assert read_recorded(path) == current
    with pytest.raises(ValueError, match=r"vn-2024\.1: its schedule changed"):
        write_recorded(current, {**current, "vn-2024.1": "1" * 64}, path)
    assert read_recorded(path) == current  # untouched


def test_a_revision_must_name_a_listed_version_after_the_previous_one() -> None:
    def unknown(raw: dict[str, Any]) -> None:
        raw["provisional_revisions"] = [{**raw["provisional"], "since": "vn-2099.1"}]

    with pytest.raises(CalendarDataError, match="not a listed version"):
        _data(unknown)

    def backwards(raw: dict[str, Any]) -> None:
        raw["provisional_revisions"] = [{**raw["provisional"], "since": "vn-2026.1"},
                                        {**raw["provisional"], "since": "vn-2025.1"}]

    with pytest.raises(CalendarDataError, match="does not come after"):
        _data(backwards)
