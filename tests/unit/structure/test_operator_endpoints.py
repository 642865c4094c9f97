"""The runtime's relay replay (every service) over real sockets, on a real nats-server:
operators only, on the service's own listener only (never through the gateway, nor with
proxy headers), arguments validated, and every accepted call recorded as an
OperatorAction in the service's own store — never published."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import httpx
import uvicorn
from starlette.applications import Starlette

from hotro.gateway import build_gateway
from hotro.natsbin import NatsServerProcess, free_port
from hotro.shared.runtime.host import ServiceRuntime
from hotro.shared.runtime.operator_actions import operator_actions
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.staff import auth
from tests.support.waiting import eventually
from tests.unit.notify.wire import received
from tests.unit.structure.service_apps import service_app


@contextlib.asynccontextmanager
async def _serve(app: Starlette, *, lifespan: Literal["on", "off"] = "on"
                 ) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan=lifespan))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=15, message="server started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


async def test_relay_replay_is_an_operator_action_on_the_own_listener_only(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    app = service_app("sla", tmp_path, nats_url=provisioned.url, partitions=TEST_PARTITIONS,
                      lease_ttl_s=TEST_LEASE_TTL_S)
    runtime: ServiceRuntime = app.state.runtime
    sla = runtime.app
    async with _serve(app) as url:
        sla.handle(received(uuid.uuid4()))  # a case: clocks, events to publish

        def settled() -> bool:  # its clocks, long past due, are breached at once (timer)
            board = app.state.board
            board.refresh()
            return all(row.status != "running" for row in board.open_clocks()) and \
                runtime.relay is not None and \
                runtime.relay.position == sla.max_notification_id()

        await eventually(settled, timeout=20, message="sla's log settled and published")
        end = sla.max_notification_id()
        async with httpx.AsyncClient(base_url=url) as client:
            replay = "/ops/relay/replay"
            assert (await client.post(replay, params={"from_position": 0})).status_code == 401
            refused = await client.post(replay, params={"from_position": 0},
                                        headers=auth("supervisor"))
            assert refused.status_code == 403
            proxied = await client.post(replay, params={"from_position": 0},
                                        headers={**auth("operator"), "Via": "1.1 proxy"})
            assert proxied.status_code == 404
            operator = auth("operator")
            missing = await client.post(replay, headers=operator)  # no silent "from 0"
            assert missing.status_code == 422
            negative = await client.post(replay, params={"from_position": -1}, headers=operator)
            assert negative.status_code == 422
            assert negative.json()["detail"][0]["loc"] == ["query", "from_position"]
            beyond = await client.post(replay, params={"from_position": end + 1},
                                       headers=operator)
            assert beyond.status_code == 422
            assert beyond.json()["detail"] == [{
                "type": "value_error", "loc": ["query", "from_position"],
                "msg": f"beyond the end of the log ({end})", "input": end + 1}]
            huge = await client.post(replay, headers=operator,
                                     params={"from_position": 10**21})
            assert huge.status_code == 422
            assert operator_actions(sla) == []  # refusals store nothing

            done = await client.post(replay, params={"from_position": 0}, headers=operator)
            assert done.status_code == 200, done.text
            assert done.json() == {"replaying_from": 0, "until": end}
            [action] = operator_actions(sla)
            assert (action.operator_id, action.operator_role, action.action) == (
                "test.operator", "operator", "relay.replay")
            assert action.arguments == {"from_position": 0, "log_end": end}
            assert action.credential == "api_token" and action.outcome == "done"
            await eventually(lambda: runtime.relay is not None
                             and runtime.relay.position == sla.max_notification_id(),
                             timeout=20, message="the replay caught up")
            # still not published: internal to sla's log
            assert not [e for e in sla.envelopes() if "Operator" in e.event_type]
            # the health routes are there, for the own listener
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/metrics", headers={"Via": "1.1 x"})).status_code == 404

        # through the public gateway, nothing of it is reachable
        gateway = build_gateway({"sla": url})
        async with _serve(gateway, lifespan="off") as public, \
                httpx.AsyncClient(base_url=public) as client:
            for path in ("/ops/relay/replay", "/services/sla/ops/relay/replay",
                         "/services/sla/readyz", "/metrics"):
                r = await client.post(path, params={"from_position": 0}, headers=operator)
                assert r.status_code == 404, path
            assert (await client.get("/api/calendar/2026")).status_code == 200
        assert len(operator_actions(sla)) == 1
