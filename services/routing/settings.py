from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings

CONFIG_DIR = Path(__file__).parent / "config"


class RoutingSettings(ServiceSettings):
    catalogue_file: str = str(CONFIG_DIR / "catalogue.toml")
    triage_file: str = str(CONFIG_DIR / "triage.toml")
    users_file: str | None = Field(None, description="TOML of staff users and API tokens")
    auto_refuse_late: bool = True
    auto_close_after_reply: bool = True
