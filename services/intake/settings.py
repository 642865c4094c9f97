from __future__ import annotations

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    smtp_listen_host: str = "127.0.0.1"
    smtp_listen_port: int = 0  # 0 = no inbound SMTP listener
    attachments_dir: str = "var/attachments"
