from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from hotro.services.routing.config import CONFIG_DIR as CONFIG_DIR  # tools and tests use it
from hotro.services.routing.config import TRIAGE_RULES_PATH
from hotro.shared.attachments import MIB, UploadLimits
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
    department_files_dir: str | None = Field(
        None, description="files of departments' answers, by sha256; default: "
                          "<data_dir>/department-files")
    # the limits intake applies to a customer's uploads (HOTRO_EMAIL_MAX_…)
    department_max_files: int = Field(20, ge=1, le=200)
    department_max_file_mb: int = Field(10, ge=1)
    department_max_total_mb: int = Field(18, ge=1)

    def http_body_default_mb(self) -> float:
        # a department's upload carries files up to its limits, plus the multipart framing
        return float(self.department_max_total_mb + 2)

    def department_files_path(self) -> Path:
        return Path(self.department_files_dir or Path(self.data_dir) / "department-files")

    def department_upload_limits(self) -> UploadLimits:
        return UploadLimits(max_attachments=self.department_max_files,
                            max_attachment_bytes=self.department_max_file_mb * MIB,
                            max_total_attachment_bytes=self.department_max_total_mb * MIB)
