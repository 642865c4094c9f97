"""NATS and HTTP over TLS, against the real pieces: a nats-server from the wheel that
requires TLS and client certificates (the config hotro/natsbin.py writes), provisioned
over TLS, and a service (`hotro serve sla`) that connects to it with the settings'
CA and client certificate and serves its own HTTP API over HTTPS; `hotro gateway` over
HTTPS."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.errors import NoServersError

from hotro.natsbin import NatsServerProcess, NatsServerTls, free_port, terminate
from hotro.provisioning import provision_all
from hotro.services.sla.settings import SlaSettings
from hotro.shared.messaging.connection import NatsConnection
from hotro.shared.messaging.credentials import NatsCredentials
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.security.pki import Pki, make_pki
from tests.support.hotro_up import clean_env
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_nats(tmp_path: Path, pki: Pki) -> Iterator[NatsServerProcess]:
    server = NatsServerProcess(
        store_dir=tmp_path / "nats", log_file=tmp_path / "nats.log",
        tls=NatsServerTls(pki.server_cert, pki.server_key, client_ca_file=pki.ca))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _client_tls(pki: Pki) -> NatsCredentials:
    return NatsCredentials(tls_ca_file=str(pki.ca), tls_cert_file=str(pki.client_cert),
                           tls_key_file=str(pki.client_key))


@pytest.fixture
async def provisioned_tls(tls_nats: NatsServerProcess, pki: Pki
                          ) -> AsyncIterator[NatsServerProcess]:
    await provision_all(tls_nats.url, partitions=TEST_PARTITIONS,
                        lease_ttl_s=TEST_LEASE_TTL_S, credentials=_client_tls(pki))
    yield tls_nats


def test_the_server_config_asks_for_tls_and_client_certificates(
        tls_nats: NatsServerProcess, pki: Pki) -> None:
    config = tls_nats.config_path().read_text(encoding="utf-8")
    assert f'cert_file: "{pki.server_cert.resolve()}"' in config
    assert f'ca_file: "{pki.ca.resolve()}"' in config and "verify: true" in config


async def test_a_connection_without_tls_or_without_a_client_certificate_is_refused(
        tls_nats: NatsServerProcess, pki: Pki) -> None:
    for options in ({}, {"tls": pki.client_context()}):  # plain; TLS but no certificate
        with pytest.raises((NoServersError, OSError, TimeoutError, nats.errors.Error)):
            nc = await nats.connect(tls_nats.url, connect_timeout=2, allow_reconnect=False,
                                    max_reconnect_attempts=0, **options)
            await nc.close()


async def test_a_service_connection_from_settings_speaks_tls_to_the_server(
        provisioned_tls: NatsServerProcess, pki: Pki) -> None:
    settings = SlaSettings(nats_url=provisioned_tls.url, store_url="memory:",
                           allow_memory_store=True, nats_tls_ca_file=str(pki.ca),
                           nats_tls_cert_file=str(pki.client_cert),
                           nats_tls_key_file=str(pki.client_key))
    fatal: list[bool] = []
    connection = NatsConnection(settings.nats_servers(), "sla:tls-test",
                                on_fatal=lambda: fatal.append(True),
                                credentials=settings.nats_credentials())
    client = await connection.connect(attempts_timeout_s=10)
    try:
        sub = await client.subscribe("tls.echo")
        await client.publish("tls.echo", b"xin chao")
        message = await sub.next_msg(timeout=5)
        assert message.data == b"xin chao"
        info = await client.jetstream().stream_info("HOTRO_EVENTS")
        assert info.config.name == "HOTRO_EVENTS"  # provisioned over TLS too
    finally:
        await connection.close()
    assert fatal == []


async def test_a_service_serves_https_and_reaches_nats_over_tls(
        provisioned_tls: NatsServerProcess, pki: Pki, tmp_path: Path) -> None:
    service = ServiceProcess("sla", {
        "HOTRO_NATS_URL": provisioned_tls.url,
        "HOTRO_NATS_TLS_CA_FILE": str(pki.ca),
        "HOTRO_NATS_TLS_CERT_FILE": str(pki.client_cert),
        "HOTRO_NATS_TLS_KEY_FILE": str(pki.client_key),
        "HOTRO_HTTP_TLS_CERT_FILE": str(pki.server_cert),
        "HOTRO_HTTP_TLS_KEY_FILE": str(pki.server_key),
        "HOTRO_STORE_URL": f"sqlite:///{tmp_path / 'sla.sqlite'}",
        "HOTRO_PARTITIONS": str(TEST_PARTITIONS),
        "HOTRO_LEASE_TTL_S": str(TEST_LEASE_TTL_S),
        "HOTRO_DATA_DIR": str(tmp_path / "data"),
    }, tmp_path / "sla.log").start()
    https = f"https://127.0.0.1:{service.port}"
    try:
        async with httpx.AsyncClient(verify=pki.client_context(), timeout=2) as client:
            async def ready() -> bool:
                assert service.proc is not None and service.proc.poll() is None, \
                    (tmp_path / "sla.log").read_text()[-3000:]
                try:
                    return (await client.get(f"{https}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            # ready means: NATS connected (over TLS) and the streams found
            await eventually(ready, timeout=60, interval=0.2, message="sla ready over HTTPS")
        with pytest.raises(httpx.TransportError):  # plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{service.port}/healthz", timeout=2)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{https}/healthz", timeout=2)  # a client that does not trust our CA
    finally:
        service.stop()


def test_http_tls_settings_are_checked_at_start(pki: Pki) -> None:
    base = {"nats_url": "nats://127.0.0.1:1", "store_url": "memory:",
            "allow_memory_store": True}
    with pytest.raises(ValueError, match="both"):
        SlaSettings(**base, http_tls_cert_file=str(pki.server_cert))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TLS certificate"):
        SlaSettings(**base, http_tls_cert_file=str(pki.server_cert),  # type: ignore[arg-type]
                    http_tls_key_file=str(pki.client_key))
    with pytest.raises(ValueError, match="no such file"):
        SlaSettings(**base, nats_tls_ca_file="/nonexistent/ca.crt")  # type: ignore[arg-type]


async def test_the_gateway_serves_https(pki: Pki, tmp_path: Path) -> None:
    port = free_port()
    dead = "http://127.0.0.1:9"  # never reached: the index answers without upstreams
    env = {**clean_env(), "HOTRO_GATEWAY_TLS_CERT_FILE": str(pki.server_cert),
           "HOTRO_GATEWAY_TLS_KEY_FILE": str(pki.server_key)}
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotro.cli", "gateway", "--port", str(port), "--upstreams",
         ",".join(f"{s}={dead}" for s in ("intake", "routing", "sla", "notify"))],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(verify=pki.client_context(), timeout=2) as client:
            async def index() -> httpx.Response | None:
                assert proc.poll() is None, (tmp_path / "gateway.log").read_text()[-2000:]
                try:
                    return await client.get(f"https://127.0.0.1:{port}/")
                except httpx.TransportError:
                    return None

            answer = await eventually(index, timeout=30, interval=0.1,
                                      message="the gateway answering over HTTPS")
        assert answer.status_code == 200 and answer.json()["service"] == "hotro"
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        terminate(proc)
        log.close()
