"""Notify's settings (``HOTRO_`` environment variables)."""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from hotro.shared.runtime.tls import client_context, read_secret_file
from hotro.shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    company_name: str = "Công ty VHV"
    company_hotline: str = "0422111997"
    company_email: str = "contact@vhv.vn"
    company_address: str = "Hà Nội"
    mail_from: str = "contact@vhv.vn"
    mail_domain: str = "vhv.vn"
    smtp_host: str | None = Field(None, description="unset: deliver to the local Maildir")
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_implicit_tls: bool = Field(
        False, description="TLS from the first byte (SMTPS, port 465) instead of STARTTLS")
    smtp_tls_ca_file: str | None = Field(
        None, description="CA that signed the relay's certificate; default: the system's")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_file: str | None = Field(
        None, description="file holding the relay password (instead of HOTRO_SMTP_PASSWORD)")
    smtp_timeout_s: float = 10.0
    maildir: str | None = Field(None, description="default: <data_dir>/mail")
    letters_dir: str | None = Field(None, description="default: <data_dir>/letters")
    sms_webhook_url: str | None = None
    sms_webhook_secret: SecretStr | None = None
    supervisor_email: str = "supervisor@vhv.vn"
    support_email: str = "support@vhv.vn"
    staff_email_template: str = Field(
        "{staff_id}@vhv.vn", description="a staff member's address from their user id: "
                                         "deadline alerts go to the case's owner")
    max_attempts: int = Field(5, ge=1)
    send_backoff_s: tuple[float, ...] = Field(
        (1.0, 2.0, 5.0, 15.0, 60.0), description="the sender's waits between attempts of "
                                                 "one dispatch")
    pii_key_cache_s: float = Field(
        5.0, ge=0, description="how long a data key is cached: after an erasure, nothing "
                               "more is sent to the customer once this time has passed")

    @model_validator(mode="after")
    def _smtp_security(self) -> NotifySettings:
        if self.smtp_password and self.smtp_password_file:
            raise ValueError("SMTP password given twice: keep HOTRO_SMTP_PASSWORD_FILE")
        if self.smtp_implicit_tls and self.smtp_starttls and "smtp_starttls" in \
                self.model_fields_set:
            raise ValueError("HOTRO_SMTP_IMPLICIT_TLS and HOTRO_SMTP_STARTTLS: choose one")
        self.smtp_tls()
        self.smtp_secret()  # the file reads (when a user will log in with it): at start
        return self

    def smtp_tls(self) -> ssl.SSLContext:
        """How the relay's certificate is checked (its name, our CA or the system's)."""
        return client_context(self.smtp_tls_ca_file)

    def smtp_secret(self) -> str | None:
        """The relay password: from its file, else the variable, else none (and none
        without a user name: the file may then be empty)."""
        if self.smtp_username is None:
            return None
        if self.smtp_password_file:
            return read_secret_file(self.smtp_password_file, "SMTP password")
        return self.smtp_password.get_secret_value() if self.smtp_password else None

    def letters_path(self) -> Path:
        """Where printed letters are kept until posted (and downloaded by staff)."""
        return Path(self.letters_dir or Path(self.data_dir) / "letters").resolve()

    def maildir_path(self) -> Path:
        """Where outgoing mail lands when no SMTP server is configured."""
        return Path(self.maildir or Path(self.data_dir) / "mail").resolve()
