"""Real processes: every service runs as `hotro serve` against our own nats-server and
real PostgreSQL, so kill -9 and broker restarts are the real thing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hotro.natsbin import NatsCluster, NatsServerProcess
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.postgres import PostgresSchemas
from tests.support.processes import ServiceProcess
from tests.support.stores import open_service_store

SERVICES = ("intake", "routing", "sla", "notify")


@dataclass
class Cluster:
    #: one server, or a three-node cluster (its URL lists every node)
    nats: NatsServerProcess | NatsCluster
    schemas: PostgresSchemas
    tmp: Path
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    def env(self, service: str, replica: str) -> dict[str, str]:
        return {
            "HOTRO_NATS_URL": self.nats.url,
            "HOTRO_STORE_URL": self.schemas.url(service),
            "HOTRO_PARTITIONS": str(TEST_PARTITIONS),
            "HOTRO_LEASE_TTL_S": str(TEST_LEASE_TTL_S),
            "HOTRO_DATA_DIR": str(self.tmp / "data"),
            "HOTRO_REPLICA_ID": f"{service}-{replica}",
            "HOTRO_RETRY_BACKOFF_S": "[0.1, 0.2, 0.5]",
            "HOTRO_LOG_LEVEL": "INFO",
        }

    def start(self, service: str, replicas: int = 1) -> list[ServiceProcess]:
        started = []
        for i in range(replicas):
            n = len(self.processes.get(service, []))
            proc = ServiceProcess(service, self.env(service, str(n)),
                                  self.tmp / f"{service}-{n}.log").start()
            self.processes.setdefault(service, []).append(proc)
            started.append(proc)
            if i == 0:
                # the first replica creates a fresh store's tables; two creating them at
                # once race in PostgreSQL's catalogue and one exits
                proc.wait_ready()
        for proc in started[1:]:
            proc.wait_ready()
        return started

    def url(self, service: str) -> str:
        return self.processes[service][0].url

    def stop_all(self) -> None:
        for procs in self.processes.values():
            for proc in procs:
                proc.stop()

    def store(self, service: str) -> object:
        return open_service_store(service, self.schemas.url(service))


@pytest.fixture
def cluster(provisioned: NatsServerProcess, pg_schemas: PostgresSchemas,
            tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(provisioned, pg_schemas, tmp_path)
    try:
        yield c
    finally:
        c.stop_all()
