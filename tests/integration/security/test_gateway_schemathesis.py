"""schemathesis through the public gateway: the merged OpenAPI the console serves at
``/openapi.json`` (every service's ``/api/…``: the gateway's and the console's API), each
operation fuzzed over real HTTP — client → gateway → service — and every answer checked
against that document: no server error, no undocumented status, body or content type.

All four services run in the test's event loop on a real nats-server (their runtimes
started); the console (its API part: the merged document) and the gateway are the real
apps, the gateway served by uvicorn on a free port, forwarding over ASGI transports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from hotro.gateway import GatewayLimits, build_gateway
from hotro.natsbin import NatsServerProcess, free_port
from hotro.settings import ToolSettings
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.console import console_app, write_assertion_keys, write_console_users
from tests.support.system import running_system
from tests.support.waiting import eventually
from tests.unit.notify.wire import received
from tests.unit.structure.test_api_schemas import Figures, _fuzz

log = logging.getLogger(__name__)

#: our credentials (as tests/unit/structure/test_api_schemas.py); over HTTP the server also
#: refuses a request whose head is too large with 431 before any route sees it
CONFIG = schemathesis.Config.from_dict({
    "generation": {"with-security-parameters": False},
    "checks": {"negative_data_rejection": {"expected-statuses": [
        "400", "401", "403", "404", "406", "413", "422", "428", "431", "5XX"]}}})


def _by_host(apps: Mapping[str, Any]) -> Any:
    """One ASGI app answering for every upstream, chosen by the Host header."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        host = dict(scope.get("headers") or []).get(b"host", b"").decode().split(":")[0]
        await apps[host](scope, receive, send)

    return app


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    port = free_port()
    options = ToolSettings().gateway_server_options()  # as `hotro gateway` serves it
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off", **options))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, timeout=20, message="gateway listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.mark.slow
async def test_the_public_api_through_the_gateway_has_no_server_error_and_no_undocumented_answer(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    users = write_console_users(tmp_path / "staff-users.toml")
    keys = write_assertion_keys(tmp_path / "auth-keys.toml")
    extra = {svc: {"users_file": str(users), "auth_keys_file": str(keys)}
             for svc in ("intake", "routing", "sla", "notify")}
    extra["intake"]["hotline_webhook_secret"] = "fuzz-webhook-secret"
    async with running_system(provisioned.url, lambda _: "memory:", tmp_path / "data",
                              partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                              settings_extra=extra) as system:
        console: FastAPI = console_app(users, keys, system.apps)
        upstreams = {name: f"http://{name}" for name in (*system.apps, "console")}
        transport = httpx.ASGITransport(app=_by_host({**system.apps, "console": console}))
        gateway = build_gateway(upstreams, GatewayLimits(), transport=transport)
        case_id = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
        system.application("routing").handle(received(uuid.UUID(case_id)))
        figures = Figures(head_limit=16 * 1024)
        async with serving(gateway) as base:
            def fuzz() -> None:
                schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=CONFIG)
                schema.config.update(base_url=base)
                _fuzz(schema, {"complaint_id": case_id}, figures)

            await asyncio.to_thread(fuzz)
    log.warning("schemathesis gateway: %s", figures)
    print(f"\nschemathesis gateway: {figures}")
    for label, statuses in sorted(figures.by_operation.items()):
        print(f"  {label}: {dict(sorted(statuses.items()))}")
    for found in figures.server_errors + figures.violations:  # one line each, to triage
        print("found:", found.replace("\n", " | ")[:300])
    assert figures.operations > 20, "the merged document lists every service's API"
    assert figures.server_errors == [], "\n".join(figures.server_errors[:20])
    assert figures.violations == [], "\n\n".join(figures.violations[:20])
    fuzzed = {label.rsplit(" (", 1)[0] for label in figures.by_operation}
    assert len(fuzzed) == figures.operations
