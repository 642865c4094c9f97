"""Settings of the command-line tools (`hotro up`, `provision`, `gateway`, `audit`…).

Like each service's Settings, the only reader of the ``HOTRO_`` environment for them; a
command-line flag, where there is one, wins over the variable."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotro.gateway import GatewayLimits
from hotro.shared.contracts.subjects import DEFAULT_PARTITIONS


class ToolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTRO_", extra="ignore", frozen=True)

    data_dir: str = "var"
    nats_url: str | None = Field(None, description="an external NATS; unset: hotro up "
                                                   "starts its own")
    nats_port: int = Field(4222, ge=0, le=65535)
    postgres_url: str | None = Field(None, description="run the local system on PostgreSQL")
    partitions: int = Field(DEFAULT_PARTITIONS, ge=1, le=64)
    lease_ttl_s: float = Field(6.0, gt=0.5)
    smtp_listen_port: int = Field(2525, ge=0, le=65535)
    gateway_port: int = Field(8080, ge=0, le=65535)
    gateway_upstreams: str = Field("", description="intake=http://…,routing=http://…,…")
    gateway_max_body_mb: float = Field(32, gt=0, description="larger request bodies get 413")
    gateway_body_timeout_s: float = Field(
        30, gt=0, description="a request body must arrive within this time (else 408)")

    def gateway_limits(self) -> GatewayLimits:
        return GatewayLimits(max_body_bytes=int(self.gateway_max_body_mb * 1024 * 1024),
                             body_timeout_s=self.gateway_body_timeout_s)
