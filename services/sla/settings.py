from __future__ import annotations

from datetime import time

from pydantic import Field, field_validator, model_validator

from hotro.services.sla.domain.clock import PAUSABLE_KINDS
from hotro.shared.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    calendar_version: str | None = Field(
        None, description="default: newest official version. Setting a newer one re-plans "
                          "the running clocks planned under an older one (DeadlineReplanned)")
    approaching_lead_days: int = Field(
        2, ge=0, description="DeadlineApproaching when this many working days are left "
                             "(today included); raised only in working hours")
    working_hours_start: time = time(8, 0)
    working_hours_end: time = time(17, 0)
    first_contact_clock: bool = Field(
        True, description="Law 19/2023/QH15 art. 57(2): engage within 7 working days")
    pause_while_awaiting_customer: tuple[str, ...] = Field(
        (), description=f"clock kinds that stop counting while the customer is asked for "
                        f"information (of {sorted(PAUSABLE_KINDS)}); default none: the "
                        f"process says nothing of pausing")
    timer_period_s: float = Field(
        30.0, gt=0, description="longest sleep of the SLA timer (it wakes at the next due "
                                "instant and on this replica's commits): the safety net "
                                "for clocks another replica stored")
    #: Demo/test clock: start at this instant and run `clock_speed` times faster.
    clock_start: str | None = None
    clock_speed: float = Field(1.0, gt=0)

    @field_validator("pause_while_awaiting_customer")
    @classmethod
    def _pausable(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(v) - PAUSABLE_KINDS)
        if unknown:
            raise ValueError(f"cannot pause {unknown}; pausable: {sorted(PAUSABLE_KINDS)}")
        return v

    @model_validator(mode="after")
    def _hours(self) -> SlaSettings:
        if not self.working_hours_start < self.working_hours_end:
            raise ValueError("working_hours_start must be before working_hours_end")
        return self
