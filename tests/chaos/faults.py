"""The fault schedule: one fault every few seconds, kinds in shuffled rounds, each repaired
the way production repairs it (a supervisor restarts a killed process after a short
backoff; a stopped process is continued), and the time until every replica answers ready
again measured.

Kinds (bounded run): ``kill-replica`` (SIGKILL of a random service replica), ``kill-nats``
(SIGKILL of the single server, or of a random cluster node), ``stall-consumer`` (SIGSTOP of
a consuming replica past the ack wait and the lease TTL, then SIGCONT), ``cut-db`` (every
PostgreSQL connection of the run terminated), ``net-delay`` (the network between the
services and NATS or PostgreSQL slowed by a few hundred milliseconds each way, or stalled,
for some seconds: ``netproxy.DelayProxy``). Long run also: ``restart-postgres`` (the
server itself) and ``disk-full`` (the NATS store's small disk filled, then freed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.chaos.system import ACK_WAIT_S, LEASE_TTL_S, ChaosSystem, Replica, restart_postgres

log = logging.getLogger(__name__)

#: what a supervisor waits before restarting a process that died (hotro up: 0.5 s first)
RESTART_AFTER_S = 1.0
#: a SIGSTOPped consumer stays stopped past its in-flight message's ack wait and past its
#: leases' TTL, so the message is redelivered and the partition moves
STALL_S = ACK_WAIT_S + LEASE_TTL_S + 1.0
NATS_DOWN_S = 2.0
DISK_FULL_S = 6.0
#: net-delay: how long the link is slowed, the latency each way, how long it is stalled
NET_DELAY_S = 6.0
NET_LATENCY_S = (0.1, 0.5)
NET_STALL_S = 4.0
RECOVERY_TIMEOUT_S = 120.0


@dataclass
class Fault:
    kind: str
    target: str
    at: float
    #: seconds from the fault until every replica answered ready again (None: never)
    recovered_s: float | None = None
    detail: str = ""


class FaultSchedule:
    def __init__(self, system: ChaosSystem, rng: random.Random,
                 say: Callable[[str], None] = print) -> None:
        self.system = system
        self.rng = rng
        self.say = say
        self.faults: list[Fault] = []
        #: faults the harness failed to inject (e.g. no PostgreSQL slot left for its own
        #: connection): reported, not counted
        self.skipped: list[str] = []
        self.kinds = ["kill-replica", "kill-nats", "stall-consumer", "net-delay"]
        if system.config.store == "postgres":
            self.kinds.append("cut-db")
        if system.config.long:
            if system.config.store == "postgres":
                self.kinds.append("restart-postgres")
            if system.disk is not None:
                self.kinds.append("disk-full")
        only = os.environ.get("HOTRO_CHAOS_KINDS")  # a targeted run: "disk-full,kill-nats"
        if only:
            self.kinds = [k for k in self.kinds if k in only.split(",")]
        self._started = time.monotonic()

    def kinds_done(self) -> set[str]:
        return {f.kind for f in self.faults}

    async def run(self, until: Callable[[], bool]) -> None:
        """Faults every ``fault_every_s`` until ``until()`` holds and every kind has been
        injected at least once."""
        every = self.system.config.fault_every_s
        round_: list[str] = []
        async with httpx.AsyncClient(timeout=2) as client:
            await asyncio.sleep(every / 2)
            while not (until() and self.kinds_done() >= set(self.kinds)):
                if not round_:
                    round_ = self.rng.sample(self.kinds, len(self.kinds))
                kind = round_.pop()
                began = time.monotonic()
                try:
                    fault = await self.inject(kind)
                except Exception as exc:  # the harness's own trouble: say so, go on
                    self.say(f"  fault {kind} not injected: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:120]}")
                    self.skipped.append(f"{kind}: {type(exc).__name__}")
                    await asyncio.sleep(every)
                    continue
                self.faults.append(fault)
                fault.recovered_s = await self._recovered(client, fault)
                self.say(f"  fault {len(self.faults):>3} {fault.kind:<16} {fault.target:<14} "
                         f"recovered in {_secs(fault.recovered_s)} {fault.detail}")
                await asyncio.sleep(max(0.0, every - (time.monotonic() - began)))

    async def _recovered(self, client: httpx.AsyncClient, fault: Fault) -> float | None:
        deadline = fault.at + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._restart_exited(fault)
            if await self.system.all_ready(client) and self._nats_up():
                return time.monotonic() - fault.at
            await asyncio.sleep(0.1)
        return None

    def _restart_exited(self, fault: Fault) -> None:
        """As a supervisor would: a replica that exited by itself (e.g. its start timed
        out while NATS had no leader) is started again, and the fault says so."""
        for r in self.system.replicas:
            if r.process.proc is not None and not r.alive() and not r.stopped:
                r.process.start()
                fault.detail += f" ({r.name} exited by itself: restarted)"

    def _nats_up(self) -> bool:
        return all(n.running() for n in self.system.nats_nodes())

    # -- the faults ----------------------------------------------------------------------

    async def inject(self, kind: str) -> Fault:
        return await {"kill-replica": self.kill_replica, "kill-nats": self.kill_nats,
                      "stall-consumer": self.stall_consumer, "cut-db": self.cut_db,
                      "restart-postgres": self.restart_postgres,
                      "disk-full": self.disk_full, "net-delay": self.net_delay}[kind]()

    async def kill_replica(self) -> Fault:
        victim: Replica = self.rng.choice([r for r in self.system.replicas if r.alive()])
        fault = Fault("kill-replica", victim.name, time.monotonic())
        victim.process.kill9()
        await asyncio.sleep(RESTART_AFTER_S)
        victim.process.start()
        return fault

    async def kill_nats(self) -> Fault:
        nodes = self.system.nats_nodes()
        node = self.rng.choice(nodes)
        name = node.server_name or "nats-server"
        fault = Fault("kill-nats", name, time.monotonic())
        node.kill9()
        await asyncio.sleep(NATS_DOWN_S if len(nodes) == 1 else NATS_DOWN_S * 2)
        for _ in range(20):  # the same port and store; it may take a moment to free
            try:
                await asyncio.to_thread(node.start)
                break
            except Exception as exc:
                fault.detail = f"(restart retried: {str(exc).splitlines()[0][:60]})"
                await asyncio.sleep(0.5)
        return fault

    async def stall_consumer(self) -> Fault:
        consumers = [r for r in self.system.replicas
                     if r.service in ("routing", "sla", "notify") and r.alive()]
        victim = self.rng.choice(consumers)
        fault = Fault("stall-consumer", victim.name, time.monotonic(),
                      detail=f"(stopped {STALL_S:.0f}s)")
        assert victim.process.proc is not None
        pid = victim.process.proc.pid
        victim.stopped = True
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(STALL_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            victim.stopped = False
        return fault

    async def cut_db(self) -> Fault:
        assert self.system.db is not None
        fault = Fault("cut-db", self.system.db.name[-10:], time.monotonic())
        cut = await asyncio.to_thread(self.system.db.cut_connections)
        fault.detail = f"({cut} connections)"
        return fault

    async def restart_postgres(self) -> Fault:
        fault = Fault("restart-postgres", "postgresql", time.monotonic())
        away = await asyncio.to_thread(restart_postgres)
        fault.detail = f"(server back after {away:.1f}s)"
        return fault

    async def net_delay(self) -> Fault:
        """Latency on every connection to NATS (each node) or PostgreSQL, or a stall."""
        target = self.rng.choice(sorted(self.system.proxies))
        proxies = self.system.proxies[target]
        fault = Fault("net-delay", target, time.monotonic())
        try:
            if self.rng.random() < 0.5:
                latency = self.rng.uniform(*NET_LATENCY_S)
                for p in proxies:
                    p.delay_s = latency
                fault.detail = f"({latency * 1000:.0f} ms each way for {NET_DELAY_S:.0f}s)"
                await asyncio.sleep(NET_DELAY_S)
            else:
                for p in proxies:
                    await asyncio.to_thread(p.stall)
                fault.detail = f"(stalled {NET_STALL_S:.0f}s)"
                await asyncio.sleep(NET_STALL_S)
        finally:
            for p in proxies:
                await asyncio.to_thread(p.clear)
        return fault

    async def disk_full(self) -> Fault:
        disk = self.system.disk
        assert disk is not None
        fault = Fault("disk-full", "nats store", time.monotonic())
        written = await asyncio.to_thread(disk.fill)
        fault.detail = f"({written >> 20} MiB filler, held {DISK_FULL_S:.0f}s, then freed and "
        await asyncio.sleep(DISK_FULL_S)
        disk.free()
        # The runbook's step (docs/operations.md, "Disk full"): nats-server 2.15 keeps a
        # stream that hit a write error failed — publishes time out — after space is
        # freed, until the server restarts. A rolling restart, node by node.
        for node in self.system.nats_nodes():
            await asyncio.to_thread(node.stop)
            await asyncio.to_thread(node.start)
        fault.detail += "nats-server restarted)"
        return fault


def _secs(value: float | None) -> str:
    return "never" if value is None else f"{value:5.1f}s"
