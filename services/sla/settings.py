from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    calendar_version: str | None = Field(None, description="default: newest official version")
    deadline_policy_file: str | None = Field(None, description="TOML; default: packaged policy")
    approaching_lead_days: int = Field(2, ge=0)
    first_contact_clock: bool = True
    timer_period_s: float = Field(1.0, gt=0)
    #: Demo/test clock: start at this instant and run `clock_speed` times faster.
    clock_start: str | None = None
    clock_speed: float = Field(1.0, gt=0)
