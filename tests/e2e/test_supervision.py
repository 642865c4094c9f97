"""`hotro up` supervises what it started: a nats-server or a service killed with SIGKILL
comes back by itself; a data directory has one `hotro up`; two started at the same moment
on two data directories take distinct ports and each talks only to its own services."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotro.natsbin import listening
from tests.support.hotro_up import HotroUp
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

COMPLAINT: dict[str, Any] = {
    "kind": "complaint", "channel": "web",
    "customer": {"name": "Võ Thị Hồng", "email": "hong.vo@example.com",
                 "phone": "0987 654 321"},
    "product": "dien-lanh", "category": "chat-luong-san-pham",
    "description": "Máy lạnh chảy nước."}


async def _submit(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post("/api/complaints", json=COMPLAINT,
                          headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def _case_opened(client: httpx.AsyncClient, token: str, reference: str) -> bool:
    r = await client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
    return r.status_code == 200 and any(c["reference"] == reference for c in r.json())


async def _all_ready(up: HotroUp) -> dict[str, str]:
    """{service: instance} when every service answers ready, else {}."""
    state = up.state()
    out: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=2) as client:
        for service, s in state["services"].items():
            try:
                r = await client.get(f"http://127.0.0.1:{s['port']}/readyz")
            except httpx.HTTPError:
                return {}
            body = r.json()
            # the console has no event stream: its readiness says nothing of NATS
            needs_nats = service != "console"
            if r.status_code != 200 or (needs_nats and not body.get("nats_connected")):
                return {}
            out[service] = body["instance"]
    return out


async def test_killed_nats_server_and_service_come_back_by_themselves(tmp_path: Path) -> None:
    up = HotroUp(tmp_path / "var").start()
    try:
        token = up.tokens()["support"]
        before = up.state()
        instances = {s: v["instance"] for s, v in before["services"].items()}
        assert await _all_ready(up) == instances
        nats_pid, nats_port = before["nats"][0]["pid"], before["nats"][0]["port"]

        async with httpx.AsyncClient(base_url=up.base_url, timeout=30) as client:
            first = await _submit(client)
            await eventually(lambda: _case_opened(client, token, first["reference"]),
                             timeout=60, message="the first case opened")

            # 1. SIGKILL the nats-server child
            killed = time.monotonic()
            os.kill(nats_pid, signal.SIGKILL)
            await eventually(lambda: up.state()["nats"][0]["pid"] != nats_pid
                             and listening(nats_port), timeout=30, interval=0.05,
                             message="nats-server restarted on its port")
            nats_back = time.monotonic() - killed
            during = await _submit(client)  # intake accepts meanwhile (its store is the truth)
            ready = await eventually(lambda: _all_ready(up), timeout=60, interval=0.1,
                                     message="every service ready again")
            services_back = time.monotonic() - killed
            assert ready == instances, "the services themselves were not restarted"
            await eventually(lambda: _case_opened(client, token, during["reference"]),
                             timeout=60, interval=0.1,
                             message="a complaint accepted after the kill reached routing")
            flowing = time.monotonic() - killed
            print(f"\nnats-server SIGKILL: listening again after {nats_back:.2f}s, services "
                  f"ready after {services_back:.2f}s, a new complaint's case opened after "
                  f"{flowing:.2f}s")
            assert flowing < 30, "services recover within seconds of a nats-server kill"
            text = up.console_text()
            assert "nats-server (port" in text and "exited with signal SIGKILL" in text
            assert f"nats-server is back on port {nats_port}" in text

            # 2. SIGKILL a service: restarted with a new instance, same port
            routing = up.state()["services"]["routing"]
            killed = time.monotonic()
            os.kill(routing["pid"], signal.SIGKILL)
            # the gateway knows from the supervisor: 503 at once, not a 504 after 30 s
            # of waiting in the socket's backlog
            r = await client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
            answered = time.monotonic() - killed
            assert r.status_code == 503 and r.headers["retry-after"], r.text
            assert answered < 2.0, f"503 only after {answered:.1f}s"

            async def routing_replaced() -> bool:
                now = await _all_ready(up)
                return bool(now) and now["routing"] != routing["instance"]

            await eventually(routing_replaced, timeout=60, interval=0.1,
                             message="routing restarted and ready")
            print(f"routing SIGKILL: ready again after {time.monotonic() - killed:.2f}s")
            assert up.state()["services"]["routing"]["port"] == routing["port"]
            assert up.state()["services"]["routing"]["restarts"] == 1
            after = await _submit(client)
            await eventually(lambda: _case_opened(client, token, after["reference"]),
                             timeout=60, message="the restarted routing opens cases")
            text = up.console_text()
            assert f"routing (pid {routing['pid']}) exited with signal SIGKILL" in text
            await eventually(lambda: "routing is ready again" in up.console_text(),
                             timeout=30, message="the console says routing is back")
    finally:
        assert up.stop() == 0


async def test_a_second_hotro_up_on_the_same_data_dir_refuses_at_once(tmp_path: Path) -> None:
    first = HotroUp(tmp_path / "var").start()
    try:
        second = HotroUp(tmp_path / "var").spawn()
        try:
            started = time.monotonic()
            code, out = second.output_until_exit(timeout=60)
            assert code == 1, out
            assert time.monotonic() - started < 20
            assert "another `hotro up`" in out and str((tmp_path / "var").resolve()) in out
            assert f"pid {first.proc.pid if first.proc else '?'}" in out
        finally:
            second.kill_own()  # kill() would find and kill the first run's children
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
            await _submit(client)  # the first run is untouched
    finally:
        assert first.stop() == 0


async def test_two_hotro_up_at_the_same_moment_take_distinct_ports(tmp_path: Path) -> None:
    ups = [HotroUp(tmp_path / name) for name in ("a", "b")]
    for up in ups:
        up.spawn()
    try:
        await asyncio.gather(*(asyncio.to_thread(up.wait_banner) for up in ups))
        states = [up.state() for up in ups]
        ports = [{"gateway": up.base_url, "smtp": s["smtp_port"],
                  **{n["name"]: n["port"] for n in s["nats"]},
                  **{k: v["port"] for k, v in s["services"].items()}}
                 for up, s in zip(ups, states, strict=True)]
        for key in ports[0]:
            assert ports[0][key] != ports[1][key], f"both runs use the same {key} port"
        all_ports = [p for p in (*ports[0].values(), *ports[1].values())]
        assert len(set(all_ports)) == len(all_ports)

        # each run's services answer with the instance ids that run gave them
        for up, state in zip(ups, states, strict=True):
            assert await _all_ready(up) == {k: v["instance"]
                                            for k, v in state["services"].items()}
        # and each gateway reaches its own system only
        a, b = ups
        async with httpx.AsyncClient(base_url=a.base_url, timeout=30) as ca, \
                httpx.AsyncClient(base_url=b.base_url, timeout=30) as cb:
            created = await _submit(ca)
            ref = created["reference"]
            mine = await ca.get(f"/api/complaints/{ref}",
                                headers={"Authorization": f"Bearer {a.tokens()['support']}"})
            assert mine.status_code == 200 and mine.json()["id"] == created["id"]
            theirs = await cb.get(f"/api/complaints/{ref}",
                                  headers={"Authorization": f"Bearer {b.tokens()['support']}"})
            assert theirs.status_code == 404 or theirs.json().get("id") != created["id"]
    finally:
        codes = [up.stop() for up in ups]
        assert codes == [0, 0], [up.console_text()[-3000:] for up in ups]


async def test_hotro_up_cluster_runs_three_nodes_and_survives_one_killed(
        tmp_path: Path) -> None:
    up = HotroUp(tmp_path / "var", args=("--cluster",)).start()
    try:
        assert "three-node JetStream cluster" in up.banner
        token = up.tokens()["support"]
        nodes = up.state()["nats"]
        assert [n["name"] for n in nodes] == ["n1", "n2", "n3"]
        assert len({n["port"] for n in nodes}) == 3
        victim = nodes[0]
        os.kill(victim["pid"], signal.SIGKILL)
        killed = time.monotonic()
        async with httpx.AsyncClient(base_url=up.base_url, timeout=30) as client:
            created = await _submit(client)
            await eventually(lambda: _case_opened(client, token, created["reference"]),
                             timeout=60, interval=0.1,
                             message="a complaint accepted after a node's kill reached routing")
        print(f"\ncluster node n1 SIGKILL: a new complaint's case opened after "
              f"{time.monotonic() - killed:.2f}s")
        await eventually(lambda: "nats-server n1 is back" in up.console_text(), timeout=30,
                         message="the node restarted")
        assert up.state()["nats"][0]["port"] == victim["port"]
    finally:
        assert up.stop() == 0
