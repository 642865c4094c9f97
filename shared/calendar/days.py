"""A special day of the calendar as callers see it: what it is and where it comes from."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

CalendarDayKind = Literal[
    "holiday", "compensatory", "swapped_off", "working_weekend", "company_day_off"
]


class CalendarDay(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: dt.date
    kind: CalendarDayKind
    name_vi: str
    name_en: str
    source: str
    source_url: str | None = None
    note: str | None = None
    #: False for days of the provisional schedule (years no notice covers yet).
    official: bool = True

    @property
    def is_day_off(self) -> bool:
        return self.kind != "working_weekend"

    def label(self) -> str:
        return f"{self.name_vi} / {self.name_en} ({self.kind}, source {self.source})"
