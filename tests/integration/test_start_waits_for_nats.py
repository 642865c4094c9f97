"""A service that starts while NATS is away or not yet provisioned (a cluster electing a
leader, a restart) waits, retrying with backoff for ``HOTRO_START_TIMEOUT_S``, and comes
up once it is there (issue 16: intake exited for good when its start timed out during a
leader election). Past that bound it gives up with a message saying what to check."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from hotro.natsbin import NatsServerProcess, free_port
from hotro.provisioning import provision_all
from hotro.shared.messaging.connection import NatsConnection
from hotro.shared.messaging.provision import NotProvisioned
from hotro.shared.runtime.host import ServiceRuntime
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.waiting import eventually
from tests.unit.structure.service_apps import service_app


def _runtime(tmp_path: Path, url: str, start_timeout_s: float) -> ServiceRuntime:
    app = service_app("sla", tmp_path / "apps", nats_url=url, partitions=TEST_PARTITIONS,
                      lease_ttl_s=TEST_LEASE_TTL_S, start_timeout_s=start_timeout_s)
    runtime: ServiceRuntime = app.state.runtime
    return runtime


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


async def test_a_service_started_before_nats_comes_up_once_it_is_there(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    server = NatsServerProcess(store_dir=tmp_path / "nats", port=free_port(),
                               log_file=tmp_path / "nats.log")
    runtime = _runtime(tmp_path, server.url, start_timeout_s=60)
    start = asyncio.ensure_future(runtime.start())
    try:
        await eventually(lambda: _logged(caplog, "NATS not reachable yet"), timeout=20,
                         message="the service retrying its connection")
        server.start()  # NATS arrives, still without its streams
        await eventually(lambda: _logged(caplog, "provisioning not confirmed yet"),
                         timeout=20, message="the service retrying its provisioning check")
        assert not start.done() and not runtime.ready
        await provision_all(server.url, partitions=TEST_PARTITIONS,
                            lease_ttl_s=TEST_LEASE_TTL_S, max_deliver=5, ack_wait_s=3.0)
        await asyncio.wait_for(start, timeout=30)
        assert runtime.ready
        assert runtime.health()["nats_connected"]
    finally:
        start.cancel()
        await runtime.stop()
        server.stop()


async def test_past_the_bound_it_gives_up_saying_what_to_check(
        nats_server: NatsServerProcess, tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, nats_server.url, start_timeout_s=1.5)  # never provisioned
    try:
        with pytest.raises(NotProvisioned, match="hotro provision"):
            await asyncio.wait_for(runtime.start(), timeout=30)
        assert not runtime.ready
    finally:
        await runtime.stop()


async def test_no_nats_at_all_gives_up_after_the_bound_naming_the_setting() -> None:
    conn = NatsConnection([f"nats://127.0.0.1:{free_port()}"], "test:absent")
    try:
        with pytest.raises(TimeoutError, match="HOTRO_START_TIMEOUT_S"):
            await asyncio.wait_for(conn.connect(attempts_timeout_s=1.0), timeout=20)
    finally:
        await conn.close()
