"""Nothing lost, nothing twice — proven against a real nats-server, real PostgreSQL and
real processes killed with SIGKILL."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from hotro.shared.privacy.sealing import ERASED
from tests.e2e.conftest import SERVICES, Cluster
from tests.e2e.effects import all_done, missing_or_doubled, stream_counts
from tests.e2e.submit import submit_many
from tests.support.staff import auth
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXPECTED = {"routing": 1, "sla": 2, "notify": 1}


def _assert_exactly_once(cluster: Cluster, complaints: list[uuid.UUID]) -> None:
    stores = {s: cluster.store(s) for s in EXPECTED}
    for service, n in EXPECTED.items():
        problems = missing_or_doubled(stores[service], service, complaints, n)
        assert problems == {"missing": [], "doubled": []}, service


async def _wait_all_done(cluster: Cluster, complaints: list[uuid.UUID],
                         timeout: float = 240) -> None:
    stores = {s: cluster.store(s) for s in EXPECTED}
    await eventually(lambda: all_done(stores, complaints), timeout=timeout, interval=0.5,
                     message=f"every service reacting to all {len(complaints)} complaints")


async def test_kill_minus_9_of_a_service_mid_run_loses_and_doubles_nothing(
        cluster: Cluster) -> None:
    for service in SERVICES:
        cluster.start(service)
    victim = cluster.processes["routing"][0]
    killed = asyncio.Event()

    async def kill_once(accepted: int) -> None:
        if accepted == 150 and not killed.is_set():
            killed.set()
            victim.kill9()
            victim.start()  # comes back while submissions continue

    complaints = await submit_many(cluster.url("intake"), 500, on_accepted=kill_once)
    assert killed.is_set() and len(set(complaints)) == 500
    victim.wait_ready()
    await _wait_all_done(cluster, complaints)
    _assert_exactly_once(cluster, complaints)


async def test_broker_outage_while_intake_accepts_publishes_and_processes_once(
        cluster: Cluster) -> None:
    for service in SERVICES:
        cluster.start(service)
    before = await submit_many(cluster.url("intake"), 20)
    cluster.nats.stop()
    during = await submit_many(cluster.url("intake"), 40)  # accepted: stored, not yet sent
    cluster.nats.start()  # same port, same store directory
    after = await submit_many(cluster.url("intake"), 20)
    complaints = before + during + after
    await _wait_all_done(cluster, complaints)
    _assert_exactly_once(cluster, complaints)
    counts = await stream_counts(cluster.nats.url)
    assert counts and max(counts.values()) == 1
    received = sum(1 for k in counts if k.startswith("intake:"))
    assert received == len(complaints)
    # Keys made while NATS was away reached the key store before the events: notify opens
    # the contacts of the complaints accepted during the outage.
    await eventually(lambda: _acknowledgements_name_customers(cluster, during),
                     timeout=60, interval=1,
                     message="acknowledgements of the outage's complaints name a recipient")


def _acknowledgements_name_customers(cluster: Cluster, complaints: list[uuid.UUID]) -> bool:
    with httpx.Client(base_url=cluster.url("notify"), timeout=30) as client:
        for cid in complaints:
            r = client.get("/api/deliveries", params={"complaint_id": str(cid)},
                           headers=auth())
            assert r.status_code == 200, r.text
            rows = [row for row in r.json() if not row.get("internal")]
            if not rows:
                return False
            assert all(row["to"] not in ("", ERASED) for row in rows), rows
    return True


async def test_relay_replayed_from_zero_makes_no_duplicate_anywhere(cluster: Cluster) -> None:
    for service in SERVICES:
        cluster.start(service)
    complaints = await submit_many(cluster.url("intake"), 30)
    await _wait_all_done(cluster, complaints)
    before = await stream_counts(cluster.nats.url)
    for service in SERVICES:
        r = httpx.post(f"{cluster.url(service)}/ops/relay/replay", params={"from_position": 0},
                       headers=auth("operator"))
        assert r.status_code == 200, r.text

    async def relays_caught_up() -> bool:
        for service in SERVICES:
            state = httpx.get(f"{cluster.url(service)}/readyz").json()
            store = cluster.store(service)
            if state["relay_position"] != store.max_notification_id():  # type: ignore[attr-defined]
                return False
        return True

    await eventually(relays_caught_up, timeout=60, message="relays re-published everything")
    after = await stream_counts(cluster.nats.url)
    assert after == before, "the stream grew: a re-published event was not deduplicated"
    _assert_exactly_once(cluster, complaints)


async def test_three_routing_replicas_one_killed_keep_order_and_exactly_once(
        cluster: Cluster) -> None:
    cluster.start("intake")
    cluster.start("sla")
    cluster.start("notify")
    replicas = cluster.start("routing", replicas=3)

    async def holds_partitions() -> bool:
        held = [httpx.get(f"{r.url}/readyz").json()["partitions"] for r in replicas]
        return all(held) and sorted(p for h in held for p in h) == [0, 1, 2, 3]

    await eventually(holds_partitions, timeout=30, message="partitions spread over replicas")
    complaints = await submit_many(cluster.url("intake"), 60)

    async def add_info(round_: int) -> None:
        async with httpx.AsyncClient(base_url=cluster.url("intake"), timeout=30) as client:
            for cid in complaints:
                r = await client.post(f"/api/complaints/{cid}/info", headers=auth("support"),
                                      json={"channel": "hotline", "content": f"bổ sung {round_}"})
                assert r.status_code == 202, r.text

    await add_info(1)
    victim = next(r for r in replicas
                  if httpx.get(f"{r.url}/readyz").json()["partitions"])
    victim.kill9()
    await add_info(2)
    await add_info(3)
    await _wait_all_done(cluster, complaints)
    routing = cluster.store("routing")

    def infos_in_order() -> bool:
        for cid in complaints:
            case = routing._find(cid)  # type: ignore[attr-defined]
            notes = [i["note"] for i in case.info_received] if case else []
            if notes != ["bổ sung 1", "bổ sung 2", "bổ sung 3"]:
                return False
        return True

    await eventually(infos_in_order, timeout=120, interval=0.5,
                     message="every case received its three infos once, in order")
    _assert_exactly_once(cluster, complaints)
