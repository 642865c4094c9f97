"""Soak: the whole system for N minutes at a set rate; per minute, per service process,
the resident memory and open file descriptors, the consumer and relay lag, and the
complaints' p50/p99 latency — then whether memory and descriptors stayed flat.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 2] [--store sqlite|postgres]
        [--nats single|cluster] [--warmup 2]

The system is the chaos suite's (tests/chaos/system.py) without faults: nats-server (or a
three-node cluster), the four services as ``hotro serve`` processes (two replicas each on
PostgreSQL, one on SQLite), notify sending through SMTP to an in-process sink. Customers
submit on the public web form on a fixed schedule (open loop: a slow system cannot hide
its queue); a complaint's latency runs from its scheduled time to its acknowledgement
arriving at the SMTP sink (intake → routing/sla → notify → mail). The verdict (exit 1 if
it fails): RSS growth after the warm-up minutes at most 5% per service process, open
descriptors not growing (at most 5 more than after the warm-up), p99 of the last minute
within 2x the median minute's p99 (nats-server's figures are shown, not judged: its
memory follows the stream, which keeps everything by design). Pick the rate well below
the capacity ``bench/e2e_bench.py`` measures (the issue asks for half of it); the machine
should be otherwise idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.chaos.system import SERVICES, ChaosConfig, ChaosSystem, Replica  # noqa: E402

REFERENCE = re.compile(r"\[((?:KN|TV)-\d{4}-\d{6})\]")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Minute:
    n: int
    submitted: int = 0
    acknowledged: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    rss: dict[str, float] = field(default_factory=dict)
    fds: dict[str, int] = field(default_factory=dict)
    consumer_lag: dict[str, int] = field(default_factory=dict)
    relay_lag: dict[str, int] = field(default_factory=dict)


class Soak:
    def __init__(self, system: ChaosSystem, rate: float, minutes: int) -> None:
        self.system = system
        self.rate = rate
        self.minutes = minutes
        self.scheduled: dict[str, float] = {}   # reference -> scheduled submit time
        self.done: set[str] = set()
        self.seen = 0
        self.minute = Minute(1)
        self.history: list[Minute] = []
        self.inflight: set[asyncio.Task[None]] = set()

    async def submit(self, client: httpx.AsyncClient, n: int, at: float) -> None:
        body = {"kind": "complaint", "channel": "web",
                "customer": {"name": f"Khách hàng {n}", "phone": f"0912{n % 1_000_000:06d}",
                             "email": f"soak.{n}@example.com"},
                "product": "dien-lanh", "category": "chat-luong-san-pham",
                "description": f"Yêu cầu số {n}: máy lạnh không lạnh"}
        urls = self.system.urls("intake")
        for attempt in range(20):
            try:
                r = await client.post(f"{urls[(n + attempt) % len(urls)]}/api/complaints",
                                      json=body, headers={"Idempotency-Key": f"soak-{n}"})
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if r.status_code in (200, 201):
                self.scheduled[r.json()["reference"]] = at
                self.minute.submitted += 1
                return
            await asyncio.sleep(0.5)
        self.minute.errors += 1

    def collect_acks(self) -> None:
        sent = self.system.sink.snapshot()
        for message in sent[self.seen:]:
            found = REFERENCE.search(message.subject)
            if found and found.group(1) in self.scheduled and found.group(1) not in self.done:
                self.done.add(found.group(1))
                self.minute.acknowledged += 1
                self.minute.latencies.append(message.at - self.scheduled[found.group(1)])
        self.seen = len(sent)

    async def sample(self, client: httpx.AsyncClient) -> None:
        m = self.minute
        for r in self.system.replicas:
            if r.process.proc is None:
                continue
            pid = r.process.proc.pid
            m.rss[r.name] = rss_mb(pid)
            m.fds[r.name] = open_fds(pid)
            body = await _readyz(client, r)
            lag = body.get("consumer_lag") or {}
            m.consumer_lag[r.service] = m.consumer_lag.get(r.service, 0) + sum(lag.values())
            if body.get("relay_lag") is not None:
                m.relay_lag[r.service] = int(body["relay_lag"])
        for node in self.system.nats_nodes():
            if node.pid is not None:
                name = node.server_name or "nats"
                m.rss[name] = rss_mb(node.pid)
                m.fds[name] = open_fds(node.pid)

    def report(self, m: Minute) -> str:
        procs = sorted(m.rss)
        mem = " ".join(f"{p}={m.rss[p]:.0f}MB/{m.fds[p]}fd" for p in procs)
        lag = " ".join(f"{s}={n}" for s, n in sorted(m.consumer_lag.items()))
        relay = " ".join(f"{s}={n}" for s, n in sorted(m.relay_lag.items()))
        return (f"min {m.n:>3}: submitted {m.submitted:>4} acked {m.acknowledged:>4} "
                f"errors {m.errors}  p50 {percentile(m.latencies, 0.5):6.2f}s "
                f"p99 {percentile(m.latencies, 0.99):6.2f}s  consumer lag [{lag}] "
                f"relay lag [{relay}]\n         {mem}")

    async def run(self) -> list[Minute]:
        async with httpx.AsyncClient(timeout=30) as client:
            start = time.monotonic()
            end = start + self.minutes * 60
            n = 0
            next_minute = start + 60
            while True:
                now = time.monotonic()
                if now >= next_minute:
                    self.collect_acks()
                    await self.sample(client)
                    print(self.report(self.minute), flush=True)
                    self.history.append(self.minute)
                    if now >= end:
                        break
                    self.minute = Minute(self.minute.n + 1)
                    next_minute += 60
                at = start + n / self.rate
                if at < end and at <= now:
                    task = asyncio.create_task(self.submit(client, n, at))
                    self.inflight.add(task)
                    task.add_done_callback(self.inflight.discard)
                    n += 1
                    continue
                self.collect_acks()
                await asyncio.sleep(min(0.05, max(0.0, at - now)) if at < end else 0.2)
            await asyncio.gather(*self.inflight, return_exceptions=True)
        return self.history


async def _readyz(client: httpx.AsyncClient, replica: Replica) -> dict[str, Any]:
    try:
        body: dict[str, Any] = (await client.get(f"{replica.process.url}/readyz")).json()
        return body
    except (httpx.HTTPError, ValueError):
        return {}


def verdict(history: list[Minute], warmup: int) -> tuple[bool, list[str]]:
    lines: list[str] = []
    ok = True
    if len(history) <= warmup:
        return False, [f"too short: {len(history)} minute(s), warm-up {warmup}"]
    base, last = history[warmup - 1] if warmup else history[0], history[-1]
    for proc in sorted(base.rss):
        if proc not in last.rss:
            continue
        growth = (last.rss[proc] - base.rss[proc]) / base.rss[proc] * 100
        fds = last.fds[proc] - base.fds[proc]
        # nats-server's memory follows the stream it caches (no age limit, by design):
        # shown, not judged
        judged = proc.rsplit("-", 1)[0] in SERVICES
        good = (growth <= 5.0 and fds <= 5) or not judged
        ok = ok and good
        lines.append(f"  {proc:<10} RSS {base.rss[proc]:6.0f} → {last.rss[proc]:6.0f} MB "
                     f"({growth:+5.1f}%), fds {base.fds[proc]:>3} → {last.fds[proc]:>3} "
                     f"{('ok' if good else 'GROWING') if judged else '(not judged)'}")
    p99s = [percentile(m.latencies, 0.99) for m in history[warmup:] if m.latencies]
    if p99s:
        typical = statistics.median(p99s)
        stable = p99s[-1] <= 2 * typical
        ok = ok and stable
        lines.append(f"  p99 per minute after warm-up: median {typical:.2f}s, last "
                     f"{p99s[-1]:.2f}s {'ok' if stable else 'UNSTABLE'}")
    unacked = sum(m.submitted for m in history) - sum(m.acknowledged for m in history)
    lines.append(f"  submitted {sum(m.submitted for m in history)}, acknowledged "
                 f"{sum(m.acknowledged for m in history)} (in flight at the end: {unacked}), "
                 f"errors {sum(m.errors for m in history)}")
    return ok, lines


async def main_async(args: argparse.Namespace) -> int:
    config = ChaosConfig(store=args.store, nats=args.nats, complaints=0, rate=args.rate)
    root = Path(tempfile.mkdtemp(prefix="hotro-soak-"))
    system = ChaosSystem(config, root)
    print(f"soak: {args.minutes} min at {args.rate}/s, {args.store}, {args.nats} NATS, "
          f"{config.replicas} replica(s) per service; logs in {root}", flush=True)
    try:
        await system.start()
        history = await Soak(system, args.rate, args.minutes).run()
    finally:
        system.stop()
    ok, lines = verdict(history, args.warmup)
    print("\nverdict (after the warm-up):")
    print("\n".join(lines))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="complaints per second")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--nats", choices=("single", "cluster"), default="single")
    parser.add_argument("--warmup", type=int, default=2, help="minutes not judged")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
