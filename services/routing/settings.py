from __future__ import annotations

from typing import Literal

from pydantic import Field

from hotro.services.routing.config import CONFIG_DIR as CONFIG_DIR  # tools and tests use it
from hotro.services.routing.config import TRIAGE_RULES_PATH
from hotro.shared.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    triage_file: str = Field(str(TRIAGE_RULES_PATH),
                             description="triage rules; reloadable by an operator (POST "
                                         "/ops/triage/reload on routing's own listener)")
    auto_close_after_reply: bool = Field(True, description="close a case when notify reports "
                                                           "the reply delivered")
    customer_info_timeout: Literal["resume_analysis", "withdraw"] = Field(
        "resume_analysis", description="when the customer never answers an information "
                                       "request: back to analysis (with a note), or withdraw")
    queue_refresh_s: float = Field(
        5.0, gt=0, description="keeps the case queues warm between reads (each read "
                               "catches up with the log itself)")
