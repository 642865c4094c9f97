"""The console's settings (``HOTRO_…``), the only reader of the environment."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotro.shared.messaging.credentials import NatsCredentials
from hotro.shared.runtime.keep_alive import MIN_KEEP_ALIVE_S
from hotro.shared.runtime.throttle import TrustedProxies
from hotro.shared.staff.oidc import OidcConfig, check_algorithms, read_secret_file
from hotro.shared.staff.oidc_login import IdentityMapping


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTRO_", extra="ignore", frozen=True)

    intake_url: str = Field("http://127.0.0.1:8101", description="intake's HTTP API")
    routing_url: str = Field("http://127.0.0.1:8102", description="routing's HTTP API")
    sla_url: str = Field("http://127.0.0.1:8103", description="sla's HTTP API")
    notify_url: str = Field("http://127.0.0.1:8104", description="notify's HTTP API")
    upstream_timeout_s: float = Field(15.0, gt=0)

    users_file: str | None = Field(
        None, description="staff users (the services' file): sign-in checks passwords here")
    auth_keys_file: str | None = Field(
        None, description="keyring the console signs staff assertions with (purpose "
                          "staff-assertion; the services verify with the same file)")

    nats_url: str | None = Field(
        None, description="NATS server URL(s): sessions live in the KV bucket hotro_sessions")
    nats_user: str | None = None
    nats_password_file: str | None = None
    nats_tls_ca_file: str | None = Field(None, description="NATS over TLS: the server's CA")
    nats_tls_cert_file: str | None = Field(None, description="client certificate, if asked")
    nats_tls_key_file: str | None = None
    allow_memory_sessions: bool = Field(
        False, description="tests / a single process only: sessions in memory")

    secure_cookies: bool = Field(False, description="true behind TLS: __Host- cookie, Secure")
    public_base_url: str = Field("http://127.0.0.1:8080",
                                 description="where people reach the console")
    default_language: Literal["vi", "en"] = "vi"
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, ge=0, le=65535)
    # the same server limits as the services (hotro.shared.runtime.http_server)
    http_header_timeout_s: float = Field(10.0, gt=0, le=300)
    http_keep_alive_s: int = Field(5, ge=MIN_KEEP_ALIVE_S, le=300)
    http_max_header_kb: int = Field(16, ge=4, le=256)
    http_max_connections: int = Field(1000, ge=1)
    http_tls_cert_file: str | None = Field(None, description="serve HTTPS: certificate chain")
    http_tls_key_file: str | None = Field(None, description="and its key (PEM)")
    log_level: str = "INFO"
    log_json: bool = True
    replica_id: str = "console"
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="this process's identity on /readyz (a supervisor such as `hotro up` "
                    "gives one and checks the answering process is its own)")
    catalogue_file: str | None = Field(None, description="default: the packaged catalogue")
    deadline_policy_file: str | None = Field(None, description="default: the packaged policy")
    channel_rules_path: str | None = Field(
        None, description="intake's channel rules (the same setting as intake's); default: "
                          "the packaged file")
    trusted_proxies: TrustedProxies = Field(
        frozenset({"127.0.0.1", "::1"}),
        description="peers whose X-Forwarded-For names the client (the gateway)")
    max_upload_mb: int = Field(10, ge=1, le=50, description="per file on the customer's page")

    #: sign-in throttling: failed attempts allowed per window, per user id and per address
    signin_failures_per_user: int = Field(5, ge=1)
    signin_attempts_per_address: int = Field(60, ge=1)
    signin_window_s: float = Field(900.0, gt=0)
    #: how often the case page's live feed asks the services whether the case moved on
    live_poll_s: float = Field(2.0, gt=0)

    #: sign-in through an OpenID Connect provider (docs/operations.md, "Staff sign-in
    #: through OIDC"); unset issuer: passwords only
    oidc_issuer: str | None = Field(None, description="the provider's issuer URL (https)")
    oidc_client_id: str | None = None
    oidc_client_secret_file: str | None = Field(
        None, description="file holding the client secret alone (0600)")
    oidc_redirect_url: str | None = Field(
        None, description="registered at the provider; default: <public base URL>"
                          "/sign-in/oidc/callback")
    oidc_provider_name: str = Field("OIDC", min_length=1, max_length=40,
                                    description="shown on the sign-in button")
    oidc_user_claim: str = Field("preferred_username", min_length=1,
                                 description="claim holding the staff user id (email: "
                                             "matched to the users' emails, verified only)")
    oidc_roles_claim: str | None = Field(
        None, description="optional claim (dotted path) whose values must confirm the "
                          "directory's role")
    oidc_role_values: dict[str, str] = Field(
        default_factory=dict, description="provider role value -> Hotro role name")
    oidc_scopes: str = "openid profile email"
    oidc_algorithms: tuple[str, ...] = Field(
        ("RS256", "ES256"), description="accepted ID-token algorithms (never none; HS* "
                                        "only if listed: the client secret is the key)")
    oidc_jwks_min_refresh_s: float = Field(10.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _sessions_somewhere(self) -> ConsoleSettings:
        if not self.nats_url and not self.allow_memory_sessions:
            raise ValueError("sessions need HOTRO_NATS_URL (KV bucket hotro_sessions); "
                             "HOTRO_ALLOW_MEMORY_SESSIONS is for tests only")
        if self.nats_password_file and not self.nats_user:
            raise ValueError("HOTRO_NATS_PASSWORD_FILE needs HOTRO_NATS_USER")
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret_file):
            raise ValueError("HOTRO_OIDC_ISSUER needs HOTRO_OIDC_CLIENT_ID and "
                             "HOTRO_OIDC_CLIENT_SECRET_FILE")
        if self.oidc_issuer:
            check_algorithms(self.oidc_algorithms)
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    def oidc_config(self) -> OidcConfig:
        """The provider and client (reads the secret file; only when ``oidc_enabled``)."""
        assert self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret_file
        redirect = self.oidc_redirect_url or \
            f"{self.public_base_url.rstrip('/')}/sign-in/oidc/callback"
        return OidcConfig(issuer=self.oidc_issuer, client_id=self.oidc_client_id,
                          client_secret=read_secret_file(self.oidc_client_secret_file),
                          redirect_url=redirect, scopes=self.oidc_scopes,
                          algorithms=self.oidc_algorithms,
                          jwks_min_refresh_s=self.oidc_jwks_min_refresh_s)

    def oidc_mapping(self) -> IdentityMapping:
        return IdentityMapping(user_claim=self.oidc_user_claim,
                               roles_claim=self.oidc_roles_claim,
                               role_values=dict(self.oidc_role_values))

    def upstreams(self) -> dict[str, str]:
        return {"intake": self.intake_url.rstrip("/"), "routing": self.routing_url.rstrip("/"),
                "sla": self.sla_url.rstrip("/"), "notify": self.notify_url.rstrip("/")}

    def nats_servers(self) -> list[str]:
        return [u.strip() for u in (self.nats_url or "").split(",") if u.strip()]

    def nats_credentials(self) -> NatsCredentials:
        return NatsCredentials(self.nats_user, self.nats_password_file, self.nats_tls_ca_file,
                               self.nats_tls_cert_file, self.nats_tls_key_file)
