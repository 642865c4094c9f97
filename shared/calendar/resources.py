"""Lazy, cached loading of the packaged TOML data files."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any

from pydantic import ValidationError

from hotro.shared.calendar.errors import CalendarDataError
from hotro.shared.calendar.schedule import ScheduleData
from hotro.shared.calendar.validation import format_validation_error

DATA_PACKAGE = "hotro.shared.calendar.data"
SCHEDULE_FILE = "vn_2024_2026.toml"


def read_packaged_toml(name: str) -> dict[str, Any]:
    text = resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return parse_toml(text, origin=name)


def parse_toml(text: str, *, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarDataError(f"{origin}: not valid TOML: {exc}") from exc


def parse_schedule(raw: dict[str, Any], *, origin: str) -> ScheduleData:
    try:
        return ScheduleData.model_validate(raw)
    except ValidationError as exc:
        raise CalendarDataError(format_validation_error(origin, raw, exc)) from None


@functools.cache
def packaged_schedule() -> ScheduleData:
    return parse_schedule(read_packaged_toml(SCHEDULE_FILE), origin=SCHEDULE_FILE)
