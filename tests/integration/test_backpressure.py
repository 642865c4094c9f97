"""Backpressure is visible: messages waiting for a partition consumer (consumer lag) and
stored events not yet published (relay lag) show on /readyz and in /metrics — while
intake keeps accepting with its downstream stuck or NATS gone (docs/operations.md,
"Backpressure and alerts")."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotro.natsbin import NatsServerProcess
from hotro.services.routing.application import RoutingApplication
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.e2e.submit import complaint, headers_for
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually


@pytest.fixture
def stuck_routing(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """routing's handler waits on a gate: its consumers hold one message each."""
    gate = threading.Event()
    original = RoutingApplication.handle

    def held(self: RoutingApplication, envelope: Any) -> bool:
        gate.wait(60)
        return original(self, envelope)

    monkeypatch.setattr(RoutingApplication, "handle", held)
    try:
        yield gate
    finally:
        gate.set()


async def _submit(system: InProcessSystem, n: int) -> None:
    async with system.client("intake") as client:
        for i in range(n):
            body = complaint(i)
            r = await client.post("/api/complaints", json=body,
                                  headers=headers_for(body, str(uuid.uuid4())))
            assert r.status_code == 201, r.text


async def _readyz(system: InProcessSystem, service: str) -> dict[str, Any]:
    await system.runtime(service)._report_lag()  # the 5-second round, now
    async with system.client(service) as client:
        body: dict[str, Any] = (await client.get("/readyz")).json()
    return body


async def test_consumer_and_relay_lag_show_on_readyz_and_in_metrics(
        provisioned: NatsServerProcess, tmp_path: Path, stuck_routing: threading.Event
) -> None:
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S,
                              services=("intake", "routing")) as system:
        routing = system.runtime("routing")
        def holds_all() -> bool:
            partitions: list[int] = routing.health()["partitions"]  # type: ignore[assignment]
            return len(partitions) == TEST_PARTITIONS

        await eventually(holds_all, message="routing holds every partition")
        await _submit(system, 20)

        async def waiting_at_routing() -> int:
            lag = (await _readyz(system, "routing"))["consumer_lag"]
            return sum(lag.values()) if sum(lag.values()) == 20 else 0

        assert await eventually(waiting_at_routing, timeout=30, interval=0.2,
                                message="20 complaints waiting at routing") == 20
        metrics = routing.metrics.render().decode()
        assert "hotro_consumer_lag{" in metrics
        stuck_routing.set()

        async def drained() -> bool:
            lag: dict[str, int] = (await _readyz(system, "routing"))["consumer_lag"]
            return sum(lag.values()) == 0

        await eventually(drained, timeout=60, interval=0.2, message="routing caught up")

        # NATS goes away: intake keeps accepting; its relay lag grows, then drains
        intake = system.runtime("intake")
        await eventually(lambda: _readyz_lag(system), timeout=30, interval=0.2,
                         message="intake's relay caught up")
        provisioned.stop()
        try:
            await eventually(lambda: not intake.health()["nats_connected"], timeout=10,
                             message="intake sees NATS gone")
            before = intake.app.max_notification_id()
            await _submit(system, 15)
            stored = intake.app.max_notification_id() - before
            assert stored >= 15
            body = await _readyz(system, "intake")
            assert body["relay_lag"] is not None and body["relay_lag"] >= stored, body
            assert f'hotro_relay_lag{{service="intake"}} {float(body["relay_lag"])}' in \
                intake.metrics.render().decode()
        finally:
            provisioned.start()  # same port, same store
        await eventually(lambda: _readyz_lag(system), timeout=60, interval=0.5,
                         message="intake's relay published the backlog")


async def _readyz_lag(system: InProcessSystem) -> bool:
    body = await _readyz(system, "intake")
    return bool(body["relay_lag"] == 0)
