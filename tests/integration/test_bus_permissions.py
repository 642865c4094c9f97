"""Least privilege on the bus, proved with the real client against a real nats-server
started with the shipped configuration (``deploy/nats/permissions.conf``, passwords from
the environment as in production): every denial is the server's, seen as a permissions
violation; and the four services, each with its own credentials, run the whole flow
without one."""

from __future__ import annotations

import base64
import functools
import logging
import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js import api as js_api

from hotro import cli_limits
from hotro.nats_permissions import OPERATOR, SHIPPED_FILE, password_env, users
from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from hotro.shared.contracts.subjects import (
    DEFAULT_PARTITIONS,
    EVENTS_STREAM,
    LEASES_BUCKET,
    durable_name,
    event_subject,
    partition_of,
)
from hotro.shared.messaging.connection import NatsConnection
from hotro.shared.messaging.credentials import NatsCredentials, connect
from hotro.shared.messaging.provision import PII_KEYS_BUCKET, SEALS_STREAM
from hotro.shared.runtime.shared_window import LIMITS_BUCKET, LimitsBucket, Taken, Window
from hotro.shared.seals import seal_subject
from tests.conftest import TEST_LEASE_TTL_S
from tests.integration.test_pipeline import _submit_and_follow
from tests.support.system import running_system, settled
from tests.support.waiting import eventually

PARTITIONS = DEFAULT_PARTITIONS  # what the shipped file is generated for
KEYS_STREAM = f"KV_{PII_KEYS_BUCKET}"
LEASES_STREAM = f"KV_{LEASES_BUCKET}"
LIMITS_STREAM = f"KV_{LIMITS_BUCKET}"
SERVICES = ("intake", "routing", "sla", "notify")


@dataclass
class SecuredNats:
    server: NatsServerProcess
    passwords: dict[str, Path]
    clients: list[Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def credentials(self, user: str) -> NatsCredentials:
        return NatsCredentials(user, str(self.passwords[user]))

    async def connect(self, user: str) -> User:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await connect([self.url], self.credentials(user), error_cb=on_error,
                           allow_reconnect=False)
        self.clients.append(nc)
        return User(user, nc, nc.jetstream(timeout=1.0), errors)


@dataclass
class User:
    name: str
    nc: Client
    js: JetStreamContext
    errors: list[str]

    async def denied(self, attempt: Callable[[], Awaitable[Any]], subject: str) -> None:
        """The attempt fails, and the server said why: a permissions violation on
        ``subject`` (a prefix of it) for this user."""
        before = len(self.errors)
        with pytest.raises(Exception):  # noqa: B017 - the client sees a timeout; the server's word is below
            await attempt()
        await self.nc.flush()

        def said() -> bool:  # nats-py lower-cases the server's error line
            return any("permissions violation" in e and subject.lower() in e
                       for e in self.errors[before:])

        await eventually(said, timeout=5, message=f"{self.name}: violation on {subject}")


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredNats]:
    """nats-server from the shipped configuration: nats.conf's authorization (the shipped
    permissions.conf, included as is) with passwords from the environment."""
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o700)
    env: dict[str, str] = {}
    files: dict[str, Path] = {}
    for user in users():
        # NATS parses a variable's value by its look (a leading digit can read as a number
        # or a date): passwords start with a letter, as docs/operations.md asks
        password = "p" + secrets.token_urlsafe(24)
        env[password_env(user)] = password
        files[user] = folder / f"{user}.password"
        files[user].write_text(password + "\n", encoding="utf-8")
        os.chmod(files[user], 0o600)
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    shutil.copy(SHIPPED_FILE, conf_dir / "permissions.conf")
    server = NatsServerProcess(store_dir=tmp_path / "nats", log_file=tmp_path / "nats.log",
                               authorization='include "./permissions.conf"',
                               config_file=conf_dir / "nats-server.conf", env=env)
    server.start()
    try:
        yield SecuredNats(server, files)
    finally:
        server.stop()


@pytest.fixture
async def bus(secured: SecuredNats) -> AsyncIterator[SecuredNats]:
    await provision_all(secured.url, partitions=PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                        max_deliver=5, ack_wait_s=3.0,
                        credentials=secured.credentials(OPERATOR))
    try:
        yield secured
    finally:
        for nc in secured.clients:
            if not nc.is_closed:
                await nc.close()


async def test_nobody_gets_in_without_credentials_or_with_a_wrong_password(
        secured: SecuredNats, tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - nats-py: authorization violation / no servers
        await nats.connect(secured.url, allow_reconnect=False, max_reconnect_attempts=0,
                           connect_timeout=2)
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password", encoding="utf-8")
    with pytest.raises(Exception):  # noqa: B017
        await connect([secured.url], NatsCredentials("intake", str(wrong)),
                      allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)


async def test_a_service_cannot_touch_consumers_or_subjects_that_are_not_its_own(
        bus: SecuredNats) -> None:
    operator = await bus.connect(OPERATOR)
    intake = await bus.connect("intake")
    ops = operator.nc.jetstream(timeout=5)

    # creating a consumer that would read every service's events
    await intake.denied(lambda: intake.js.add_consumer(EVENTS_STREAM, js_api.ConsumerConfig(
        durable_name="spy", filter_subject="hotro.evt.>",
        ack_policy=js_api.AckPolicy.EXPLICIT)), "$JS.API.CONSUMER.")
    await intake.denied(lambda: intake.js.pull_subscribe("hotro.evt.>", stream=EVENTS_STREAM),
                        "$JS.API.CONSUMER.")
    assert [c.name for c in await ops.consumers_info(EVENTS_STREAM)
            if not c.name.startswith(("intake-", "routing-", "sla-", "notify-"))] == []

    # deleting routing's consumer
    await intake.denied(lambda: intake.js.delete_consumer(EVENTS_STREAM, "routing-p0"),
                        "$JS.API.CONSUMER.DELETE.HOTRO_EVENTS.routing-p0")
    assert (await ops.consumer_info(EVENTS_STREAM, "routing-p0")).name == "routing-p0"

    # intake publishes its own event (allowed); routing's consumer of that partition has
    # it — intake cannot fetch it from there
    complaint = uuid.uuid4()
    p = partition_of(complaint, PARTITIONS)
    await intake.js.publish(event_subject("intake", "ComplaintReceived", complaint, PARTITIONS),
                            b"{}", stream=EVENTS_STREAM)
    sub = await intake.js.pull_subscribe_bind(durable=durable_name("routing", p),
                                              stream=EVENTS_STREAM)
    await intake.denied(lambda: sub.fetch(1, timeout=1),
                        f"$JS.API.CONSUMER.MSG.NEXT.HOTRO_EVENTS.routing-p{p}")
    info = await ops.consumer_info(EVENTS_STREAM, durable_name("routing", p))
    assert info.num_pending == 1 and info.delivered.stream_seq == 0, info

    # publishing as another service
    forged = event_subject("routing", "ComplaintClosed", complaint, PARTITIONS)
    await intake.denied(lambda: intake.js.publish(forged, b"{}", stream=EVENTS_STREAM),
                        forged)
    state = (await ops.stream_info(EVENTS_STREAM, subjects_filter="hotro.evt.routing.>")).state
    assert not state.subjects
    # and its own consumer still works for it: info, fetch, ack
    mine = durable_name("intake", 0)
    assert (await intake.js.consumer_info(EVENTS_STREAM, mine)).name == mine


async def test_data_keys_are_written_once_and_read_by_role(bus: SecuredNats) -> None:
    operator = await bus.connect(OPERATOR)
    intake = await bus.connect("intake")
    notify = await bus.connect("notify")
    key = os.urandom(32)

    # intake creates a key and reads it
    intake_kv = await intake.js.key_value(PII_KEYS_BUCKET)
    revision = await intake_kv.create("c-1", base64.b64encode(key))
    assert (await intake_kv.get("c-1")).value == base64.b64encode(key)

    # ... but can neither replace, delete nor purge it: refused by the bucket itself
    # (write-once keys, no rollups) and, for the stream API, by its permissions
    writes: list[Callable[[], Awaitable[Any]]] = [
        lambda: intake_kv.put("c-1", b"other"), lambda: intake_kv.delete("c-1"),
        lambda: intake_kv.purge("c-1"), lambda: intake_kv.create("c-1", b"x")]
    for write in writes:
        with pytest.raises(nats.js.errors.Error):
            await write()
    await intake.denied(lambda: intake.js.purge_stream(KEYS_STREAM),
                        f"$JS.API.STREAM.PURGE.{KEYS_STREAM}")
    await intake.denied(lambda: intake.js.purge_stream(KEYS_STREAM,
                                                       subject=f"$KV.{PII_KEYS_BUCKET}.c-1"),
                        f"$JS.API.STREAM.PURGE.{KEYS_STREAM}")
    await intake.denied(lambda: intake.js.delete_msg(KEYS_STREAM, revision),
                        f"$JS.API.STREAM.MSG.DELETE.{KEYS_STREAM}")
    await intake.denied(lambda: intake.js.delete_stream(KEYS_STREAM),
                        f"$JS.API.STREAM.DELETE.{KEYS_STREAM}")

    # notify reads it
    notify_kv = await notify.js.key_value(PII_KEYS_BUCKET)
    assert (await notify_kv.get("c-1")).value == base64.b64encode(key)

    # routing and sla cannot read it, by no door
    for name in ("routing", "sla"):
        await _cannot_read_keys_or_others_events(await bus.connect(name), revision)

    # the key is intact after all that
    ops_kv = await operator.nc.jetstream(timeout=5).key_value(PII_KEYS_BUCKET)
    entry = await ops_kv.get("c-1")
    assert entry.value == base64.b64encode(key) and entry.revision == revision


async def _cannot_read_keys_or_others_events(user: User, revision: int) -> None:
    subject = f"$KV.{PII_KEYS_BUCKET}.c-1"
    await user.denied(lambda: user.js.key_value(PII_KEYS_BUCKET),
                      f"$JS.API.STREAM.INFO.{KEYS_STREAM}")
    await user.denied(lambda: user.js.get_msg(KEYS_STREAM, subject=subject, direct=True),
                      f"$JS.API.DIRECT.GET.{KEYS_STREAM}")
    await user.denied(lambda: user.js.get_msg(KEYS_STREAM, seq=revision),
                      f"$JS.API.STREAM.MSG.GET.{KEYS_STREAM}")
    # nor another service's events, by sequence or by subject, nor the stream's subject
    # index (every complaint id and event type)
    await user.denied(lambda: user.js.stream_info(EVENTS_STREAM, subjects_filter="hotro.>"),
                      f"$JS.API.STREAM.INFO.{EVENTS_STREAM}")
    await user.denied(lambda: user.js.get_msg(EVENTS_STREAM, seq=1),
                      f"$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}")
    await user.denied(lambda: user.js.get_msg(EVENTS_STREAM, subject="hotro.evt.intake.>",
                                              direct=True),
                      f"$JS.API.DIRECT.GET.{EVENTS_STREAM}.hotro.evt.intake.>")


async def test_public_limits_are_counted_by_their_owners_in_their_own_keys(
        bus: SecuredNats) -> None:
    """intake and the console count strangers in ``hotro_limits`` with their own
    credentials (the bucket answers: no fallback to a per-process count), each only under
    its own prefix; the services that count nothing cannot open the bucket."""
    users_by_name = {name: await bus.connect(name) for name in ("intake", "console")}
    for name, user in users_by_name.items():
        window = Window("address", 2, 60.0,
                        bucket=LimitsBucket(name, functools.partial(getattr, user, "js")))
        taken = [await window.take("198.51.100.7") for _ in range(3)]
        assert [isinstance(t, Taken) and t.shared for t in taken] == [True, True, False]
        await window.forget("198.51.100.7")
    intake = users_by_name["intake"]
    # the operator's tool reads and lifts intake's count (`hotro limits lift`)
    window = Window("address", 1, 60.0,
                    bucket=LimitsBucket("intake", functools.partial(getattr, intake, "js")))
    assert isinstance(await window.take("203.0.113.60"), Taken)
    assert isinstance(await window.take("203.0.113.60"), float)
    operator = await bus.connect(OPERATOR)
    assert len(await cli_limits.lift(operator.js, "address", "203.0.113.60")) == 1
    assert isinstance(await window.take("203.0.113.60"), Taken)
    other = f"$KV.{LIMITS_BUCKET}.console.attempts.x"
    await intake.denied(lambda: intake.js.publish(other, b"[]"), other)
    await intake.denied(
        lambda: intake.js.get_msg(LIMITS_STREAM, subject=other, direct=True),
        f"$JS.API.DIRECT.GET.{LIMITS_STREAM}.{other}")
    for name in ("routing", "sla", "notify"):
        user = await bus.connect(name)
        await user.denied(functools.partial(user.js.key_value, LIMITS_BUCKET),
                          f"$JS.API.STREAM.INFO.{LIMITS_STREAM}")


def _refused_subscription(user: User, before: int, text: str) -> Callable[[], bool]:
    """The server refused a subscription whose subject contains ``text`` (nats-py
    lower-cases the server's error line)."""
    def check() -> bool:
        return any("permissions violation for subscription" in e and text.lower() in e
                   for e in user.errors[before:])
    return check


async def test_no_user_can_read_another_users_replies(bus: SecuredNats) -> None:
    everyone = [await bus.connect(user) for user in users()]
    for user in everyone:
        for other in users():
            if other == user.name:
                continue
            before = len(user.errors)
            await user.nc.subscribe(f"_INBOX_{other}.>")
            await user.nc.flush()
            await eventually(_refused_subscription(user, before, f'"_INBOX_{other}.>"'),
                             timeout=5, message=f"{user.name} on {other}'s inbox")
        before = len(user.errors)
        await user.nc.subscribe("_INBOX.>")  # the default prefix: nobody's to read
        await user.nc.flush()
        await eventually(_refused_subscription(user, before, '"_INBOX.>"'), timeout=5,
                         message=f"{user.name} on the default inbox")
        # its own inbox is its own: requests and their replies work (the console may ask
        # only about its sessions bucket; not provisioned here, the server's answer says so)
        stream = "KV_hotro_sessions" if user.name == "console" else LEASES_STREAM
        reply = await user.nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=5)
        assert stream.encode() in reply.data or b"stream not found" in reply.data


async def test_each_service_runs_the_whole_flow_with_its_own_credentials(
        bus: SecuredNats, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="hotro.shared.messaging.connection")
    extra: dict[str, dict[str, Any]] = {
        service: {"nats_user": service, "nats_password_file": str(bus.passwords[service])}
        for service in SERVICES}
    async with running_system(bus.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                              settings_extra=extra) as system:
        # relay publish, consumers fetch and ack, leases, data keys (intake creates,
        # notify opens the contact to send the acknowledgement)
        await _submit_and_follow(system)
        await eventually(lambda: settled(system, PARTITIONS), message="settled")
        for service in SERVICES:
            runtime = system.runtime(service)
            assert runtime.leases is not None and runtime.leases.holds_relay()
            assert len(runtime.leases.held_partitions()) == PARTITIONS
        # every service's seal keeper resumed from and appended to its chain
        ops = (await bus.connect(OPERATOR)).nc.jetstream(timeout=5)

        async def sealed() -> bool:
            for service in SERVICES:
                try:
                    await ops.get_last_msg(SEALS_STREAM, seal_subject(service))
                except nats.js.errors.NotFoundError:
                    return False
            return True

        await eventually(sealed, timeout=15, message="a seal of every service")
        # a relay finds where it stopped through its own subjects (scoped direct get)
        positions = {}
        for service in SERVICES:
            relay = system.runtime(service).relay
            assert relay is not None
            positions[service] = await relay.resume_position()
        assert positions["intake"] > 0 and positions["notify"] > 0, positions
    # a restart: the leases released on stop are taken again through their delete
    # markers (the lease code's direct get of its own keys)
    async with running_system(bus.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                              settings_extra=extra, services=("intake",)) as again:
        leases = again.runtime("intake").leases
        assert leases is not None
        await eventually(lambda: leases.holds_relay() and
                         len(leases.held_partitions()) == PARTITIONS, message="leases again")
    refused = [r.getMessage() for r in caplog.records if "NATS refused" in r.getMessage()]
    assert refused == [], refused
    server_log = (tmp_path / "nats.log").read_text(encoding="utf-8")
    assert "Violation" not in server_log, [
        line for line in server_log.splitlines() if "Violation" in line]


async def test_a_refused_request_is_logged_by_the_service_connection(
        bus: SecuredNats, caplog: pytest.LogCaptureFixture) -> None:
    """A missing grant must never be silent: the service's connection logs it as an error."""
    caplog.set_level(logging.ERROR, logger="hotro.shared.messaging.connection")
    conn = NatsConnection([bus.url], "intake:test", on_fatal=lambda: None,
                          credentials=bus.credentials("intake"))
    nc = await conn.connect()
    try:
        await nc.subscribe("_INBOX_routing.>")
        await nc.flush()
        await eventually(lambda: any("NATS refused" in r.getMessage() and
                                     "_inbox_routing.>" in r.getMessage()
                                     for r in caplog.records), timeout=5,
                         message="the refusal logged")
    finally:
        await conn.close()
