"""Two intake replicas (one store, one NATS) count what a stranger does together: the
public form's limit per client address and the email sender's limit hold for the service,
not for each replica, so scaling intake out does not multiply what one stranger can make
it do."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from hotro.natsbin import NatsServerProcess
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually
from tests.unit.intake.conftest import complaint

from .mailer import can_connect, deliver, free_port, utf8_mail


@contextlib.asynccontextmanager
async def two_replicas(nats: NatsServerProcess, tmp_path: Path,
                       **settings: Any) -> AsyncIterator[list[InProcessSystem]]:
    async with contextlib.AsyncExitStack() as stack:
        replicas = []
        for name in ("a", "b"):
            extra = {"replica_id": name, **{k: v(name) if callable(v) else v
                                            for k, v in settings.items()}}
            replicas.append(await stack.enter_async_context(running_system(
                nats.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite", tmp_path,
                partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                services=("intake",), settings_extra={"intake": extra})))
        yield replicas


def _form(replica: InProcessSystem) -> httpx.AsyncClient:
    """The gateway (a trusted peer) in front of one replica."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(
        app=replica.apps["intake"], client=("127.0.0.1", 40000)), base_url="http://intake")


async def _submit(client: httpx.AsyncClient, n: int) -> httpx.Response:
    body = complaint(customer={"name": f"Khách {n}", "email": f"khach{n}@example.vn"},
                     description=f"Yêu cầu số {n}: máy giặt không vắt")
    return await client.post("/api/complaints", json=body,
                             headers={"Idempotency-Key": str(uuid.uuid4()),
                                      "X-Forwarded-For": "198.51.100.7"})


async def test_the_public_forms_limit_per_address_holds_across_replicas(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    async with two_replicas(provisioned, tmp_path, public_per_address=3) as (a, b), \
            _form(a) as via_a, _form(b) as via_b:
        statuses = [(await _submit(via_a if n % 2 else via_b, n)).status_code
                    for n in range(3)]
        assert statuses == [201, 201, 201]
        for client in (via_a, via_b):  # a fourth from that address, on either replica
            refused = await _submit(client, 9)
            assert refused.status_code == 429, refused.text
            assert refused.json()["detail"]["code"] == "too_many_per_address"


async def test_one_senders_mail_is_limited_across_replicas(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    ports = {"a": free_port(), "b": free_port()}  # two MX hosts, one intake replica each
    async with two_replicas(provisioned, tmp_path, mail_per_sender=2,
                            smtp_listen_port=lambda name: ports[name]):
        for port in ports.values():
            await eventually(functools.partial(can_connect, port), message="SMTP up")
        codes = [(await deliver(port, utf8_mail(f"<flood.{n}.{name}@example.vn>"),
                                mail_from="an.nguyen@example.vn"))[0]
                 for n in range(2) for name, port in ports.items()]
        assert codes == [250, 250, 451, 451], codes
