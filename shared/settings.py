"""Settings every service process shares. Each service extends this once."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotro.shared.contracts.subjects import DEFAULT_PARTITIONS
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.messaging.credentials import NatsCredentials, inbox_prefix, url_user
from hotro.shared.reference import CATALOGUE_FILE
from hotro.shared.runtime.keep_alive import MIN_KEEP_ALIVE_S
from hotro.shared.runtime.tls import http_tls_context


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTRO_", extra="ignore", frozen=True)

    nats_url: str = Field(description="NATS server URL(s), comma-separated")
    nats_user: str | None = Field(
        None, description="the service's NATS user (deploy/nats/permissions.conf); unset: "
                          "credentials in the URL, or none")
    nats_password_file: str | None = Field(
        None, description="file holding the NATS user's password (a secret file, never a "
                          "URL variable)")
    store_url: str = Field(description="sqlite:///path, postgresql://…?schema=… (memory: in tests)")
    store_password_file: str | None = Field(
        None, description="file holding the PostgreSQL password of the store URL's role (the "
                          "URL then holds none)")
    store_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca",
                           "verify-full"] | None = Field(
        None, description="libpq sslmode of the PostgreSQL store (production: verify-full)")
    store_sslrootcert: str | None = Field(
        None, description="CA certificate that signed the PostgreSQL server's")
    nats_tls_ca_file: str | None = Field(
        None, description="CA that signed nats-server's certificate; set (or a tls:// URL): "
                          "the connection uses TLS and checks the server")
    nats_tls_cert_file: str | None = Field(
        None, description="client certificate for a nats-server that verifies clients")
    nats_tls_key_file: str | None = Field(None, description="its key")
    http_tls_cert_file: str | None = Field(
        None, description="certificate chain (PEM) the HTTP API serves TLS with")
    http_tls_key_file: str | None = Field(None, description="its key (PEM)")
    allow_memory_store: bool = Field(False, description="tests only")
    partitions: int = Field(DEFAULT_PARTITIONS, ge=1, le=64)
    replica_id: str = Field(default_factory=_default_replica_id)
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="this process's identity on /readyz (random per process; a supervisor "
                    "such as `hotro up` gives one and checks the answering process is its own)")
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, ge=0, le=65535)
    http_max_body_mb: float | None = Field(
        None, gt=0, le=1024, description="largest request body the HTTP API reads (413 "
                                         "above it); default: the service's own "
                                         "(http_body_default_mb: 1 MB; intake: its uploads)")
    http_body_timeout_s: float = Field(
        30.0, gt=0, le=600, description="the whole request body must arrive within this "
                                        "time of the headers (408 after it)")
    http_header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="the request line and headers must arrive within "
                                        "this time (else the connection is closed)")
    http_keep_alive_s: int = Field(
        5, ge=MIN_KEEP_ALIVE_S, le=300,
        description="an idle keep-alive connection is closed after (at least 3 s: the "
                    "gateway and the console drop theirs after 2 s, never racing a close)")
    http_max_header_kb: int = Field(16, ge=4, le=256,
                                    description="request line + headers, at most (h11)")
    http_max_connections: int = Field(
        1000, ge=1, description="concurrent connections and requests; more get 503 at once")
    lease_ttl_s: float = Field(6.0, gt=0.5, description="must equal the leases bucket TTL")
    start_timeout_s: float = Field(
        60.0, gt=0, description="at start, how long NATS and the provisioned streams may stay "
                                "out of reach (a cluster electing a leader) before giving up")
    relay_batch: int = Field(500, ge=1, le=10_000)
    relay_idle_s: float = Field(
        2.0, gt=0, description="safety net only: the relay wakes on this process's commits")
    consumer_batch: int = Field(1, ge=1, le=1000, description="see max_ack_pending=1")
    consumer_fetch_s: float = Field(
        5.0, gt=0, le=60, description="how long one pull request waits for a message: each "
        "costs CPU when idle; a stop does not wait for it; after a broker restart a "
        "partition resumes within this time")
    max_deliver: int = Field(8, ge=2, description="used when the consumer has none")
    retry_backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
    log_level: str = "INFO"
    log_json: bool = True
    data_dir: str = "var"
    catalogue_file: str = Field(str(CATALOGUE_FILE),
                                description="product/category catalogue (TOML), one for all")
    deadline_policy_file: str | None = Field(
        None, description="working days per clock (TOML); default: the packaged policy")
    users_file: str | None = Field(
        None, description="TOML of staff users and API tokens, the same for every service; "
                          "unset: every staff request gets 401")
    auth_keys_file: str | None = Field(
        None, description="keyring of the staff assertions the console signs (the same "
                          "file for every service); unset: assertions are refused")
    capability_keys_file: str | None = Field(
        None, description="keyring of the customers' case links (intake verifies, notify "
                          "issues); unset: customer links are refused / not sent")
    public_base_url: str = Field(
        "http://127.0.0.1:8080", description="where customers reach the system: the base of "
                                             "the case links in acknowledgements")

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, v: str) -> str:
        for url in v.split(","):
            if not url.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"not a NATS URL: {url!r}")
        return v

    @model_validator(mode="after")
    def _nats_credentials_once(self) -> ServiceSettings:
        if self.nats_password_file and not self.nats_user:
            raise ValueError("HOTRO_NATS_PASSWORD_FILE needs HOTRO_NATS_USER")
        if self.nats_user:
            inbox_prefix(self.nats_user)  # a name that can be a subject token
        in_url = url_user(self.nats_servers())
        if self.nats_user and in_url and (self.nats_password_file or in_url != self.nats_user):
            raise ValueError("NATS credentials given twice (in HOTRO_NATS_URL and as "
                             "HOTRO_NATS_USER + HOTRO_NATS_PASSWORD_FILE): keep one")
        return self

    @model_validator(mode="after")
    def _transport_security(self) -> ServiceSettings:
        """TLS files load, and the store's TLS and password file become query parameters
        of ``store_url`` (paths only) — what the store code reads (pg_security.py)."""
        http_tls_context(self)
        self.nats_credentials().tls(self.nats_servers())
        extra = {"password_file": self.store_password_file, "sslmode": self.store_sslmode,
                 "sslrootcert": self.store_sslrootcert}
        given = {k: v for k, v in extra.items() if v}
        if given:
            if not self.store_url.startswith(("postgresql://", "postgres://")):
                raise ValueError("HOTRO_STORE_PASSWORD_FILE / _SSLMODE / _SSLROOTCERT are for "
                                 "a postgresql:// store URL")
            parsed = urlparse(self.store_url)
            query = [(k, v) for k, v in parse_qsl(parsed.query) if k not in given]
            folded = urlunparse(parsed._replace(query=urlencode(query + list(given.items()))))
            persistence_env(folded)  # the password file reads, the CA exists: at start
            object.__setattr__(self, "store_url", folded)  # frozen: set once, here
        return self

    @model_validator(mode="after")
    def _memory_store_only_in_tests(self) -> ServiceSettings:
        if self.store_url.startswith("memory:") and not self.allow_memory_store:
            raise ValueError("store_url=memory: is for tests only (HOTRO_ALLOW_MEMORY_STORE)")
        return self

    def http_body_default_mb(self) -> float:
        """The body limit when ``http_max_body_mb`` is unset. A service whose API accepts
        uploads overrides this with what its uploads need."""
        return 1.0

    def http_max_body_bytes(self) -> int:
        """The request body limit of the service's HTTP API, in bytes."""
        mb = self.http_max_body_mb if self.http_max_body_mb is not None \
            else self.http_body_default_mb()
        return int(mb * 1024 * 1024)

    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]

    def nats_credentials(self) -> NatsCredentials:
        return NatsCredentials(self.nats_user, self.nats_password_file, self.nats_tls_ca_file,
                               self.nats_tls_cert_file, self.nats_tls_key_file)
