"""Settings every service process shares. Each service extends this once."""

from __future__ import annotations

import os
import socket
import uuid

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotro.shared.contracts.subjects import DEFAULT_PARTITIONS
from hotro.shared.reference import CATALOGUE_FILE


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTRO_", extra="ignore", frozen=True)

    nats_url: str = Field(description="NATS server URL(s), comma-separated")
    store_url: str = Field(description="sqlite:///path, postgresql://…?schema=… (memory: in tests)")
    allow_memory_store: bool = Field(False, description="tests only")
    partitions: int = Field(DEFAULT_PARTITIONS, ge=1, le=64)
    replica_id: str = Field(default_factory=_default_replica_id)
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, ge=0, le=65535)
    lease_ttl_s: float = Field(6.0, gt=0.5, description="must equal the leases bucket TTL")
    relay_batch: int = Field(500, ge=1, le=10_000)
    relay_idle_s: float = Field(0.05, gt=0)
    consumer_batch: int = Field(1, ge=1, le=1000, description="see max_ack_pending=1")
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

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, v: str) -> str:
        for url in v.split(","):
            if not url.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"not a NATS URL: {url!r}")
        return v

    @model_validator(mode="after")
    def _memory_store_only_in_tests(self) -> ServiceSettings:
        if self.store_url.startswith("memory:") and not self.allow_memory_store:
            raise ValueError("store_url=memory: is for tests only (HOTRO_ALLOW_MEMORY_STORE)")
        return self

    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]
