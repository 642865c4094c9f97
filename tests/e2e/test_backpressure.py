"""Intake keeps accepting while everything downstream is down — the other services, then
NATS itself — with bounded memory: the backlog waits in its store and in the stream,
not in the process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.submit import submit_many

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_intake_accepts_with_downstream_and_nats_down_in_bounded_memory(
        cluster: Cluster) -> None:
    [intake] = cluster.start("intake")  # routing, sla and notify are down
    assert intake.proc is not None
    await submit_many(intake.url, 50)  # warm-up: imports, pools, caches
    baseline = rss_mb(intake.proc.pid)
    started = time.monotonic()
    downstream_down = await submit_many(intake.url, 400, concurrency=8)
    rate = len(downstream_down) / (time.monotonic() - started)
    after_downstream = rss_mb(intake.proc.pid)
    cluster.nats.stop()
    try:
        started = time.monotonic()
        nats_down = await submit_many(intake.url, 200, concurrency=8)
        rate_nats_down = len(nats_down) / (time.monotonic() - started)
        after_nats = rss_mb(intake.proc.pid)
        ready = httpx.get(f"{intake.url}/readyz", timeout=5)
        assert ready.status_code == 503  # not connected: out of a load balancer's rotation
    finally:
        cluster.nats.start()
    print(f"\nintake RSS {baseline:.0f} MB after warm-up, {after_downstream:.0f} MB after 400 "
          f"with downstream down ({rate:.0f}/s), {after_nats:.0f} MB after 200 more with NATS "
          f"down ({rate_nats_down:.0f}/s)")
    assert len(downstream_down) == 400 and len(nats_down) == 200
    # bounded: the backlog is in the store and the stream, not in memory
    assert after_nats - baseline < 40, (baseline, after_downstream, after_nats)
