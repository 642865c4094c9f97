"""Settings of the command-line tools (`hotro up`, `provision`, `gateway`, `audit`…).

Like each service's Settings, the only reader of the ``HOTRO_`` environment for them; a
command-line flag, where there is one, wins over the variable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotro.gateway import GatewayLimits
from hotro.shared.contracts.subjects import DEFAULT_PARTITIONS
from hotro.shared.messaging.credentials import NatsCredentials, url_user


class ToolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTRO_", extra="ignore", frozen=True)

    data_dir: str = "var"
    nats_url: str | None = Field(None, description="an external NATS; unset: hotro up "
                                                   "starts its own")
    nats_port: int = Field(4222, ge=0, le=65535)
    nats_user: str | None = Field(
        None, description="NATS user of the tools (the operator: provision, audit, erase); "
                          "unset: the URL's, else the local system's (<data dir>/nats-auth)")
    nats_password_file: str | None = Field(None, description="file holding its password")
    nats_tls_ca_file: str | None = Field(None, description="NATS over TLS: the server's CA")
    nats_tls_cert_file: str | None = Field(None, description="client certificate, if asked")
    nats_tls_key_file: str | None = None
    postgres_url: str | None = Field(None, description="run the local system on PostgreSQL")
    partitions: int = Field(DEFAULT_PARTITIONS, ge=1, le=64)
    lease_ttl_s: float = Field(6.0, gt=0.5)
    smtp_listen_port: int = Field(2525, ge=0, le=65535)
    gateway_port: int = Field(8080, ge=0, le=65535)
    gateway_upstreams: str = Field("", description="intake=http://…,routing=http://…,…")
    gateway_max_body_mb: float = Field(32, gt=0, description="larger request bodies get 413")
    gateway_body_timeout_s: float = Field(
        30, gt=0, description="a request body must arrive within this time (else 408)")
    gateway_tls_cert_file: str | None = Field(
        None, description="serve the gateway over HTTPS: certificate chain (PEM)")
    gateway_tls_key_file: str | None = Field(None, description="its key (PEM)")

    def nats_credentials(self, url: str | None,
                         data_dir: str | Path | None = None) -> NatsCredentials | None:
        """Who the tools connect as: HOTRO_NATS_USER + HOTRO_NATS_PASSWORD_FILE, else the
        credentials in the URL, else the operator of the ``hotro up`` system in the data
        directory (its generated password file), else nobody (a server without auth)."""
        tls = {"tls_ca_file": self.nats_tls_ca_file, "tls_cert_file": self.nats_tls_cert_file,
               "tls_key_file": self.nats_tls_key_file}
        if self.nats_user or self.nats_password_file:
            return NatsCredentials(self.nats_user, self.nats_password_file, **tls)
        if url and url_user(url.split(",")):
            return NatsCredentials(**tls) if any(tls.values()) else None
        from hotro.local_nats import operator_credentials

        found = operator_credentials(Path(data_dir or self.data_dir))
        if not any(tls.values()):
            return found
        return replace(found, **tls) if found is not None else NatsCredentials(**tls)

    def gateway_server_options(self) -> dict[str, Any]:
        """uvicorn's arguments for the gateway: the services' header limits and timers
        (shared/runtime/http_server.py: 431 above 16 KiB of request line and headers,
        headers within 10 s, idle keep-alive 5 s) and its TLS."""
        from hotro.shared.runtime.http_server import header_timeout_protocol

        head = 16 * 1024
        return {"http": header_timeout_protocol(10.0, head),
                "h11_max_incomplete_event_size": head, "timeout_keep_alive": 5,
                **self.gateway_tls()}

    def gateway_tls(self) -> dict[str, Any]:
        """uvicorn's TLS arguments for the gateway (none: plain HTTP), files checked."""
        from hotro.shared.runtime.http_server import tls_options
        from hotro.shared.runtime.tls import TlsFiles

        return tls_options(TlsFiles(self.gateway_tls_cert_file, self.gateway_tls_key_file))

    def gateway_limits(self) -> GatewayLimits:
        return GatewayLimits(max_body_bytes=int(self.gateway_max_body_mb * 1024 * 1024),
                             body_timeout_s=self.gateway_body_timeout_s)
