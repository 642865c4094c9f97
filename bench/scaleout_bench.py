"""Scale-out of one consuming service: one replica against two, on the same backlog.

    .venv/bin/python bench/scaleout_bench.py [--service sla] [--store postgres]
        [--complaints 3000] [--pairs 2] [--warmup 1] [--partitions 8]

The end-to-end bench runs all four services at once on this machine's two cores, so a
second replica there only competes with the rest for CPU. Here one service runs alone,
as its replicas would on a machine with cores to spare:

1. **Backlog**, once: intake alone takes ``--complaints`` complaints on its public form
   (SQLite store) and relays them; its ComplaintReceived events wait in every consuming
   service's durable consumers. Then intake and the nats-server stop.
2. **Trials**, one replica and two in turn (1 2 2 1 …, ``--pairs`` of each, after
   ``--warmup`` trials not counted): a copy of that
   nats-server store on a fresh nats-server, a fresh store for the service, its replicas
   started together (``hotro serve``, leases sharing the partitions). The rate is
   measured over the middle of the drain (from ``--from`` to ``--to`` of the backlog
   handled; the start-up and the partitions' hand-over to the second replica fall
   before), CPU per message over the same window from ``/proc`` (each replica, the
   nats-server and, on PostgreSQL, the service's backends).

Prints each trial and the ratio of the medians (two replicas / one).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import nats
from e2e_bench import (
    PG_DEFAULT,
    BenchFailure,
    PgBackends,
    Schemas,
    Service,
    complaint_body,
    listen_socket,
    load_average,
    proc_cpu_s,
    say,
    service_env,
    shared_files,
    store_url,
    wait_ready,
)

from hotro.natsbin import NatsServerProcess, terminate
from hotro.shared.contracts.subjects import EVENTS_STREAM, durable_name
from hotro.shared.eventstore.schema import ensure_store

CONSUMERS = ("routing", "sla", "notify")


@dataclass
class Trial:
    replicas: int
    rate: float = 0.0
    window_s: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per message, by label
    drained_s: float = 0.0


async def remaining(js: Any, service: str, partitions: int) -> int:
    """Messages of the service's consumers not yet acknowledged."""
    total = 0
    for p in range(partitions):
        info = await js.consumer_info(EVENTS_STREAM, durable_name(service, p))
        total += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    return total


async def fill(a: argparse.Namespace, work: Path, files: dict[str, str]) -> Path:
    """The backlog: intake alone, ``a.complaints`` complaints. Returns the store dir."""
    from hotro.provisioning import provision_all

    store_dir = work / "nats-backlog"
    server = NatsServerProcess(store_dir=store_dir, log_file=work / "nats-backlog.log",
                               supervised=True)
    intake: Service | None = None
    try:
        server.start()
        await provision_all(server.url, partitions=a.partitions)
        url = f"sqlite:///{(work / 'intake.sqlite').resolve()}"
        ensure_store(url)
        sock = listen_socket()
        intake = Service("intake", service_env(
            "intake", nats_url=server.url, store_url=url, data_dir=work / "data",
            partitions=a.partitions, port=int(sock.getsockname()[1]), prefix="scaleout",
            files=files), work / "intake.log", sock)
        intake.start()
        await wait_ready(intake)
        run = uuid.uuid4().hex[:8]
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(a.complaints):
            queue.put_nowait(i)
        failures: list[str] = []
        started = time.monotonic()

        async def customer(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                r = await client.post("/api/complaints", json=complaint_body(run, i),
                                      headers={"Idempotency-Key": f"scaleout-{run}-{i}"})
                if r.status_code != 201:
                    failures.append(f"#{i}: HTTP {r.status_code} {r.text[:200]}")

        async with httpx.AsyncClient(base_url=intake.url, timeout=120) as client:
            await asyncio.gather(*(customer(client) for _ in range(32)))
        if failures:
            raise BenchFailure(f"{len(failures)} submissions failed: {failures[:3]}")
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            deadline = time.monotonic() + 300
            while (left := await remaining(js, a.service, a.partitions)) < a.complaints:
                if time.monotonic() > deadline:
                    raise BenchFailure(f"intake relayed {left} of {a.complaints}")
                await asyncio.sleep(0.2)
        finally:
            await nc.close()
        say(f"backlog: {a.complaints} complaints taken and relayed in "
            f"{time.monotonic() - started:.1f}s")
        return store_dir
    finally:
        if intake is not None:
            terminate(intake.proc)
        server.stop()


async def trial(a: argparse.Namespace, work: Path, files: dict[str, str], backlog: Path,
                n: int, replicas: int, schemas: Schemas | None) -> Trial:
    store_dir = work / f"nats-{n}"
    shutil.copytree(backlog, store_dir)
    server = NatsServerProcess(store_dir=store_dir, log_file=work / f"nats-{n}.log",
                               supervised=True)
    prefix = f"so{uuid.uuid4().hex[:8]}"
    procs: list[Service] = []
    pg: PgBackends | None = None
    result = Trial(replicas)
    try:
        server.start()
        url = store_url(a.store, f"{prefix}_{a.service}", work, schemas)
        ensure_store(url)
        if a.store == "postgres":
            pg = PgBackends(a.pg, prefix)
            pg.start()
        for r in range(replicas):
            sock = listen_socket()
            env = service_env(a.service, nats_url=server.url, store_url=url,
                              data_dir=work / "data", partitions=a.partitions,
                              port=int(sock.getsockname()[1]), prefix=prefix, files=files)
            env["HOTRO_REPLICA_ID"] = f"{a.service}-scaleout-{r}"
            procs.append(Service(a.service, env, work / f"{a.service}-{n}-{r}.log", sock))
        for svc in procs:
            svc.start()
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            total = a.complaints
            # (look, instant, CPU) when the window opens and when it closes
            marks: list[tuple[int, float, dict[str, float]]] = []
            thresholds = [a.from_ * total, a.to * total]
            started = time.monotonic()
            for look in itertools.count():
                left = await remaining(js, a.service, a.partitions)
                done = total - left
                while thresholds and done >= thresholds[0]:
                    thresholds.pop(0)
                    marks.append((look, time.monotonic(), cpu_now(procs, server, pg)))
                if left == 0:
                    break
                for svc in procs:
                    if svc.proc is not None and svc.proc.poll() is not None:
                        raise BenchFailure(f"{svc.name} exited; log:\n{svc.log_tail()}")
                if time.monotonic() - started > a.timeout:
                    raise BenchFailure(f"{left} of {total} still unhandled after "
                                       f"{a.timeout:.0f}s")
                # each look is a request per partition to the server: not too often
                await asyncio.sleep(0.2)
            result.drained_s = time.monotonic() - started
        finally:
            await nc.close()
        (look0, t0, cpu0), (look1, t1, cpu1) = marks
        if look1 == look0:
            raise BenchFailure("the window opened and closed between two looks: a larger "
                               "--complaints, or a wider --from/--to")
        handled = (a.to - a.from_) * total
        result.window_s = t1 - t0
        result.rate = handled / result.window_s
        result.cpu_ms = {k: (cpu1[k] - cpu0.get(k, 0.0)) * 1000 / handled for k in cpu1}
        return result
    finally:
        for svc in procs:
            terminate(svc.proc)
        if pg is not None:
            await pg.close()
        server.stop()
        shutil.rmtree(store_dir, ignore_errors=True)
        if schemas is not None:
            schemas.drop_all()


def cpu_now(procs: list[Service], server: NatsServerProcess,
            pg: PgBackends | None) -> dict[str, float]:
    out = {f"replica {i + 1}": proc_cpu_s(svc.pid) or 0.0 for i, svc in enumerate(procs)}
    out["nats"] = proc_cpu_s(server.pid) or 0.0
    if pg is not None:
        out["pg"] = sum(pg.totals().values())
    return out


def order(pairs: int) -> list[int]:
    """Replicas per trial, 1 2 2 1 1 2 …: a drift of the machine over the run (seen: each
    trial a little faster than the one before) falls on both sides alike."""
    return [r for i in range(pairs) for r in ((1, 2) if i % 2 == 0 else (2, 1))]


def describe(t: Trial) -> str:
    replicas = " + ".join(f"{v:.2f}" for k, v in sorted(t.cpu_ms.items())
                          if k.startswith("replica"))
    rest = ", ".join(f"{k} {v:.2f}" for k, v in sorted(t.cpu_ms.items())
                     if not k.startswith("replica"))
    cores = t.rate * sum(t.cpu_ms.values()) / 1000
    return (f"{t.replicas} replica(s): {t.rate:7.1f} messages/s over {t.window_s:.1f}s "
            f"(drained in {t.drained_s:.1f}s); CPU ms/message: service {replicas}; {rest}; "
            f"{cores:.2f} cores busy")


async def main(a: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="hotro-scaleout-"))
    schemas = Schemas(a.pg) if a.store == "postgres" else None
    say(f"scale-out bench: {a.service} on {a.store}, backlog {a.complaints} complaints, "
        f"{a.partitions} partitions, {a.pairs} pair(s) of trials; load average "
        f"{load_average()}")
    ok = False
    try:
        files = shared_files(work / "data")
        backlog = await fill(a, work, files)
        for n in range(a.warmup):
            t = await trial(a, work, files, backlog, -1 - n, 1, schemas)
            say(f"  warm-up (not counted): {describe(t)}")
        trials: list[Trial] = []
        for n, replicas in enumerate(order(a.pairs)):
            t = await trial(a, work, files, backlog, n, replicas, schemas)
            trials.append(t)
            say(f"  trial {n + 1}: {describe(t)}")
        one = statistics.median(t.rate for t in trials if t.replicas == 1)
        two = statistics.median(t.rate for t in trials if t.replicas == 2)
        say(f"median: one replica {one:.1f}/s, two replicas {two:.1f}/s: **{two / one:.2f}×** "
            f"(load average after {load_average()})")
        ok = True
    except BenchFailure as exc:
        say(f"FAILED: {exc}")
    finally:
        if schemas is not None:
            schemas.drop_all()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"work directory kept: {work}")
    return 0 if ok else 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--service", choices=CONSUMERS, default="sla")
    p.add_argument("--store", choices=("sqlite", "postgres"), default="postgres")
    p.add_argument("--complaints", type=int, default=3000)
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1, help="trials of one replica, not counted")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--from", dest="from_", type=float, default=0.3,
                   help="share of the backlog handled when the window opens")
    p.add_argument("--to", type=float, default=0.9)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--pg", default=PG_DEFAULT)
    a = p.parse_args(argv)
    if not 0 <= a.from_ < a.to <= 1:
        p.error("need 0 <= --from < --to <= 1")
    return a


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
