"""No two replicas act on one partition at the same instant (issue 16: during NATS
restarts two notify replicas both held a partition for about 2.2 s and sent the same
emails). Holder A's connection to a real nats-server is cut while its lease is held, so
its renewals hang; B takes the partition once the bucket has expired the key. A must stop
acting — its queries and its ``on_partition_lost`` — before B starts, at every instant."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client

from hotro.natsbin import NatsServerProcess
from hotro.shared.contracts.subjects import LEASES_BUCKET
from hotro.shared.messaging.leases import VALID_FOR, LeaseKeeper
from tests.conftest import TEST_LEASE_TTL_S
from tests.support.waiting import eventually


class CuttableLink:
    """A TCP relay to the nats-server whose traffic can be held back (a network cut: the
    client's requests wait for their timeout, the connection stays open)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.open = asyncio.Event()
        self.open.set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"nats://127.0.0.1:{port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                await self.open.wait()
                sink.write(data)
                await sink.drain()
        sink.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)


@dataclass
class Replica:
    name: str
    keeper: LeaseKeeper
    #: (monotonic time, acquired?) for each on_partition_acquired / on_partition_lost
    changes: list[tuple[float, bool]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


async def _replica(nc: Client, name: str) -> Replica:
    js = nc.jetstream(timeout=5)  # what a service uses: a cut renewal hangs for 5 s
    kv = await js.key_value(LEASES_BUCKET)
    changes: list[tuple[float, bool]] = []

    async def acquired(_: int) -> None:
        changes.append((time.monotonic(), True))

    async def lost(_: int) -> None:
        changes.append((time.monotonic(), False))

    keeper = LeaseKeeper(js, kv, "notify", name, 1, TEST_LEASE_TTL_S, want_relay=False,
                         on_partition_acquired=acquired, on_partition_lost=lost)
    replica = Replica(name, keeper, changes)
    replica.task = asyncio.ensure_future(keeper.run(replica.stop))
    return replica


@pytest.fixture
async def link(provisioned: NatsServerProcess) -> AsyncIterator[CuttableLink]:
    relay = CuttableLink(provisioned.port)
    yield relay
    relay.open.set()
    await relay.close()


async def test_the_old_holder_stops_before_the_new_one_starts(
        provisioned: NatsServerProcess, link: CuttableLink) -> None:
    nc_a = await nats.connect(await link.start(), max_reconnect_attempts=-1)
    nc_b = await nats.connect(provisioned.url)
    replicas: list[Replica] = []
    overlaps: list[float] = []
    samples = 0
    sampling = asyncio.Event()

    async def sample() -> None:  # both replicas' view, every couple of milliseconds
        nonlocal samples
        while not sampling.is_set():
            if a.keeper.holds_partition(0) and b.keeper.holds_partition(0):
                overlaps.append(time.monotonic())
            samples += 1
            await asyncio.sleep(0.002)

    try:
        a = await _replica(nc_a, "replica-a")  # sorted first: its fair share is the one
        replicas.append(a)
        await eventually(lambda: a.keeper.holds_partition(0), timeout=20,
                         message="A holding the partition")
        b = await _replica(nc_b, "replica-b")
        replicas.append(b)
        sampler = asyncio.ensure_future(sample())
        await eventually(lambda: b.keeper.held is not None and samples > 50, timeout=10,
                         message="sampling under way")
        assert not b.keeper.holds_partition(0), "B must not take a live holder's partition"

        link.open.clear()  # A's renewals now hang
        cut = time.monotonic()
        await eventually(lambda: b.keeper.holds_partition(0), timeout=30,
                         message="B taking the partition over")
        sampling.set()
        await sampler

        assert overlaps == [], f"both held the partition for {len(overlaps)} samples"
        assert not a.keeper.holds_partition(0)
        a_lost = [t for t, acquired in a.changes if not acquired]
        b_acquired = [t for t, acquired in b.changes if acquired]
        assert a.changes[0][1] and a_lost, a.changes
        assert b_acquired and a_lost[0] < b_acquired[0], (a.changes, b.changes)
        # A was told at its deadline, not when its hanging renewal gave up (5 s)
        assert a_lost[0] - cut < TEST_LEASE_TTL_S * VALID_FOR + 0.5
        assert b_acquired[0] - a_lost[0] > 0.1  # the safety margin is real time
    finally:
        link.open.set()
        for replica in replicas:
            replica.stop.set()
        for replica in replicas:
            if replica.task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(replica.task, timeout=15)
        await nc_a.close()
        await nc_b.close()
