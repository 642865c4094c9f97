"""End-to-end throughput and latency: HTTP submit at intake → notify has recorded its
reaction (the customer's contact and the acknowledgement intent), with the four services
as separate processes, on SQLite and on PostgreSQL; and, in the same run, the raw ceiling
of this machine: a one-hop store → JetStream → store pipeline. Prints figures.

    .venv/bin/python bench/e2e_bench.py [--complaints 300] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import nats  # noqa: E402
from eventsourcing.application import ProcessingEvent  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402
from eventsourcing.persistence import Tracking  # noqa: E402

from hotro.natsbin import NatsServerProcess  # noqa: E402
from hotro.provisioning import provision_all  # noqa: E402
from hotro.services.notify.application import NotifyApplication  # noqa: E402
from hotro.shared.eventstore.application import ServiceApplication  # noqa: E402
from hotro.shared.eventstore.persistence import persistence_env  # noqa: E402
from hotro.shared.eventstore.schema import ensure_store  # noqa: E402
from tests.support.processes import ServiceProcess  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"
PARTITIONS = 8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def complaint(i: int) -> dict[str, Any]:
    return {"kind": "complaint", "channel": "web",
            "customer": {"name": f"Khách {i}", "email": f"k{i}@example.com",
                         "phone": f"0912{i % 1_000_000:06d}"},
            "product": "dien-lanh", "description": f"Yêu cầu {i}"}


async def end_to_end(store: str, tmp: Path, nats_url: str, count: int,
                     concurrency: int) -> dict[str, float]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    urls = {s: (f"sqlite:///{tmp}/{prefix}-{s}.sqlite" if store == "sqlite"
                else f"{PG}?schema={prefix}_{s}") for s in ("intake", "routing", "sla", "notify")}
    procs = []
    for service, url in urls.items():
        env = {"HOTRO_NATS_URL": nats_url, "HOTRO_STORE_URL": url,
               "HOTRO_PARTITIONS": str(PARTITIONS), "HOTRO_DATA_DIR": str(tmp / prefix),
               "HOTRO_LOG_LEVEL": "WARNING", "HOTRO_REPLICA_ID": f"{service}-bench",
               "HOTRO_PII_HASH_SECRET": "bench-only-secret"}
        procs.append(ServiceProcess(service, env, tmp / f"{prefix}-{service}.log").start())
    try:
        for p in procs:
            p.wait_ready()
        ensure_store(urls["notify"])
        notify = NotifyApplication(env=persistence_env(urls["notify"]))
        submitted: dict[uuid.UUID, float] = {}
        seen: dict[uuid.UUID, float] = {}
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t = time.perf_counter()
                r = await client.post("/api/complaints", json=complaint(i))
                r.raise_for_status()
                submitted[uuid.UUID(r.json()["id"])] = t

        async def watch() -> None:
            position = 0
            while len(seen) < count:
                notes = await asyncio.to_thread(notify.recorder.select_notifications,
                                                start=position, limit=1000,
                                                inclusive_of_start=False)
                now = time.perf_counter()
                for n in notes:
                    position = n.id
                    e = notify.mapper.to_domain_event(n)
                    if type(e).__qualname__ == "Contact.Recorded":
                        seen.setdefault(getattr(e, "complaint_id"), now)  # noqa: B009
                if not notes:
                    await asyncio.sleep(0.005)

        start = time.perf_counter()
        watcher = asyncio.create_task(watch())
        async with httpx.AsyncClient(base_url=procs[0].url, timeout=60) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        await asyncio.wait_for(watcher, timeout=600)
        end = max(seen.values())
        latencies = [(seen[c] - t) * 1000 for c, t in submitted.items()]
        return {"rate": count / (end - start), "p50": pct(latencies, 0.5),
                "p99": pct(latencies, 0.99)}
    finally:
        for p in procs:
            p.stop()


# ---- the raw ceiling: one hop, store → JetStream → store ------------------------------

class Item(Aggregate):
    @event("Made", topic="bench:Item.Made")
    def __init__(self, *, n: int) -> None:
        self.n = n


class Sink(ServiceApplication):
    name = "sink"

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]) -> None:
        processing_event.collect_events(Item(n=domain_event))


class Source(ServiceApplication):
    name = "source"


async def raw_hop(store: str, tmp: Path, nats_url: str, count: int) -> dict[str, float]:
    prefix = f"hop{uuid.uuid4().hex[:8]}"
    url = {n: (f"sqlite:///{tmp}/{prefix}-{n}.sqlite" if store == "sqlite"
               else f"{PG}?schema={prefix}_{n}") for n in ("source", "sink")}
    for u in url.values():
        ensure_store(u)
    source = Source(env=persistence_env(url["source"]))
    sink = Sink(env=persistence_env(url["sink"]))
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    subject = f"bench.{prefix}"
    await js.add_stream(name=prefix.upper(), subjects=[subject])
    sub = await js.pull_subscribe(subject, durable="c", stream=prefix.upper())
    made: dict[int, float] = {}
    done: dict[int, float] = {}

    async def produce() -> None:
        for i in range(count):
            made[i] = time.perf_counter()
            item = Item(n=i)
            recordings = await asyncio.to_thread(source.save, item)
            await js.publish(subject, str(i).encode(),
                             headers={"Nats-Msg-Id": str(recordings[-1].notification.id)})

    async def consume() -> None:
        while len(done) < count:
            try:
                msgs = await sub.fetch(100, timeout=1)
            except TimeoutError:
                continue
            for m in msgs:
                i = int(m.data)
                # the policy takes the bare item number as its "event"
                await asyncio.to_thread(sink.process_event, i,  # type: ignore[arg-type]
                                        Tracking("source", i + 1))
                done[i] = time.perf_counter()
                await m.ack()

    start = time.perf_counter()
    await asyncio.gather(produce(), consume())
    elapsed = max(done.values()) - start
    await nc.close()
    latencies = [(done[i] - made[i]) * 1000 for i in range(count)]
    return {"rate": count / elapsed, "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--complaints", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hotro-bench-"))
    print(f"complaints={args.complaints} concurrency={args.concurrency} "
          f"partitions={PARTITIONS} (one replica per service)")
    for store in args.stores.split(","):
        # A fresh broker per store: the stream belongs to one set of stores.
        server = NatsServerProcess(store_dir=tmp / f"nats-{store}")
        server.start()
        try:
            await provision_all(server.url, partitions=PARTITIONS)
            e2e = await end_to_end(store, tmp, server.url, args.complaints, args.concurrency)
            hop = await raw_hop(store, tmp, server.url, args.complaints)
            print(f"[{store}] end to end (HTTP → intake → JetStream → notify recorded): "
                  f"{e2e['rate']:.1f} complaints/s, p50 {e2e['p50']:.0f} ms, "
                  f"p99 {e2e['p99']:.0f} ms")
            print(f"[{store}] raw one-hop ceiling (store → JetStream → store): "
                  f"{hop['rate']:.1f} items/s, p50 {hop['p50']:.1f} ms, p99 {hop['p99']:.1f} ms")
            print(f"[{store}] ratio end-to-end / ceiling: {e2e['rate'] / hop['rate']:.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
