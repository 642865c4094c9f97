"""Limits on what strangers do are counted by every replica together, in NATS KV: two
replicas of a service allow a key its limit once, not twice; concurrent requests cannot
all take a window's last place; a refused request gives back what it took; and while the
bucket is away each replica counts on its own rather than refusing everyone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from hotro.natsbin import NatsServerProcess
from hotro.shared.runtime.shared_window import LIMITS_BUCKET, LimitsBucket, Taken, Window
from tests.support.waiting import eventually

WINDOW_S = 3600.0


@dataclass
class Replica:
    nc: Client
    bucket: LimitsBucket

    def window(self, limit: int, *, now: list[float] | None = None) -> Window:
        clock = now or [1_000_000.0]
        return Window("address", limit, WINDOW_S, bucket=self.bucket,
                      wall=lambda: clock[0], monotonic=lambda: clock[0])


def _constant(js: JetStreamContext) -> Callable[[], JetStreamContext]:
    return lambda: js


@pytest.fixture
async def replicas(provisioned: NatsServerProcess) -> AsyncIterator[list[Replica]]:
    made: list[Replica] = []
    for _ in range(2):
        nc = await nats.connect(provisioned.url)
        made.append(Replica(nc, LimitsBucket("intake", _constant(nc.jetstream(timeout=2)),
                                             retry_s=0.2)))
    try:
        yield made
    finally:
        for replica in made:
            with contextlib.suppress(Exception):  # the server may have been stopped
                await replica.nc.close()


async def test_two_replicas_allow_a_key_its_limit_once(replicas: list[Replica]) -> None:
    one, two = (r.window(3) for r in replicas)
    outcomes = [await (one if n % 2 else two).take("198.51.100.7") for n in range(3)]
    assert all(isinstance(o, Taken) and o.shared for o in outcomes), outcomes
    for window in (one, two):
        wait = await window.take("198.51.100.7")
        assert isinstance(wait, float) and 0 < wait <= WINDOW_S
        assert await window.retry_after("198.51.100.7") == pytest.approx(wait)
    # another key has its own count, on either replica
    assert isinstance(await two.take("203.0.113.9"), Taken)


async def test_concurrent_requests_on_both_replicas_take_only_the_free_places(
        replicas: list[Replica]) -> None:
    windows = [r.window(4) for r in replicas]
    outcomes = await asyncio.gather(*(windows[n % 2].take("198.51.100.8")
                                      for n in range(12)))
    assert sum(isinstance(o, Taken) for o in outcomes) == 4


async def test_a_place_given_back_or_a_key_forgotten_is_free_again(
        replicas: list[Replica]) -> None:
    one, two = (r.window(2) for r in replicas)
    first = await one.take("nv.lan")
    second = await two.take("nv.lan")
    assert isinstance(first, Taken) and isinstance(second, Taken)
    assert isinstance(await one.take("nv.lan"), float)
    await two.give_back(first)  # given back on the other replica
    assert isinstance(await one.take("nv.lan"), Taken)
    assert isinstance(await two.take("nv.lan"), float)
    await one.forget("nv.lan")  # a purge: the key counts from zero (after its marker)
    assert isinstance(await two.take("nv.lan"), Taken)
    assert isinstance(await one.take("nv.lan"), Taken)
    assert isinstance(await two.take("nv.lan"), float)


async def test_the_window_moves_on_with_the_clock(replicas: list[Replica]) -> None:
    now = [1_000_000.0]
    one, two = (r.window(1, now=now) for r in replicas)
    assert isinstance(await one.take("k"), Taken)
    now[0] += WINDOW_S - 1
    assert await two.take("k") == pytest.approx(1.0)
    now[0] += 1
    assert isinstance(await two.take("k"), Taken)


async def test_counts_from_a_worker_thread_are_shared(replicas: list[Replica]) -> None:
    one, two = (r.window(2) for r in replicas)
    assert await replicas[0].bucket.kv() is not None  # bound on the loop, as at start
    assert await replicas[1].bucket.kv() is not None
    taken = await asyncio.to_thread(one.take_blocking, "sender")
    assert isinstance(taken, Taken) and taken.shared
    assert isinstance(await asyncio.to_thread(two.take_blocking, "sender"), Taken)
    assert isinstance(await asyncio.to_thread(one.take_blocking, "sender"), float)
    assert isinstance(await two.take("sender"), float)


async def test_the_bucket_stores_digests_not_the_counted_keys(
        replicas: list[Replica]) -> None:
    await replicas[0].window(5).take("198.51.100.77")
    kv = await replicas[0].nc.jetstream().key_value(LIMITS_BUCKET)
    keys = await kv.keys()
    assert len(keys) == 1 and keys[0].startswith("intake.address.")
    assert "198" not in keys[0].removeprefix("intake.address.")


async def test_without_the_bucket_each_replica_counts_on_its_own(
        provisioned: NatsServerProcess, replicas: list[Replica],
        caplog: pytest.LogCaptureFixture) -> None:
    one, two = (r.window(2) for r in replicas)
    assert isinstance(await one.take("k"), Taken)
    provisioned.stop()
    with caplog.at_level(logging.WARNING):
        # each replica still refuses beyond the limit it counted itself: bounded, not open
        for window in (one, two):
            outcomes = [await window.take("k") for _ in range(3)]
            assert [isinstance(o, Taken) for o in outcomes] == [True, True, False]
            assert not any(o.shared for o in outcomes if isinstance(o, Taken))
    assert any("counted in this process" in r.getMessage() for r in caplog.records)


async def test_an_unprovisioned_bucket_is_counted_per_process(
        nats_server: NatsServerProcess, caplog: pytest.LogCaptureFixture) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream(timeout=1)
        bucket = LimitsBucket("intake", lambda: js, retry_s=0.1)
        window = Window("address", 1, WINDOW_S, bucket=bucket)
        with caplog.at_level(logging.WARNING):
            first = await window.take("k")
            assert isinstance(first, Taken) and not first.shared
            assert isinstance(await window.take("k"), float)
        assert any("not reachable" in r.getMessage() for r in caplog.records)
        # provisioned later: the next call after the retry interval counts in the bucket
        from hotro.shared.runtime.shared_window import provision_limits_bucket

        await provision_limits_bucket(js)

        async def shared_now() -> bool:
            taken = await window.take("other")
            return isinstance(taken, Taken) and taken.shared

        await eventually(shared_now, timeout=5, message="the bucket bound once provisioned")
    finally:
        await nc.close()


async def test_the_operator_lifts_a_limit_on_an_address_with_hotro_limits(
        provisioned: NatsServerProcess, replicas: list[Replica],
        capsys: pytest.CaptureFixture[str]) -> None:
    """Counts outlive a restart now: an office behind one NAT address is let back in by
    the operator's tool, not by restarting intake."""
    from hotro import cli

    window = replicas[0].window(1)
    assert isinstance(await window.take("203.0.113.50"), Taken)
    assert isinstance(await window.take("203.0.113.50"), float)
    base = ["--nats", provisioned.url, "--window", "address", "203.0.113.50"]
    assert await asyncio.to_thread(cli.main, ["limits", "show", *base]) == 0
    assert "1 counted" in capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, ["limits", "lift", *base]) == 0
    assert "lifted (1 counted" in capsys.readouterr().out
    assert isinstance(await replicas[1].window(1).take("203.0.113.50"), Taken)
    # a staff user id is counted without case, and found so
    failures = Window("failures", 3, WINDOW_S,
                      bucket=LimitsBucket("console", _constant(replicas[0].nc.jetstream())))
    await failures.count("nv.lan")
    assert await asyncio.to_thread(cli.main, ["limits", "lift", "--nats", provisioned.url,
                                              "--window", "failures", "NV.Lan"]) == 0
    assert "lifted (1 counted" in capsys.readouterr().out


async def test_the_operator_lifts_a_customers_contact_and_a_sender_by_their_address(
        provisioned: NatsServerProcess, replicas: list[Replica],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Contacts and senders are counted by keyed hashes: the tool hashes what the operator
    types (a phone number as the customer typed it, an address in any case) the way
    intake does, with intake's secret."""
    from hotro import cli
    from hotro.services.intake.api import CustomerIn
    from hotro.services.intake.application import IntakeApplication
    from hotro.shared.eventstore.persistence import persistence_env

    secret = "the-pii-hash-secret-of-this-system"
    monkeypatch.setenv("HOTRO_PII_HASH_SECRET", secret)
    intake = IntakeApplication(env=persistence_env("memory:", allow_memory=True),
                               hash_secret=secret.encode())
    typed = CustomerIn(name="Lê Thị Hoa", phone="0912 345 678", email="Hoa.Le@Example.VN")
    hashed = intake.contact_hashes(typed.model_dump())
    bucket = LimitsBucket("intake", _constant(replicas[0].nc.jetstream()))
    contacts = Window("contact", 1, WINDOW_S, bucket=bucket)
    senders = Window("sender", 1, WINDOW_S, bucket=bucket)
    await contacts.count(hashed["phone"])
    await contacts.count(hashed["email"])
    await senders.count(hashed["email"])
    assert await contacts.retry_after(hashed["phone"]) is not None

    async def hotro_limits(*args: str) -> str:
        assert await asyncio.to_thread(cli.main, ["limits", *args, "--nats",
                                                  provisioned.url]) == 0
        return capsys.readouterr().out

    assert "1 counted" in await hotro_limits("show", "--window", "contact", "+84 912 345 678")
    assert "lifted (1 counted" in await hotro_limits("lift", "--window", "contact",
                                                     "0912345678")
    assert await contacts.retry_after(hashed["phone"]) is None
    assert await contacts.retry_after(hashed["email"]) is not None  # only what was named
    assert "lifted (1 counted" in await hotro_limits("lift", "--window", "sender",
                                                     "hoa.le@example.vn")
    assert await senders.retry_after(hashed["email"]) is None
    # the budget every sender whose DMARC failed shares is lifted by its one key
    from hotro.services.intake.public_limits import SenderLimit

    shared = Window("unverified_all", 1, WINDOW_S, bucket=bucket)
    await shared.count(SenderLimit.ALL)  # as intake counts it
    assert "lifted (1 counted" in await hotro_limits("lift", "--window", "unverified_all",
                                                     "all")
    assert await shared.retry_after(SenderLimit.ALL) is None
    # what cannot be a contact is refused, not looked up
    assert await asyncio.to_thread(cli.main, ["limits", "show", "--window", "sender",
                                              "0912345678", "--nats", provisioned.url]) == 2
    assert "not an email address" in capsys.readouterr().err
