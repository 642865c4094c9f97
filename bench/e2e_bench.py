"""The whole lifecycle of a complaint, measured against this machine's ceiling.

    .venv/bin/python bench/e2e_bench.py [--complaints 300] [--stores sqlite,postgres]
        [--modes saturating,open] [--concurrency 32] [--rate R] [--idle 60]
        [--ceiling-items 1000] [--ceiling-tx item|batch] [--profile] [--no-docs]

For each store kind (SQLite files; PostgreSQL, one schema per service, dropped at the end):

1. **Ceiling** (before the services start, on a fresh nats-server): two processes, a
   *source* that saves items in its own eventsourcing store (one transaction per item) and
   relays its notification log to JetStream (woken on commit, publishes pipelined with a
   bounded window, in log order, ``Nats-Msg-Id`` per notification), and a *sink* that
   fetches batches from a durable pull consumer and saves each item with its tracking row
   (``--ceiling-tx item``: one transaction per item, what the services do; ``batch``: one
   per fetched batch). Run saturating (as fast as the source can save), then open loop at
   half the capacity it just measured. One-hop latency: the item's scheduled time at the
   source → the sink's commit.
2. **Lifecycle**: the four services as separate ``hotro serve`` processes (the environment
   ``hotro up`` gives them; a bare nats-server without authentication), a few warm-up
   complaints, then each mode: *saturating* (closed loop: ``--concurrency`` customers,
   each submits on the public web form and waits for its acknowledgement before the next)
   and *open* (submissions at a fixed rate, by default half of the saturating throughput
   of the same invocation; latency counted from the scheduled time, so a slow system
   cannot hide its queue). A complaint's lifecycle ends when its acknowledgement is in the
   Maildir (the file's modification time; matched by Message-ID with notify's published
   ``AcknowledgementSent``). Every acknowledgement must be there; any failed delivery
   attempt in notify's store, ``NotificationFailed``, dead letter or HTTP error fails the
   run (exit 1).
3. **CPU**: ``/proc/<pid>/stat`` (user + system, children included) of every service,
   the nats-server and, on PostgreSQL, the backends serving each service (found by the
   ``application_name`` each process gets from ``PGAPPNAME``), before and after each mode
   (after: when every consumer has drained), divided by the complaints. Peak RSS
   (``VmHWM``) per service. Then ``--idle`` seconds with nothing submitted: CPU per
   service as % of one core.
4. ``--profile``: ``py-spy record --pid`` on every service during the saturating mode (and
   on the ceiling's two processes during theirs); files under ``var/bench/``.

The table is printed and written into ``docs/performance.md`` (between its
``bench:latest`` markers; ``--no-docs`` skips that). Column meanings: that file.
Do not compare figures taken while the machine is busy: ``/proc/loadavg`` is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.parser
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import nats  # noqa: E402
from eventsourcing.application import Application, ProcessingEvent  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402
from eventsourcing.persistence import IntegrityError, Tracking  # noqa: E402
from eventsourcing.projection import EventSourcedProjection  # noqa: E402
from nats.js import api as js_api  # noqa: E402

from hotro.natsbin import NatsServerProcess, supervised_child, terminate  # noqa: E402
from hotro.shared.eventstore.persistence import persistence_env  # noqa: E402
from hotro.shared.eventstore.schema import drop_schemas, ensure_store  # noqa: E402

SERVICES = ("intake", "routing", "sla", "notify")
EVENTS_STREAM = "HOTRO_EVENTS"
DLQ_STREAM = "HOTRO_DLQ"
PG_DEFAULT = os.environ.get("HOTRO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CLK_TCK = os.sysconf("SC_CLK_TCK")
DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:latest:begin -->", "<!-- bench:latest:end -->"
OUT_DIR = ROOT / "var" / "bench"


class BenchFailure(RuntimeError):
    """Something the figures must not hide: a lost acknowledgement, a failed delivery."""


def say(line: str = "") -> None:
    print(line, flush=True)


# ---- small measures --------------------------------------------------------------------

def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def proc_cpu_s(pid: int | None) -> float | None:
    """utime + stime + cutime + cstime of a process, in seconds (None: it is gone)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def proc_mem_mb(pid: int | None) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB; zeros when the process is gone."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    if pid is None:
        return 0.0, 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


class PgBackends:
    """CPU of the PostgreSQL backends serving our processes: every process gets
    ``PGAPPNAME=<prefix>-<label>``; ``pg_stat_activity`` gives the backends' pids, read in
    ``/proc`` every ``period_s`` (a backend that exits keeps its last reading, so at most
    one period of a short-lived connection is missed)."""

    def __init__(self, pg_url: str, prefix: str, period_s: float = 0.5) -> None:
        import psycopg

        self.prefix = prefix
        self.period_s = period_s
        self.conn = psycopg.connect(pg_url.split("?", 1)[0], autocommit=True,
                                    application_name="hotro-bench-monitor")
        #: (pid, backend start) -> (label, last CPU seconds read)
        self.seen: dict[tuple[int, str], tuple[str, float]] = {}
        self.lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        with self.lock:
            rows = self.conn.execute(
                "SELECT pid, backend_start::text, application_name FROM pg_stat_activity "
                "WHERE application_name LIKE %s", (f"{self.prefix}-%",)).fetchall()
            for pid, started, name in rows:
                cpu = proc_cpu_s(int(pid))
                if cpu is not None:
                    self.seen[(int(pid), str(started))] = (
                        str(name)[len(self.prefix) + 1:], cpu)

    def totals(self) -> dict[str, float]:
        """CPU seconds per label, of every backend seen so far (a fresh reading first)."""
        self.sample()
        out: dict[str, float] = {}
        with self.lock:
            for label, cpu in self.seen.values():
                out[label] = out.get(label, 0.0) + cpu
        return out

    async def _run(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(self.period_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.conn.close()


class CpuMeter:
    """CPU seconds of labelled processes (and PostgreSQL backends) at an instant."""

    def __init__(self, pids: Mapping[str, int | Sequence[int | None] | None],
                 pg: PgBackends | None = None) -> None:
        """``pids``: a process, or several (a service's replicas) summed, per label."""
        self.pids = {label: list(p) if isinstance(p, Sequence) else [p]
                     for label, p in pids.items()}
        self.pg = pg

    async def snapshot(self) -> dict[str, float]:
        out = {label: sum(proc_cpu_s(pid) or 0.0 for pid in pids)
               for label, pids in self.pids.items()}
        if self.pg is not None:
            pg = await asyncio.to_thread(self.pg.totals)
            out.update({f"pg:{label}": cpu for label, cpu in pg.items()})
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: after[k] - before.get(k, 0.0) for k in after}


# ---- processes we start ----------------------------------------------------------------

def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any HOTRO_ setting of the caller's (a stray
    HOTRO_POSTGRES_URL or NATS user must not leak into the bench), plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HOTRO_") and k not in ("PGAPPNAME",)}
    env.update({"PYTHONUNBUFFERED": "1", **extra})
    return env


class Profiler:
    """``py-spy record --pid`` on processes, stopped with SIGINT (it then writes)."""

    def __init__(self, out_dir: Path | None, fmt: str) -> None:
        self.out_dir = out_dir
        self.fmt = fmt
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.written: list[Path] = []

    def start(self, label: str, pid: int | None) -> None:
        if self.out_dir is None or pid is None:
            return
        exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or \
            shutil.which("py-spy")
        if exe is None:
            raise BenchFailure("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        suffix = {"flamegraph": "svg", "speedscope": "speedscope.json", "raw": "txt"}[self.fmt]
        out = self.out_dir / f"{label}.{suffix}"
        proc = subprocess.Popen(
            # --gil: only the thread holding the GIL is sampled, so the profile is where the
            # Python CPU goes (threads waiting on a lock, a pool or the GIL are left out)
            [exe, "record", "--pid", str(pid), "--rate", "200", "--nonblocking", "--gil",
             "--format", self.fmt, "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **supervised_child())
        self.running.append((proc, out))

    def stop(self) -> None:
        for proc, _ in self.running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, out in self.running:
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if out.exists():
                self.written.append(out)
            else:
                say(f"  ! py-spy wrote no {out.name}: {err.decode(errors='replace')[-300:]}")
        self.running.clear()


@dataclass
class Service:
    name: str
    env: dict[str, str]
    log_path: Path
    sock: socket.socket
    instance: str = field(default_factory=lambda: secrets.token_hex(8))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        fd = self.sock.fileno()
        env = {**self.env, "HOTRO_INSTANCE_ID": self.instance}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hotro.cli", "serve", self.name, "--fd", str(fd)],
                env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(fd,),
                cwd=str(ROOT), **supervised_child())

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def listen_socket() -> socket.socket:
    """Bound here and handed to the child (``hotro serve --fd``), as ``hotro up`` does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def service_env(service: str, *, nats_url: str, store_url: str, data_dir: Path,
                partitions: int, port: int, prefix: str, files: dict[str, str]) -> dict[str, str]:
    """What ``hotro up`` gives each service (hotro/up.py, ``base_env`` and
    ``start_system``), for a bare nats-server (no NATS user) and our own store."""
    env = {
        "HOTRO_NATS_URL": nats_url,
        "HOTRO_STORE_URL": store_url,
        "HOTRO_DATA_DIR": str(data_dir),
        "HOTRO_HTTP_HOST": "127.0.0.1",
        "HOTRO_HTTP_PORT": str(port),
        "HOTRO_PARTITIONS": str(partitions),
        "HOTRO_REPLICA_ID": f"{service}-bench",
        "HOTRO_LOG_LEVEL": "WARNING",
        "HOTRO_USERS_FILE": files["users"],
        "HOTRO_AUTH_KEYS_FILE": files["auth_keys"],
        "HOTRO_CAPABILITY_KEYS_FILE": files["capability_keys"],
        "HOTRO_PUBLIC_BASE_URL": "http://127.0.0.1:8080",
        "PGAPPNAME": f"{prefix}-{service}",
    }
    if service == "intake":
        env["HOTRO_PII_HASH_SECRET"] = files["pii_secret"]
    return child_env(env)


def shared_files(data_dir: Path) -> dict[str, str]:
    """The data directory (it must exist: notify's Maildir lives in it), the staff users,
    the signing keyrings and the PII hash secret, as ``hotro up`` makes them."""
    from hotro.shared.privacy.secrets import ensure_secret_file
    from hotro.shared.staff import assertions, capabilities
    from hotro.shared.staff.signing import ensure_keys
    from hotro.shared.staff.users import write_demo_users

    data_dir.mkdir(parents=True, exist_ok=True)
    users = data_dir / "staff-users.toml"
    if not users.exists():
        write_demo_users(users)
    now = datetime.now(UTC)
    ensure_keys(data_dir / "auth-keys.toml", assertions.PURPOSE, now)
    ensure_keys(data_dir / "capability-keys.toml", capabilities.PURPOSE, now)
    return {"users": str(users.resolve()),
            "auth_keys": str((data_dir / "auth-keys.toml").resolve()),
            "capability_keys": str((data_dir / "capability-keys.toml").resolve()),
            "pii_secret": ensure_secret_file(data_dir)}


async def wait_ready(service: Service, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if service.proc is None or service.proc.poll() is not None:
                raise BenchFailure(f"{service.name} exited while starting; its log "
                                   f"({service.log_path}):\n{service.log_tail()}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                r = await client.get(f"{service.url}/readyz")
                if r.status_code == 200 and r.json().get("instance") in (service.instance,
                                                                         None):
                    return
            await asyncio.sleep(0.2)
    raise BenchFailure(f"{service.name} not ready after {timeout}s; its log "
                       f"({service.log_path}):\n{service.log_tail()}")


class Schemas:
    """PostgreSQL schemas this run creates: all dropped at the end."""

    def __init__(self, pg_url: str) -> None:
        self.pg_url = pg_url
        self.names: list[str] = []

    def url(self, schema: str) -> str:
        self.names.append(schema)
        sep = "&" if "?" in self.pg_url else "?"
        return f"{self.pg_url}{sep}schema={schema}"

    def drop_all(self) -> None:
        if not self.names:
            return
        drop_schemas(self.pg_url, *self.names)
        self.names.clear()


def store_url(kind: str, name: str, work: Path, schemas: Schemas | None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{(work / f'{name}.sqlite').resolve()}"
    assert schemas is not None
    return schemas.url(name)


# ---- the ceiling: two processes, store → JetStream → store -----------------------------

class Item(Aggregate):
    @event("Made", topic="hotro.bench:Item.Made")
    def __init__(self, *, n: int, t: float) -> None:
        self.n = n
        self.t = t


class HopSource(Application[uuid.UUID]):
    name = "source"


class HopSink(EventSourcedProjection[uuid.UUID]):
    name = "sink"

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[uuid.UUID]
               ) -> None:
        processing_event.collect_events(Item(n=domain_event["n"], t=domain_event["t"]))

    def save_batch(self, payloads: list[dict[str, Any]]) -> None:
        """One transaction for the whole fetched batch, tracked at its last position."""
        pe = ProcessingEvent[uuid.UUID](tracking=Tracking("source", payloads[-1]["id"]))
        for p in payloads:
            pe.collect_events(Item(n=p["n"], t=p["t"]))
        self._record(pe)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _stdin_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


async def hop_source(a: argparse.Namespace) -> None:
    ensure_store(a.store)
    app = HopSource(env=persistence_env(a.store))
    for _ in range(a.warmup):  # connections, pools, caches: before the clock starts
        app.save(Item(n=-1, t=0.0))
    position = app.recorder.max_notification_id() or 0
    nc = await nats.connect(a.nats)
    js = nc.jetstream(publish_async_max_pending=a.window)
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    _emit({"ready": True})
    await _stdin_line()  # "go"
    cpu0 = _own_cpu()
    first_t: list[float] = []

    def writer() -> None:
        t0 = time.time()
        for i in range(a.count):
            if a.rate > 0:
                due = t0 + i / a.rate
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                t = due
            else:
                t = time.time()
            if not first_t:
                first_t.append(t)
            app.save(Item(n=i, t=t))
            loop.call_soon_threadsafe(wake.set)  # the relay wakes on commit: no polling

    def page(start: int) -> list[tuple[int, int, float]]:
        out = []
        for note in app.recorder.select_notifications(start=start, limit=500,
                                                      inclusive_of_start=False):
            e = app.mapper.to_domain_event(note)
            out.append((note.id, int(e.n), float(e.t)))  # type: ignore[attr-defined]
        return out

    writing = loop.run_in_executor(None, writer)
    published = 0
    acks: list[asyncio.Future[Any]] = []
    while published < a.count:
        await wake.wait()
        wake.clear()
        while True:
            items = await asyncio.to_thread(page, position)
            if not items:
                break
            for nid, n, t in items:
                acks.append(await js.publish_async(
                    a.subject, json.dumps({"id": nid, "n": n, "t": t}).encode(),
                    headers={"Nats-Msg-Id": f"source:{nid}"}))
                position = nid
                published += 1
            if len(acks) > 4 * a.window:  # surface a failed publish early
                done = [f for f in acks if f.done()]
                for f in done:
                    f.result()
                acks = [f for f in acks if not f.done()]
    await writing
    for f in acks:
        await f
    _emit({"done": True, "published": published, "first_t": first_t[0] if first_t else 0.0,
           "cpu_s": _own_cpu() - cpu0})
    await _stdin_line()  # "exit": the bench has read our backends' CPU
    await nc.close()
    app.close()


async def hop_sink(a: argparse.Namespace) -> None:
    ensure_store(a.store)
    app = HopSink(env=persistence_env(a.store))
    for i in range(a.warmup):
        app.process_event({"n": -1, "t": 0.0},  # type: ignore[arg-type]
                          Tracking("warmup", i + 1))
    nc = await nats.connect(a.nats)
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(durable="sink", stream=a.stream)
    _emit({"ready": True})
    await _stdin_line()  # "go"
    cpu0 = _own_cpu()
    latencies: list[float] = []
    last_commit = 0.0
    seen: set[int] = set()

    def save(payloads: list[dict[str, Any]]) -> list[float]:
        stamps: list[float] = []
        if a.tx == "batch":
            app.save_batch(payloads)
            now = time.time()
            return [now] * len(payloads)
        for p in payloads:
            with contextlib.suppress(IntegrityError):  # redelivered: already saved
                app.process_event(p, Tracking("source", p["id"]))  # type: ignore[arg-type]
            stamps.append(time.time())
        return stamps

    while len(seen) < a.count:
        try:
            msgs = await sub.fetch(a.batch, timeout=5)
        except TimeoutError:  # nats.errors.TimeoutError is one too
            continue
        payloads = [json.loads(m.data) for m in msgs]
        fresh = [p for p in payloads if p["id"] not in seen]
        if fresh:
            stamps = await asyncio.to_thread(save, fresh)
            for p, stamp in zip(fresh, stamps, strict=True):
                seen.add(p["id"])
                latencies.append((stamp - p["t"]) * 1000)
                last_commit = max(last_commit, stamp)
        for m in msgs:
            await m.ack()
    _emit({"done": True, "received": len(seen), "last_commit": last_commit,
           "latencies_ms": latencies, "cpu_s": _own_cpu() - cpu0})
    await _stdin_line()
    await nc.close()
    app.close()


def hop_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="e2e_bench.py _hop")
    p.add_argument("role", choices=("source", "sink"))
    p.add_argument("--store", required=True)
    p.add_argument("--nats", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--tx", choices=("item", "batch"), default="item")
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    a = p.parse_args(argv)
    asyncio.run(hop_source(a) if a.role == "source" else hop_sink(a))
    return 0


@dataclass
class HopChild:
    label: str
    proc: asyncio.subprocess.Process

    async def line(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise BenchFailure(f"ceiling {self.label} exited ({await self.proc.wait()})")
        return dict(json.loads(raw))

    async def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@dataclass
class HopResult:
    items: int
    rate: float
    p50: float
    p99: float
    cpu_ms_per_item: float
    cpu_split: dict[str, float]


async def run_ceiling(*, kind: str, nats_url: str, nats_pid: int | None, work: Path,
                      schemas: Schemas | None, pg: PgBackends | None, prefix: str,
                      count: int, rate: float, tx: str, window: int, batch: int,
                      profiler: Profiler | None, label: str) -> HopResult:
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"BENCH_HOP_{tag.upper()}", f"bench.hop.{tag}"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    children: list[HopChild] = []
    try:
        await js.add_stream(js_api.StreamConfig(
            name=stream, subjects=[subject], storage=js_api.StorageType.FILE,
            duplicate_window=120.0))
        await js.add_consumer(stream, js_api.ConsumerConfig(
            durable_name="sink", ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL, max_ack_pending=10_000,
            ack_wait=30.0))
        urls = {role: store_url(kind, f"{prefix}_hop{tag}_{role}", work, schemas)
                for role in ("source", "sink")}
        for role in ("sink", "source"):
            args = [sys.executable, str(Path(__file__).resolve()), "_hop", role,
                    "--store", urls[role], "--nats", nats_url, "--stream", stream,
                    "--subject", subject, "--count", str(count), "--rate", str(rate),
                    "--tx", tx, "--window", str(window), "--batch", str(batch)]
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=open(work / f"ceiling-{role}-{tag}.log", "ab"),  # noqa: SIM115
                env=child_env({"PGAPPNAME": f"{prefix}-ceiling-{role}"}), cwd=str(ROOT),
                **supervised_child())
            children.append(HopChild(role, proc))
        for child in children:
            await child.line(120)  # ready
        meter = CpuMeter({"nats": nats_pid}, pg)
        before = await meter.snapshot()
        if profiler is not None:
            for child in children:
                profiler.start(f"{label}-ceiling-{child.label}", child.proc.pid)
        for child in children:
            await child.send("go")
        results = {c.label: await c.line(max(600.0, 10 * count / max(rate, 1.0)))
                   for c in reversed(children)}  # the source finishes first
        after = await meter.snapshot()
        if profiler is not None:
            profiler.stop()
        for child in children:
            await child.send("exit")
        for child in children:
            await asyncio.wait_for(child.proc.wait(), 60)
        src, sink = results["source"], results["sink"]
        if sink["received"] != count:
            raise BenchFailure(f"ceiling: {sink['received']} of {count} items arrived")
        lat = [float(x) for x in sink["latencies_ms"]]
        elapsed = float(sink["last_commit"]) - float(src["first_t"])
        delta = CpuMeter.delta(before, after)
        split = {"source": float(src["cpu_s"]), "sink": float(sink["cpu_s"]),
                 "nats": delta.get("nats", 0.0),
                 "pg": sum(v for k, v in delta.items() if k.startswith("pg:"))}
        return HopResult(items=count, rate=count / elapsed, p50=pct(lat, 0.5),
                         p99=pct(lat, 0.99),
                         cpu_ms_per_item=sum(split.values()) * 1000 / count,
                         cpu_split={k: v * 1000 / count for k, v in split.items()})
    finally:
        for child in children:
            await child.stop()
        with contextlib.suppress(Exception):
            await js.delete_stream(stream)
        await nc.close()


# ---- the lifecycle ---------------------------------------------------------------------

@dataclass
class Sample:
    i: int
    start: float                 # intended start (open loop) or the moment of the POST
    complaint_id: str | None = None
    accepted: float = 0.0        # HTTP 201 received
    ack_seen: float = 0.0        # AcknowledgementSent received on the bus
    sent_at: float = 0.0         # AcknowledgementSent.sent_at (notify's clock)
    proof: str | None = None     # the acknowledgement's Message-ID
    mailed: float = 0.0          # the Maildir file's modification time


@dataclass
class ModeResult:
    mode: str
    complaints: int
    rate: float
    p50: float
    p95: float
    p99: float
    detail: dict[str, float]
    cpu_ms: dict[str, float]
    target_rate: float = 0.0
    concurrency: int = 0
    #: per replica of a service run with several (--replicas), in start order
    replica_cpu_ms: dict[str, list[float]] = field(default_factory=dict)


def _norm_msgid(value: str) -> str:
    return value.strip().strip("<>").strip()


class Mailbox:
    """Notify's local Maildir: Message-ID → the file's modification time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index: dict[str, float] = {}
        self._files: set[str] = set()
        self._parser = email.parser.BytesHeaderParser()

    def scan(self) -> dict[str, float]:
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                key = entry.name.split(":", 1)[0]
                if key in self._files:
                    continue
                with open(entry.path, "rb") as f:
                    headers = self._parser.parse(f)
                self._files.add(key)
                msgid = headers.get("Message-ID")
                if msgid:
                    self.index[_norm_msgid(str(msgid))] = entry.stat().st_mtime_ns / 1e9
        return self.index


class AckWatcher:
    """Notify's AcknowledgementSent and NotificationFailed, as any subscriber sees them."""

    def __init__(self) -> None:
        self.acks: dict[str, tuple[float, float, str]] = {}
        self.failed: list[dict[str, Any]] = []
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.progress = asyncio.Event()
        self.sub: Any = None

    async def start(self, nc: Any) -> None:
        async def on_msg(msg: Any) -> None:
            now = time.time()
            env = json.loads(msg.data)
            cid = str(env["complaint_id"])
            if env["event_type"] == "NotificationFailed":
                self.failed.append(env)
                self.progress.set()
                return
            p = env["payload"]
            sent = datetime.fromisoformat(p["sent_at"]).timestamp()
            self.acks.setdefault(cid, (now, sent, _norm_msgid(str(p["proof"]))))
            waiter = self.waiters.pop(cid, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            self.progress.set()

        self.sub = [await nc.subscribe("hotro.evt.notify.AcknowledgementSent.>", cb=on_msg),
                    await nc.subscribe("hotro.evt.notify.NotificationFailed.>", cb=on_msg)]

    def wait(self, cid: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if cid in self.acks:
            fut.set_result(None)
        else:
            self.waiters[cid] = fut
        return fut

    def check(self) -> None:
        if self.failed:
            f = self.failed[0]
            raise BenchFailure(f"notify published {len(self.failed)} NotificationFailed; "
                               f"first: {f['payload']}")


def complaint_body(run: str, i: int) -> dict[str, Any]:
    return {"kind": "complaint", "channel": "web",
            "customer": {"name": f"Khách hàng {i}", "email": f"b{run}-{i}@example.com",
                         "phone": f"091{(int(run[:4], 16) * 7919 + i) % 10_000_000:07d}"},
            "product": "dien-lanh", "description": f"Máy lạnh không chạy (bench {run} #{i})"}


class Lifecycle:
    def __init__(self, intake_url: str, watcher: AckWatcher, run: str,
                 stall_timeout: float) -> None:
        self.intake_url = intake_url
        self.watcher = watcher
        self.run = run
        self.stall_timeout = stall_timeout
        self.next_i = 0
        self.http_failures: list[str] = []
        self.retried: list[str] = []

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        # The services close a connection idle for 5 s (http_keep_alive_s); a client that
        # keeps it as long races that close and reads nothing back (seen: ReadError('')).
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200,
                              keepalive_expiry=2.0)
        async with httpx.AsyncClient(base_url=self.intake_url, timeout=120,
                                     limits=limits) as client:
            yield client

    async def submit(self, client: httpx.AsyncClient, s: Sample) -> bool:
        """POST the complaint; a connection lost before any answer is retried once with
        the same Idempotency-Key, as a careful client does (the case is made once)."""
        headers = {"Idempotency-Key": f"bench-{self.run}-{s.i}"}
        for attempt in (1, 2):
            try:
                r = await client.post("/api/complaints", json=complaint_body(self.run, s.i),
                                      headers=headers)
                break
            except httpx.TransportError as exc:
                if attempt == 1 and not isinstance(exc, httpx.TimeoutException):
                    self.retried.append(f"#{s.i}: {exc!r}")
                    continue
                self.http_failures.append(f"#{s.i}: {exc!r}")
                return False
            except httpx.HTTPError as exc:
                self.http_failures.append(f"#{s.i}: {exc!r}")
                return False
        if r.status_code != 201:
            self.http_failures.append(f"#{s.i}: HTTP {r.status_code} {r.text[:200]}")
            return False
        s.accepted = time.time()
        s.complaint_id = str(r.json()["id"])
        return True

    async def closed(self, count: int, concurrency: int) -> list[Sample]:
        samples: list[Sample] = []
        end = self.next_i + count

        async def customer(client: httpx.AsyncClient) -> None:
            while self.next_i < end:
                s = Sample(self.next_i, 0.0)
                self.next_i += 1
                s.start = time.time()
                samples.append(s)
                if not await self.submit(client, s):
                    continue
                assert s.complaint_id is not None
                try:
                    await asyncio.wait_for(self.watcher.wait(s.complaint_id),
                                           self.stall_timeout)
                except TimeoutError:
                    self.watcher.check()
                    raise BenchFailure(
                        f"no acknowledgement for complaint #{s.i} ({s.complaint_id}) after "
                        f"{self.stall_timeout}s") from None

        async with self.client() as client:
            await asyncio.gather(*(customer(client) for _ in range(concurrency)))
        return samples

    async def open(self, count: int, rate: float) -> list[Sample]:
        samples: list[Sample] = []
        tasks: list[asyncio.Task[bool]] = []
        async with self.client() as client:
            t0 = time.time() + 0.05
            for k in range(count):
                due = t0 + k / rate
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                s = Sample(self.next_i, due)
                self.next_i += 1
                samples.append(s)
                tasks.append(asyncio.create_task(self.submit(client, s)))
            await asyncio.gather(*tasks)
        await self.wait_all(samples)
        return samples

    async def wait_all(self, samples: list[Sample]) -> None:
        wanted = {s.complaint_id for s in samples if s.complaint_id}
        while True:
            self.watcher.progress.clear()
            self.watcher.check()
            if wanted <= self.watcher.acks.keys():
                return
            try:
                await asyncio.wait_for(self.watcher.progress.wait(), self.stall_timeout)
            except TimeoutError:
                missing = len(wanted - self.watcher.acks.keys())
                raise BenchFailure(f"{missing} acknowledgements still missing after "
                                   f"{self.stall_timeout}s without progress") from None


async def wait_drained(js: Any, timeout: float = 180.0) -> float:
    """Until every consumer of the event stream has nothing pending or unacknowledged and
    the stream has stopped growing (three readings 0.3 s apart). Returns the seconds."""
    started = time.monotonic()
    last, stable = -1, 0
    while time.monotonic() - started < timeout:
        info = await js.stream_info(EVENTS_STREAM)
        consumers = await js.consumers_info(EVENTS_STREAM)
        busy = any(c.num_pending or c.num_ack_pending for c in consumers)
        seq = int(info.state.last_seq)
        stable = stable + 1 if (not busy and seq == last) else 0
        if stable >= 3:
            return time.monotonic() - started
        last = seq
        await asyncio.sleep(0.3)
    say(f"  ! the services did not drain within {timeout}s: CPU figures include a backlog")
    return time.monotonic() - started


def audit_notify(url: str) -> Counter[str]:
    """Failed delivery attempts in notify's store (read as an auditor: its own tables)."""

    class NotifyLog(Application[uuid.UUID]):
        name = "notify"

    app = NotifyLog(env=persistence_env(url))
    counts: Counter[str] = Counter()
    try:
        position = 0
        topics = ["hotro.notify:Dispatch.AttemptFailed", "hotro.notify:Dispatch.Failed"]
        while True:
            notes = app.recorder.select_notifications(start=position, limit=1000,
                                                      inclusive_of_start=False, topics=topics)
            if not notes:
                return counts
            for n in notes:
                reason = ""
                with contextlib.suppress(Exception):
                    reason = str(json.loads(n.state).get("reason", ""))[:160]
                counts[f"{n.topic.rsplit('.', 1)[1]}: {reason}"] += 1
                position = n.id
    finally:
        app.close()


def verify_mail(samples: list[Sample], watcher: AckWatcher, mailbox: Mailbox) -> list[str]:
    """Every accepted complaint has its acknowledgement in the Maildir."""
    index = mailbox.scan()
    problems = []
    for s in samples:
        if s.complaint_id is None:
            continue
        ack = watcher.acks.get(s.complaint_id)
        if ack is None:
            problems.append(f"#{s.i}: no AcknowledgementSent")
            continue
        s.ack_seen, s.sent_at, s.proof = ack
        mailed = index.get(s.proof)
        if mailed is None:
            problems.append(f"#{s.i}: acknowledgement {s.proof} is not in {mailbox.path}")
            continue
        s.mailed = mailed
    return problems


def summarise(mode: str, samples: list[Sample]) -> ModeResult:
    ok = [s for s in samples if s.mailed]
    life = [(s.mailed - s.start) * 1000 for s in ok]
    span = max(s.mailed for s in ok) - min(s.start for s in ok) if ok else float("nan")
    detail = {
        "http_p50": pct([(s.accepted - s.start) * 1000 for s in ok], 0.5),
        "http_p99": pct([(s.accepted - s.start) * 1000 for s in ok], 0.99),
        "published_p50": pct([(s.ack_seen - s.start) * 1000 for s in ok], 0.5),
        "published_p99": pct([(s.ack_seen - s.start) * 1000 for s in ok], 0.99),
    }
    return ModeResult(mode=mode, complaints=len(ok), rate=len(ok) / span,
                      p50=pct(life, 0.5), p95=pct(life, 0.95), p99=pct(life, 0.99),
                      detail=detail, cpu_ms={})


@dataclass
class StoreResult:
    kind: str
    ceiling_sat: HopResult | None = None
    ceiling_open: HopResult | None = None
    modes: list[ModeResult] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)
    idle_pct: dict[str, float] = field(default_factory=dict)
    idle_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: --count-store-calls: per service, store round trips per complaint by caller
    store_calls: dict[str, dict[str, float]] = field(default_factory=dict)


STORE_CALLS_HOOK = ROOT / "bench" / "store_calls"


def store_calls_env(calls_dir: Path) -> dict[str, str]:
    """A service's environment additions for ``--count-store-calls``."""
    path = [str(STORE_CALLS_HOOK), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"BENCH_STORE_CALLS_DIR": str(calls_dir), "PYTHONPATH": os.pathsep.join(path)}


def read_store_calls(calls_dir: Path, pids: dict[str, int | None],
                     complaints: int) -> dict[str, dict[str, float]]:
    """What the hook (bench/store_calls) wrote, per service, ÷ complaints."""
    by_pid = {pid: s for s, pid in pids.items() if pid is not None}
    out: dict[str, dict[str, float]] = {}
    for path in calls_dir.glob("*.json"):
        service = by_pid.get(int(path.stem))
        if service is None:
            continue
        calls = json.loads(path.read_text())["calls"]
        out[service] = {k: n / max(complaints, 1) for k, n in calls.items()}
    return out


async def bench_store(kind: str, a: argparse.Namespace, work: Path,
                      profiler: Profiler | None) -> StoreResult:
    from hotro.provisioning import provision_all

    result = StoreResult(kind)
    prefix = f"hb{uuid.uuid4().hex[:8]}"
    work = work / kind
    work.mkdir(parents=True, exist_ok=True)
    schemas = Schemas(a.pg) if kind == "postgres" else None
    pg: PgBackends | None = None
    server = NatsServerProcess(store_dir=work / "nats", log_file=work / "nats-server.log",
                               supervised=True)
    services: dict[str, Service] = {}
    extra: list[Service] = []  # replicas beyond the first (--replicas)
    nc: Any = None
    try:
        if schemas is not None:
            try:
                pg = PgBackends(a.pg, prefix)
            except Exception as exc:  # psycopg.OperationalError and friends
                raise BenchFailure(f"PostgreSQL at {a.pg} is not reachable ({exc}); "
                                   "--pg URL, or --stores sqlite") from exc
            pg.start()
        server.start()
        say(f"[{kind}] nats-server {server.url} (pid {server.pid}); work dir {work}")

        # -- 1. the ceiling, alone on the machine (the services are not started yet)
        hop_args: dict[str, Any] = dict(
            kind=kind, nats_url=server.url, nats_pid=server.pid, work=work, schemas=schemas,
            pg=pg, prefix=prefix, tx=a.ceiling_tx, window=a.ceiling_window,
            batch=a.ceiling_batch, label=kind)
        if "saturating" in a.modes or a.ceiling_rate <= 0:
            result.ceiling_sat = await run_ceiling(count=a.ceiling_items, rate=0.0,
                                                   profiler=profiler, **hop_args)
            h = result.ceiling_sat
            say(f"[{kind}] ceiling, saturating: {h.rate:.0f} items/s, one hop p50 "
                f"{h.p50:.1f} ms p99 {h.p99:.1f} ms, {h.cpu_ms_per_item:.2f} ms CPU/item")
        if "open" in a.modes:
            rate = a.ceiling_rate if a.ceiling_rate > 0 else \
                (result.ceiling_sat.rate / 2 if result.ceiling_sat else 0.0)
            items = min(a.ceiling_items, max(50, int(rate * a.ceiling_open_s)))
            result.ceiling_open = await run_ceiling(count=items, rate=rate, profiler=None,
                                                    **hop_args)
            h = result.ceiling_open
            say(f"[{kind}] ceiling, open loop at {rate:.0f}/s: {h.rate:.0f} items/s, one hop "
                f"p50 {h.p50:.1f} ms p99 {h.p99:.1f} ms, {h.cpu_ms_per_item:.2f} ms CPU/item")

        # -- 2. the services
        await provision_all(server.url, partitions=a.partitions)
        data_dir = work / "data"
        files = shared_files(data_dir)
        urls = {s: store_url(kind, f"{prefix}_{s}", work, schemas) for s in SERVICES}
        calls_dir = work / "store-calls"
        calls_dir.mkdir(exist_ok=True)
        for s in SERVICES:
            ensure_store(urls[s])
            sock = listen_socket()
            services[s] = Service(s, service_env(
                s, nats_url=server.url, store_url=urls[s], data_dir=data_dir,
                partitions=a.partitions, port=int(sock.getsockname()[1]), prefix=prefix,
                files=files), work / f"{s}.log", sock)
            if a.count_store_calls:
                services[s].env.update(store_calls_env(calls_dir))
            services[s].start()
            for n in range(2, a.replicas.get(s, 1) + 1):  # more of the same, own instance
                sock = listen_socket()
                env = {**services[s].env, "HOTRO_REPLICA_ID": f"{s}-bench-{n}",
                       "HOTRO_HTTP_PORT": str(sock.getsockname()[1])}
                extra.append(Service(s, env, work / f"{s}-{n}.log", sock))
                extra[-1].start()
        await asyncio.gather(*(wait_ready(svc) for svc in [*services.values(), *extra]))
        say(f"[{kind}] services ready: " + ", ".join(
            f"{svc.name} pid {svc.pid}" for svc in [*services.values(), *extra]))
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        watcher = AckWatcher()
        await watcher.start(nc)
        mailbox = Mailbox(Path(data_dir) / "mail")
        life = Lifecycle(services["intake"].url, watcher, prefix[2:], a.stall_timeout)
        meter = CpuMeter({**{s: [svc.pid, *(x.pid for x in extra if x.name == s)]
                             for s, svc in services.items()},
                          "nats": server.pid}, pg)

        try:
            if a.warmup:
                warm = await life.closed(a.warmup, min(a.warmup, a.concurrency))
                await wait_drained(js)
                problems = verify_mail(warm, watcher, mailbox)
                if problems or life.http_failures:
                    raise BenchFailure("warm-up failed: " + "; ".join(
                        (life.http_failures + problems)[:5]))

            sat_rate = 0.0
            for mode in a.modes:
                before = await meter.snapshot()
                replicas = [svc for svc in [*services.values(), *extra]
                            if a.replicas.get(svc.name, 1) > 1]
                replicas_before = [proc_cpu_s(svc.pid) or 0.0 for svc in replicas]
                t_before, own_before = time.monotonic(), _own_cpu()
                if mode == "saturating":
                    if profiler is not None:
                        for s, svc in services.items():
                            profiler.start(f"{kind}-{s}", svc.pid)
                    samples = await life.closed(a.complaints, a.concurrency)
                else:
                    rate = a.rate if a.rate > 0 else sat_rate / 2
                    if rate <= 0:
                        raise BenchFailure("open loop needs --rate or a saturating run first")
                    samples = await life.open(a.complaints, rate)
                drained = await wait_drained(js)
                after = await meter.snapshot()
                window_s, own_s = time.monotonic() - t_before, _own_cpu() - own_before
                if mode == "saturating" and profiler is not None:
                    profiler.stop()
                problems = verify_mail(samples, watcher, mailbox)
                result.failures += [f"{mode}: {p}" for p in problems]
                result.failures += [f"{mode}: {f}" for f in life.http_failures]
                life.http_failures.clear()
                if life.retried:
                    print(f"[{kind}] {mode}: {len(life.retried)} submission(s) retried after a "
                          f"lost connection: {', '.join(life.retried[:3])}", flush=True)
                    life.retried.clear()
                m = summarise(mode, samples)
                delta = CpuMeter.delta(before, after)
                ours = {*SERVICES, "nats", *(f"pg:{s}" for s in SERVICES)}
                m.cpu_ms = {k: v * 1000 / max(m.complaints, 1) for k, v in delta.items()
                            if k in ours}
                m.detail["drain_s"] = drained
                m.detail["window_s"] = window_s
                m.detail["bench_cpu_ms"] = own_s * 1000 / max(m.complaints, 1)
                for svc, cpu_before in zip(replicas, replicas_before, strict=True):
                    m.replica_cpu_ms.setdefault(svc.name, []).append(
                        ((proc_cpu_s(svc.pid) or 0.0) - cpu_before) * 1000
                        / max(m.complaints, 1))
                if mode == "saturating":
                    sat_rate = m.rate
                    m.concurrency = a.concurrency
                else:
                    m.target_rate = a.rate if a.rate > 0 else sat_rate / 2
                result.modes.append(m)
                say(f"[{kind}] {mode}: {m.complaints} complaints, {m.rate:.1f}/s, lifecycle p50 "
                    f"{m.p50:.0f} p95 {m.p95:.0f} p99 {m.p99:.0f} ms; CPU "
                    f"{sum(m.cpu_ms.values()):.1f} ms/complaint")
        except BenchFailure as exc:  # say what notify itself recorded, if anything
            attempts = await asyncio.to_thread(audit_notify, urls["notify"])
            if attempts:
                raise BenchFailure(f"{exc}\n  notify's store: " + "; ".join(
                    f"{n} × {what}" for what, n in attempts.most_common(5))) from exc
            raise

        for s, svc in services.items():
            result.rss_mb[s] = proc_mem_mb(svc.pid)[1]
        if a.count_store_calls:
            await asyncio.sleep(1.5)  # the hook writes its counts every second
            result.store_calls = read_store_calls(
                calls_dir, {s: svc.pid for s, svc in services.items()},
                a.warmup + sum(m.complaints for m in result.modes))
        if a.idle > 0:
            before = await meter.snapshot()
            t0 = time.monotonic()
            await asyncio.sleep(a.idle)
            after = await meter.snapshot()
            result.idle_s = time.monotonic() - t0
            result.idle_pct = {k: v * 100 / result.idle_s
                               for k, v in CpuMeter.delta(before, after).items()
                               if not k.startswith("pg:ceiling")}

        # -- 3. nothing may have failed on the way
        attempts = await asyncio.to_thread(audit_notify, urls["notify"])
        result.failures += [f"notify store: {n} × {what}" for what, n in attempts.items()]
        with contextlib.suppress(Exception):
            dlq = await js.stream_info(DLQ_STREAM)
            if dlq.state.messages:
                result.failures.append(f"{dlq.state.messages} dead letters in {DLQ_STREAM}")
        for svc in [*services.values(), *extra]:
            if svc.proc is not None and svc.proc.poll() is not None:
                result.failures.append(f"{svc.name} exited ({svc.proc.returncode}) during "
                                       f"the run; log {svc.log_path}")
        return result
    finally:
        if profiler is not None:
            profiler.stop()
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        for svc in [*services.values(), *extra]:
            if svc.proc is not None and svc.proc.poll() is None:
                svc.proc.terminate()
        for svc in [*services.values(), *extra]:
            terminate(svc.proc)
            svc.sock.close()
        server.stop()
        if pg is not None:
            await pg.close()
        if schemas is not None:
            schemas.drop_all()


# ---- the table -------------------------------------------------------------------------

def _f(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:.{digits}f}"


HEADER = ["store", "mode", "complaints", "complaints/s", "lifecycle p50 ms", "p95 ms",
          "p99 ms", "ceiling items/s", "hop p50 ms", "hop p99 ms", "tput ratio",
          "p99 ratio", "CPU ms/complaint intake", "routing", "sla", "notify", "nats", "pg",
          "total", "ceiling CPU ms/item", "RSS MB i/r/s/n", "idle % i/r/s/n"]


def table_rows(results: Sequence[StoreResult]) -> list[list[str]]:
    rows = []
    for r in results:
        rss = "/".join(_f(r.rss_mb.get(s)) for s in SERVICES)
        idle = "/".join(_f(r.idle_pct.get(s), 1) for s in SERVICES) if r.idle_pct else "—"
        for m in r.modes:
            hop = r.ceiling_sat if m.mode == "saturating" else r.ceiling_open
            pg = sum(v for k, v in m.cpu_ms.items() if k.startswith("pg:")) \
                if r.kind == "postgres" else None
            tput_ratio = m.rate / r.ceiling_sat.rate \
                if m.mode == "saturating" and r.ceiling_sat else None
            p99_ratio = m.p99 / hop.p99 if m.mode == "open" and hop else None
            mode = "saturating" if m.mode == "saturating" else f"open @{m.target_rate:.1f}/s"
            rows.append([
                r.kind, mode, str(m.complaints), _f(m.rate, 1), _f(m.p50), _f(m.p95),
                _f(m.p99), _f(hop.rate if hop else None), _f(hop.p50 if hop else None, 1),
                _f(hop.p99 if hop else None, 1),
                f"{tput_ratio:.2f}×" if tput_ratio is not None else "—",
                f"{p99_ratio:.1f}×" if p99_ratio is not None else "—",
                *(_f(m.cpu_ms.get(s), 1) for s in SERVICES), _f(m.cpu_ms.get("nats"), 1),
                _f(pg, 1), _f(sum(m.cpu_ms.values()), 1),
                _f(hop.cpu_ms_per_item if hop else None, 2), rss, idle])
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def details(results: Sequence[StoreResult], a: argparse.Namespace) -> list[str]:
    out = []
    for r in results:
        for hop, what in ((r.ceiling_sat, "saturating"), (r.ceiling_open, "open loop")):
            if hop is not None:
                split = ", ".join(f"{k} {v:.2f}" for k, v in hop.cpu_split.items())
                out.append(f"- {r.kind} ceiling {what}: {hop.items} items, {hop.rate:.0f}/s, "
                           f"CPU ms/item: {split}")
        for m in r.modes:
            d = m.detail
            extra = (f"concurrency {m.concurrency}" if m.mode == "saturating"
                     else f"target {m.target_rate:.1f}/s")
            pgs = ", ".join(f"{s} {m.cpu_ms[f'pg:{s}']:.1f}" for s in SERVICES
                            if f"pg:{s}" in m.cpu_ms)
            idle_share = ""
            if r.idle_pct:
                base = sum(v for k, v in r.idle_pct.items() if k.replace("pg:", "") in
                           (*SERVICES, "nats"))
                share = base / 100 * d["window_s"] * 1000 / max(m.complaints, 1)
                idle_share = (f"; of the CPU, the idle baseline (idle % × the "
                              f"{d['window_s']:.1f} s window) is {share:.1f} ms/complaint")
            out.append(
                f"- {r.kind} {m.mode} ({extra}): HTTP 201 p50 {_f(d['http_p50'])} / p99 "
                f"{_f(d['http_p99'])} ms; AcknowledgementSent on the bus p50 "
                f"{_f(d['published_p50'])} / p99 {_f(d['published_p99'])} ms; drained "
                f"{d['drain_s']:.1f} s after the last acknowledgement"
                + (f"; PostgreSQL backends ms/complaint: {pgs}" if pgs else "")
                + idle_share
                + "".join(f"; {s} replicas ms/complaint: "
                          + " + ".join(f"{v:.1f}" for v in per)
                          for s, per in m.replica_cpu_ms.items())
                + f"; the bench's own process {d['bench_cpu_ms']:.1f} ms/complaint")
        for s, calls in r.store_calls.items():
            # every caller that makes at least one round trip in twenty complaints
            top = [kv for kv in sorted(calls.items(), key=lambda kv: -kv[1]) if kv[1] >= 0.05]
            out.append(f"- {r.kind} {s} store round trips per complaint (warm-up and every "
                       f"mode; R read, W write, C PostgreSQL check-out): "
                       f"**{sum(calls.values()):.1f}**; "
                       + "; ".join(f"{n:.2f} {caller}" for caller, n in top))
        if r.idle_pct:
            nats_idle = r.idle_pct.get("nats", 0.0)
            pg_idle = sum(v for k, v in r.idle_pct.items() if k.startswith("pg:"))
            out.append(f"- {r.kind} idle {r.idle_s:.0f} s: nats-server {nats_idle:.1f}%"
                       + (f", PostgreSQL backends {pg_idle:.1f}%" if r.kind == "postgres"
                          else "") + " of a core")
    return out


def write_docs(path: Path, block: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    body = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + body + tail
    else:
        text = text.rstrip() + "\n\n## Latest run\n\n" + body + "\n"
    path.write_text(text, encoding="utf-8")


# ---- main ------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--complaints", type=int, default=300, help="per mode (default 300)")
    p.add_argument("--stores", default="sqlite,postgres")
    p.add_argument("--modes", default="saturating,open")
    p.add_argument("--concurrency", type=int, default=32,
                   help="saturating: customers each waiting for their acknowledgement")
    p.add_argument("--rate", type=float, default=0.0,
                   help="open loop: complaints/s (default: half the saturating throughput)")
    p.add_argument("--warmup", type=int, default=10, help="complaints before measuring")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--replicas", default="",
                   help="replicas of consumer-only services, e.g. notify=2,sla=2 (default: one "
                        "of each); their CPU is summed under the service's name")
    p.add_argument("--idle", type=float, default=60.0, help="idle seconds measured (0: skip)")
    p.add_argument("--ceiling-items", type=int, default=1000)
    p.add_argument("--ceiling-rate", type=float, default=0.0,
                   help="open-loop ceiling rate (default: half its saturating throughput)")
    p.add_argument("--ceiling-open-s", type=float, default=10.0,
                   help="open-loop ceiling: about this many seconds of items")
    p.add_argument("--ceiling-tx", choices=("item", "batch"), default="item",
                   help="sink transactions: one per item (as the services) or per batch")
    p.add_argument("--ceiling-window", type=int, default=256,
                   help="source: publishes in flight at most")
    p.add_argument("--ceiling-batch", type=int, default=100, help="sink: fetch batch size")
    p.add_argument("--stall-timeout", type=float, default=120.0)
    p.add_argument("--pg", default=PG_DEFAULT)
    p.add_argument("--profile", action="store_true",
                   help="py-spy flame graphs of each service (saturating) under var/bench/")
    p.add_argument("--profile-format", choices=("flamegraph", "speedscope", "raw"),
                   default="flamegraph")
    p.add_argument("--count-store-calls", action="store_true",
                   help="count each service's store round trips per complaint, by caller "
                        "(bench/store_calls; perturbs the CPU figures)")
    p.add_argument("--docs", type=Path, default=DOCS)
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--note", default="", help="a label written with the table (the load…)")
    p.add_argument("--work-dir", type=Path, default=None,
                   help="default: a temporary directory, removed unless the run fails")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args(argv)
    a.stores = [s.strip() for s in a.stores.split(",") if s.strip()]
    a.modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    given, a.replicas = a.replicas, {}
    for item in filter(None, (i.strip() for i in given.split(","))):
        service, _, count = item.partition("=")
        if service not in SERVICES or service == "intake" or not count.isdigit() \
                or int(count) < 1:
            p.error(f"--replicas {item!r}: SERVICE=N for routing, sla or notify (intake's "
                    "customers would need a load balancer in front of its replicas)")
        a.replicas[service] = int(count)
    for s in a.stores:
        if s not in ("sqlite", "postgres"):
            p.error(f"unknown store {s!r}")
    for m in a.modes:
        if m not in ("saturating", "open"):
            p.error(f"unknown mode {m!r}")
    return a


def replicas_text(replicas: Mapping[str, int]) -> str:
    more = [f"{n} replicas of {s}" for s, n in sorted(replicas.items()) if n > 1]
    return ("one replica of every other service, " if more else "one replica per service") \
        + ", ".join(more)


async def main(a: argparse.Namespace) -> int:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    work = a.work_dir or Path(tempfile.mkdtemp(prefix="hotro-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(OUT_DIR / f"profile-{stamp}", a.profile_format) if a.profile else None
    load = load_average()
    say(f"e2e bench {stamp}: stores {','.join(a.stores)}, modes {','.join(a.modes)}, "
        f"{a.complaints} complaints per mode, concurrency {a.concurrency}, partitions "
        f"{a.partitions}, {replicas_text(a.replicas)}; ceiling {a.ceiling_items} items, "
        f"{a.ceiling_tx} transactions; load average {load}; {os.cpu_count()} CPUs")
    results: list[StoreResult] = []
    failed = False
    try:
        for kind in a.stores:
            results.append(await bench_store(kind, a, work, profiler))
    except BenchFailure as exc:
        say(f"\nFAILED: {exc}")
        failed = True
    rows = table_rows(results)
    meta = (f"Run {stamp} on {platform.node()} ({os.cpu_count()} CPUs), load average "
            f"before {load}, after {load_average()}; {a.complaints} complaints per mode, "
            f"concurrency {a.concurrency}, {replicas_text(a.replicas)}, ceiling "
            f"{a.ceiling_items} items with one "
            f"transaction per {a.ceiling_tx}, idle {a.idle:.0f} s."
            + (f" **{a.note}**" if a.note else ""))
    block = "\n".join([meta, "", markdown_table(rows), "", *details(results, a)])
    say("")
    say(block)
    for r in results:
        if r.failures:
            failed = True
            say(f"\nFAILED [{r.kind}]: {len(r.failures)} problems; first ones:")
            for f in r.failures[:10]:
                say(f"  - {f}")
    if profiler is not None and profiler.written:
        say(f"\nprofiles ({a.profile_format}) in {profiler.out_dir}:")
        for out in profiler.written:
            say(f"  {out}")
        say("  (figures taken while profiling are perturbed by py-spy)")
    if not failed and not a.no_docs and rows:
        write_docs(a.docs, block)
        say(f"\ntable written to {a.docs}")
    if failed or a.keep:
        say(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def entry(argv: Iterable[str]) -> int:
    args = list(argv)
    if args and args[0] == "_hop":
        return hop_main(args[1:])
    return asyncio.run(main(parse_args(args)))


if __name__ == "__main__":
    sys.exit(entry(sys.argv[1:]))
