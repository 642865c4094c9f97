from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from hotro.services.intake.adapters.reference_data import DEFAULT_CHANNEL_RULES
from hotro.shared.runtime.throttle import TrustedProxies
from hotro.shared.runtime.tls import read_secret_file, server_context
from hotro.shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    # ---- inbound email ----
    smtp_listen_host: str = "127.0.0.1"
    smtp_listen_port: int = Field(0, ge=0, le=65535,
                                  description="0 = no inbound SMTP listener")
    smtp_accept_recipients: str = Field(
        "vhv.vn", description="comma-separated addresses or domains accepted in RCPT TO; "
                              "empty = any recipient")
    smtp_data_size_limit_mb: int = Field(
        40, ge=1, description="SMTP DATA limit (aiosmtpd answers 552 above it); keep it above "
                              "email_max_message_mb so oversize mail gets our explanation")
    smtp_tls_cert_file: str | None = Field(
        None, description="certificate chain (PEM): the SMTP listener offers STARTTLS")
    smtp_tls_key_file: str | None = Field(None, description="its key (PEM)")
    smtp_require_tls: bool = Field(
        False, description="refuse MAIL, AUTH and DATA before STARTTLS (530)")
    email_max_message_mb: int = Field(25, ge=1)
    email_max_attachment_mb: int = Field(10, ge=1)
    email_max_total_attachments_mb: int = Field(18, ge=1)
    email_max_parts: int = Field(
        200, ge=2, le=10_000, description="MIME parts read from one message; a message with "
                                          "more becomes a case with its first parts and a "
                                          "note saying how many were dropped")
    email_own_domains: str = Field("vhv.vn", description="comma-separated")
    email_authserv_id: str = Field(
        "", description="authserv-id of our own receiving MTA: the topmost "
                        "Authentication-Results header with this id is recorded and trusted "
                        "(a DMARC fail keeps the mail out of the case it claims); empty = "
                        "trust none, verify DKIM signatures here")
    email_dkim_timeout_s: float = Field(5.0, gt=0, le=30,
                                        description="DNS look-up of a DKIM key")
    attachments_dir: str | None = Field(None, description="default: <data_dir>/attachments")
    quarantine_dir: str | None = Field(None, description="default: <data_dir>/quarantine")
    # ---- inbound email by IMAP polling (the alternative to the SMTP listener) ----
    imap_host: str = Field("", description="empty = no IMAP polling")
    imap_port: int = Field(993, ge=1, le=65535)
    imap_tls: Literal["tls", "starttls", "none"] = Field(
        "tls", description="tls = implicit TLS (993); none only for a local relay")
    imap_user: str = ""
    imap_password: SecretStr | None = None
    imap_password_file: str | None = Field(
        None, description="file holding the IMAP password (instead of HOTRO_IMAP_PASSWORD)")
    imap_mailbox: str = "INBOX"
    imap_processed_mailbox: str = Field(
        "", description="move handled mail there too; empty = mark it \\Seen only")
    imap_poll_s: float = Field(60.0, gt=0, le=1740,
                               description="poll interval; also the IDLE refresh (< 29 min)")
    imap_idle: bool = True
    # ---- reference data and rules ----
    channel_rules_path: str = DEFAULT_CHANNEL_RULES
    # ---- hotline webhook ----
    hotline_webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key shared with the call-centre software; "
                          "unset = the webhook answers 503")
    hotline_max_clock_skew_s: int = Field(
        30, ge=1, le=300, description="a signed notice is accepted only while its timestamp "
                                      "is within this many seconds of our clock, either way "
                                      "(and each signature only once)")
    duplicate_window_days: int = Field(
        7, ge=0, le=365, description="an earlier request of the same customer (email or phone) "
                                     "about the same product or order received within this "
                                     "many days is linked as a possible duplicate; 0 = off")
    hotline_link_window_days: int = Field(
        60, ge=1, description="a call links to a request of the same number received "
                              "within this many days (and not closed)")

    # ---- the public web form: what one stranger may file (docs/security.md) ----
    public_per_contact: int = Field(
        5, ge=1, description="requests filed without a staff token per email address or "
                             "phone number within public_window_s: the form cannot be "
                             "used to send someone acknowledgement after acknowledgement")
    public_per_address: int = Field(
        30, ge=1, description="requests filed without a staff token per client address "
                              "within public_window_s")
    public_window_s: float = Field(3600.0, gt=0)
    mail_per_sender: int = Field(
        10, ge=1, description="new requests by email per sender address within "
                              "public_window_s; beyond it a message is deferred (SMTP 451, "
                              "IMAP: left unseen) and filed once the window allows")
    mail_per_unverified_sender: int = Field(
        2, ge=1, description="the same for a sender whose DMARC check failed (the From "
                             "address may be forged, and each request filed is "
                             "acknowledged to it)")
    mail_unverified_in_all: int = Field(
        30, ge=1, description="new requests from senders whose DMARC check failed, all "
                              "such senders together, within public_window_s: what a "
                              "forger who varies the From address can make us send; "
                              "beyond it their mail is deferred like any other")
    trusted_proxies: TrustedProxies = Field(
        frozenset({"127.0.0.1", "::1"}),
        description="addresses or networks (10.0.0.0/8) of the peers whose "
                    "X-Forwarded-For names the client (the gateway, the console); such a "
                    "peer forwarding for nobody is the system's own side (a tool) and is "
                    "not limited")

    # ---- personal data (crypto-shredding, see docs/audit.md section 6) ----
    pii_hash_secret: SecretStr | None = Field(
        None, description="HMAC key of the phone/email index keys: the same on every "
                          "replica, never changed. Required (hotro up generates one into "
                          "<data_dir>/pii-hash.secret); only the in-memory test store "
                          "may go without")
    pii_key_cache_s: float = Field(
        5.0, ge=0, description="how long a data key is cached: an erasure takes effect "
                               "everywhere within this time")

    def http_body_default_mb(self) -> float:
        # the customer's upload and staff uploads carry attachments up to the email limits
        return float(self.email_max_total_attachments_mb + 2)

    def attachments_path(self) -> Path:
        return Path(self.attachments_dir or Path(self.data_dir) / "attachments")

    def quarantine_path(self) -> Path:
        return Path(self.quarantine_dir or Path(self.data_dir) / "quarantine")

    @model_validator(mode="after")
    def _smtp_tls_loads(self) -> IntakeSettings:
        self.smtp_tls()  # both files or neither, and they load: at start
        if self.imap_password and self.imap_password_file:
            raise ValueError("IMAP password given twice: keep HOTRO_IMAP_PASSWORD_FILE")
        if self.imap_host:
            self.imap_secret()  # the file reads: at start
        return self

    def imap_secret(self) -> str:
        """The IMAP password: from its file, else the variable, else empty."""
        if self.imap_password_file:
            return read_secret_file(self.imap_password_file, "IMAP password")
        return self.imap_password.get_secret_value() if self.imap_password else ""

    def smtp_tls(self) -> ssl.SSLContext | None:
        """The listener's STARTTLS context (None: no STARTTLS)."""
        if bool(self.smtp_tls_cert_file) != bool(self.smtp_tls_key_file):
            raise ValueError("SMTP TLS needs both HOTRO_SMTP_TLS_CERT_FILE and _KEY_FILE")
        if self.smtp_require_tls and not self.smtp_tls_cert_file:
            raise ValueError("HOTRO_SMTP_REQUIRE_TLS needs HOTRO_SMTP_TLS_CERT_FILE/_KEY_FILE")
        if not (self.smtp_tls_cert_file and self.smtp_tls_key_file):
            return None
        return server_context(self.smtp_tls_cert_file, self.smtp_tls_key_file)

    def accept_recipients(self) -> list[str] | None:
        items = [a.strip() for a in self.smtp_accept_recipients.split(",") if a.strip()]
        return items or None

    def own_domains(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.email_own_domains.split(",")
                         if d.strip())
