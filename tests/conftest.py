from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from tests.support.postgres import PostgresSchemas, check_postgres

TEST_PARTITIONS = 4
TEST_LEASE_TTL_S = 2.0

# Property tests explore new inputs on every local run (that is how they find bugs), but a
# CI gate must not fail at random on a commit that changed nothing there: in CI they run a
# fixed sequence of examples (a counterexample found locally becomes an @example).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServerProcess]:
    """A nats-server of our own on a free port (never the machine's 4222)."""
    server = NatsServerProcess(store_dir=tmp_path / "nats", log_file=tmp_path / "nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def provisioned(nats_server: NatsServerProcess) -> AsyncIterator[NatsServerProcess]:
    await provision_all(nats_server.url, partitions=TEST_PARTITIONS,
                        lease_ttl_s=TEST_LEASE_TTL_S, max_deliver=5, ack_wait_s=3.0)
    yield nats_server


@pytest.fixture
def pg_schemas() -> Iterator[PostgresSchemas]:
    check_postgres()
    schemas = PostgresSchemas()
    try:
        yield schemas
    finally:
        schemas.drop_all()
