"""The system under chaos: real processes only — nats-server (one, or a three-node
cluster), the four services as `hotro serve` processes (two replicas each on PostgreSQL,
one on SQLite: one writer per file), an SMTP sink standing in for the company's mail
relay — each of which the fault schedule can kill, stop, or starve."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from hotro.natsbin import NatsCluster, NatsServerProcess, free_port
from tests.chaos.netproxy import DelayProxy
from tests.support.postgres import PG_BASE
from tests.support.processes import ServiceProcess
from tests.support.stores import open_service_store

SERVICES = ("intake", "routing", "sla", "notify")
PARTITIONS = 4
LEASE_TTL_S = 2.0
#: a consumer stopped longer than this gets its in-flight message redelivered
ACK_WAIT_S = 3.0
#: production's delivery budget (8 deliveries, backoff up to 20 s): a store outage of
#: about half a minute NAKs and retries rather than dead-lettering
MAX_DELIVER = 8


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class ChaosConfig:
    """The run's size and faults. Defaults are the bounded run of the default test suite
    (a few minutes); the long run is given by HOTRO_CHAOS_* variables
    (docs/operations.md, "Chaos runs")."""

    complaints: int = 30
    #: new complaints per second (HTTP and SMTP together)
    rate: float = 1.0
    #: share of the complaints that arrive by email (SMTP)
    smtp_share: float = 0.25
    store: str = "postgres"  # postgres | sqlite
    nats: str = "single"  # single | cluster
    fault_every_s: float = 5.0
    #: long run only: restart PostgreSQL itself, fill the NATS store's disk
    long: bool = False
    seed: int = 0
    #: how long the system may take to finish every complaint after the last fault
    drain_timeout_s: float = 240.0

    @property
    def replicas(self) -> int:
        return 2 if self.store == "postgres" else 1

    @classmethod
    def from_env(cls, **overrides: Any) -> ChaosConfig:
        values: dict[str, Any] = {
            "complaints": env_int("HOTRO_CHAOS_COMPLAINTS", cls.complaints),
            "rate": env_float("HOTRO_CHAOS_RATE", cls.rate),
            "smtp_share": env_float("HOTRO_CHAOS_SMTP_SHARE", cls.smtp_share),
            "store": os.environ.get("HOTRO_CHAOS_STORE", cls.store),
            "nats": os.environ.get("HOTRO_CHAOS_NATS", cls.nats),
            "fault_every_s": env_float("HOTRO_CHAOS_FAULT_EVERY_S", cls.fault_every_s),
            "long": os.environ.get("HOTRO_CHAOS_LONG", "") in ("1", "true", "yes"),
            "seed": env_int("HOTRO_CHAOS_SEED", int(time.time())),
            "drain_timeout_s": env_float("HOTRO_CHAOS_DRAIN_TIMEOUT_S", cls.drain_timeout_s),
        }
        values.update(overrides)
        return cls(**values)


#: what the NATS store holds per complaint (stream, seals, KV): 17 KiB measured at the end
#: of the 10,000-complaint PostgreSQL run (167 MiB)
NATS_KIB_PER_COMPLAINT = 18
#: nats-server without ``max_file_store`` allows JetStream 75% of the disk space free when
#: it starts. The disk-full fault restarts it with the store's data on the disk, so the
#: disk must leave 0.75 × (size − data) ≥ data plus growth, or after a late fault JetStream
#: starts with a limit below what it already holds and refuses every write for good
#: (leases included: every service stopped, seen at 9,300 of 10,000 complaints).
NATS_DISK_PER_DATA = 2.5


# ---- the SMTP sink: counts every message notify hands to "the mail relay" --------------

@dataclass
class Sent:
    at: float
    rcpt: tuple[str, ...]
    message_id: str
    subject: str
    to: str


class CountingSink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[Sent] = []
        #: subjects by recipient: the driver's waits look up one customer's mail (scanning
        #: every mail sent for every waiting complaint made a long run quadratic)
        self._subjects: dict[str, list[str]] = {}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        msg = message_from_bytes(raw, policy=policy.default)
        record = Sent(time.monotonic(), tuple(envelope.rcpt_tos),
                      str(msg.get("Message-ID", "")).strip(), str(msg.get("Subject", "")),
                      str(msg.get("To", "")))
        with self.lock:
            self.sent.append(record)
            for rcpt in record.rcpt:
                self._subjects.setdefault(rcpt, []).append(record.subject)
        return "250 2.0.0 Message accepted"

    def snapshot(self) -> list[Sent]:
        with self.lock:
            return list(self.sent)

    def subjects_to(self, rcpt: str) -> list[str]:
        """The subjects of the mail sent to ``rcpt`` so far, in order."""
        with self.lock:
            return list(self._subjects.get(rcpt, ()))


# ---- PostgreSQL: a database of our own ---------------------------------------------------

def _admin_url() -> str:
    return PG_BASE


class ChaosDatabase:
    """A database per run (dropped at the end): its connections can be cut without
    touching anyone else's."""

    def __init__(self) -> None:
        self.name = f"hotro_chaos_{uuid.uuid4().hex[:10]}"
        base = PG_BASE.rsplit("/", 1)[0]
        self.base = f"{base}/{self.name}"

    def create(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def url(self, service: str) -> str:
        # small pools: 8 processes on a PostgreSQL others share (max_connections 100
        # here) — a long run once took every slot with the default 5 + 5 per process
        return f"{self.base}?schema={service}&pool_size=3&max_overflow=2"

    def cut_connections(self) -> int:
        """Terminate every server process of this database (what a crash or restart of
        PostgreSQL does to the clients). Returns how many."""
        import psycopg

        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,)).fetchall()
        return len(rows)

    def drop(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.name)))


def postgres_cluster_name() -> tuple[str, str] | None:
    """(version, cluster) of the local Debian PostgreSQL, for ``pg_ctlcluster``."""
    if shutil.which("pg_lsclusters") is None:
        return None
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "5432":
            return parts[0], parts[1]
    return None


def restart_postgres(timeout: float = 60.0) -> float:
    """Restart the PostgreSQL server itself (long run only) and wait until it accepts
    connections again. Returns the seconds it was away."""
    import psycopg

    name = postgres_cluster_name()
    if name is None:
        raise RuntimeError("no local Debian PostgreSQL cluster on 5432 (pg_lsclusters)")
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", name[0], name[1],
                    "restart", "-m", "fast"], check=True, capture_output=True)
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(_admin_url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return time.monotonic() - started
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise TimeoutError(f"PostgreSQL not back after {timeout}s")


# ---- a small disk for the NATS store -----------------------------------------------------

class SmallDisk:
    """A size-limited tmpfs for a NATS store (root only); ``fill`` takes its free space
    with a file, ``free`` gives it back."""

    def __init__(self, path: Path, size_mb: int = 64) -> None:
        self.path = path
        self.size_mb = size_mb
        self.mounted = False
        self.filler = path / "filler.bin"

    def mount(self) -> str | None:
        """None when mounted, else why not."""
        self.path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return "not root: cannot mount a size-limited tmpfs"
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m",
                                 "tmpfs", str(self.path)], capture_output=True, text=True)
        if result.returncode != 0:
            return f"mount failed: {result.stderr.strip()}"
        self.mounted = True
        return None

    def fill(self) -> int:
        written = 0
        chunk = b"\0" * (1 << 20)
        with open(self.filler, "ab") as f:
            try:
                while True:
                    f.write(chunk)
                    f.flush()
                    written += len(chunk)
            except OSError:
                pass
        return written

    def free(self) -> None:
        with contextlib.suppress(OSError):
            self.filler.unlink()

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
            self.mounted = False


# ---- the whole system --------------------------------------------------------------------

@dataclass
class Replica:
    service: str
    index: int
    process: ServiceProcess
    #: SIGSTOPped by a fault right now
    stopped: bool = False

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    def alive(self) -> bool:
        proc = self.process.proc
        return proc is not None and proc.poll() is None


@dataclass
class ChaosSystem:
    config: ChaosConfig
    root: Path
    nats: NatsServerProcess | NatsCluster | None = None
    db: ChaosDatabase | None = None
    sink: CountingSink = field(default_factory=CountingSink)
    smtp_controller: Controller | None = None
    smtp_in_port: int = 0
    replicas: list[Replica] = field(default_factory=list)
    disk: SmallDisk | None = None
    notes: list[str] = field(default_factory=list)
    #: the services reach NATS (each node) and PostgreSQL through these, so the fault
    #: schedule can slow or stall the network (``net-delay``)
    proxies: dict[str, list[DelayProxy]] = field(default_factory=dict)

    # -- start / stop --------------------------------------------------------------------

    async def start(self) -> None:
        from hotro.natsbin import wait_jetstream
        from hotro.provisioning import provision_all

        self.root.mkdir(parents=True, exist_ok=True)
        cluster = self.config.nats == "cluster"
        store_root = self.root / "nats"
        if self.config.long:
            # a cluster keeps three copies (R3) on the one disk; the stream keeps every
            # event (a fixed 96 MiB disk filled for good at ~9,000 complaints)
            copy_mb = int((64 + self.config.complaints * NATS_KIB_PER_COMPLAINT // 1024)
                          * NATS_DISK_PER_DATA)
            self.disk = SmallDisk(self.root / "nats-disk",
                                  size_mb=max(96, copy_mb) * (3 if cluster else 1))
            why = self.disk.mount()
            if why is None:
                store_root = self.disk.path
            else:
                self.notes.append(f"disk-full fault skipped: {why}")
                self.disk = None
        if cluster:
            self.nats = NatsCluster(store_root)
            self.nats.start()
            await wait_jetstream(self.nats.urls, replicas=3, timeout=90)
        else:
            self.nats = NatsServerProcess(store_dir=store_root / "store",
                                          log_file=self.root / "nats.log")
            self.nats.start()
        await provision_all(self.nats.url, partitions=PARTITIONS, lease_ttl_s=LEASE_TTL_S,
                            replicas=3 if cluster else 1, max_deliver=MAX_DELIVER,
                            ack_wait_s=ACK_WAIT_S)
        if self.config.store == "postgres":
            self.db = ChaosDatabase()
            self.db.create()
        self._start_proxies()
        self.smtp_controller = Controller(self.sink, hostname="127.0.0.1", port=free_port())
        self.smtp_controller.start()
        self.smtp_in_port = free_port()
        for service in SERVICES:
            for i in range(self.config.replicas):
                self.replicas.append(Replica(service, i, ServiceProcess(
                    service, self.env(service, i), self.root / f"{service}-{i}.log")))
        # The first replica of each service creates its tables; the others start after
        # (two replicas creating one fresh PostgreSQL schema at once race in eventsourcing's
        # create_table — "duplicate key … pg_type_typname_nsp_index" — and one exits).
        for wave in range(self.config.replicas):
            started = [r for r in self.replicas if r.index == wave]
            for r in started:
                r.process.start()
            for r in started:
                r.process.wait_ready(timeout=120)

    def _start_proxies(self) -> None:
        from urllib.parse import urlsplit

        nodes = [urlsplit(n.url) for n in self.nats_nodes()]
        self.proxies["nats"] = [
            DelayProxy(n.hostname or "127.0.0.1", n.port or 4222, name=f"nats:{n.port}").start()
            for n in nodes]
        if self.db is not None:
            pg = urlsplit(self.db.base)
            self.proxies["postgres"] = [DelayProxy(pg.hostname or "127.0.0.1", pg.port or 5432,
                                                   name="postgres").start()]

    def store_url(self, service: str) -> str:
        """Where the service's store is (the checks read it directly)."""
        if self.db is not None:
            return self.db.url(service)
        return f"sqlite:///{self.root / f'{service}.sqlite'}"

    def service_store_url(self, service: str) -> str:
        """The same store as the service reaches it: through the PostgreSQL proxy."""
        url = self.store_url(service)
        proxy = self.proxies.get("postgres")
        if not proxy or self.db is None:
            return url
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        user = f"{netloc[0]}@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{user}{proxy[0].host}:{proxy[0].port}"))

    def service_nats_url(self) -> str:
        """NATS as the services reach it: each node through its proxy. (A cluster's
        clients also learn the nodes' own addresses from the servers and may reconnect
        there directly: the delay then reaches only some of the connections.)"""
        proxies = self.proxies.get("nats")
        if not proxies:
            return self.nats_url()
        return ",".join(f"nats://{p.host}:{p.port}" for p in proxies)

    def env(self, service: str, index: int) -> dict[str, str]:
        assert self.nats is not None and self.smtp_controller is not None
        env = {
            "HOTRO_NATS_URL": self.service_nats_url(),
            "HOTRO_STORE_URL": self.service_store_url(service),
            "HOTRO_PARTITIONS": str(PARTITIONS),
            "HOTRO_LEASE_TTL_S": str(LEASE_TTL_S),
            "HOTRO_DATA_DIR": str(self.root / "data"),
            "HOTRO_REPLICA_ID": f"{service}-{index}",
            "HOTRO_LOG_LEVEL": "INFO",
        }
        if service == "notify":
            env.update({"HOTRO_SMTP_HOST": "127.0.0.1",
                        "HOTRO_SMTP_PORT": str(self.smtp_controller.port),
                        "HOTRO_SMTP_STARTTLS": "false", "HOTRO_SEND_BACKOFF_S": "[0.5, 1, 2]"})
        if service == "intake" and index == 0:
            # one listener per port: the first intake replica takes the mail
            env["HOTRO_SMTP_LISTEN_PORT"] = str(self.smtp_in_port)
            env["HOTRO_SMTP_ACCEPT_RECIPIENTS"] = "vhv.vn"
        return env

    def stop(self) -> None:
        for r in self.replicas:
            if r.stopped and r.process.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(r.process.proc.pid, signal.SIGCONT)
            r.process.stop()
        if self.nats is not None:
            self.nats.stop()
        for group in self.proxies.values():
            for proxy in group:
                proxy.stop()
        if self.smtp_controller is not None:
            with contextlib.suppress(Exception):
                self.smtp_controller.stop()
        keep = os.environ.get("HOTRO_CHAOS_KEEP", "") in ("1", "true")  # to investigate
        if self.disk is not None:
            self.disk.free()
            if keep:
                shutil.copytree(self.disk.path, self.root / "nats-kept", dirs_exist_ok=True)
            self.disk.unmount()
        if self.db is not None and not keep:
            with contextlib.suppress(Exception):
                self.db.drop()
        elif self.db is not None:
            self.notes.append(f"kept database {self.db.name} (drop it when done)")

    # -- who is where --------------------------------------------------------------------

    def of(self, service: str) -> list[Replica]:
        return [r for r in self.replicas if r.service == service]

    def urls(self, service: str) -> list[str]:
        return [r.process.url for r in self.of(service)]

    def nats_url(self) -> str:
        assert self.nats is not None
        return self.nats.url

    def nats_nodes(self) -> list[NatsServerProcess]:
        if isinstance(self.nats, NatsCluster):
            return list(self.nats.nodes)
        return [self.nats] if self.nats is not None else []

    async def all_ready(self, client: httpx.AsyncClient) -> bool:
        for r in self.replicas:
            if not r.alive() or r.stopped:
                return False
            try:
                resp = await client.get(f"{r.process.url}/readyz", timeout=2)
            except httpx.HTTPError:
                return False
            if resp.status_code != 200:
                return False
        return True

    def open_store(self, service: str) -> Any:
        """The service's application over its store (to count its events)."""
        return open_service_store(service, self.store_url(service))


@contextlib.contextmanager
def closing_stores(system: ChaosSystem) -> Iterator[dict[str, Any]]:
    stores = {s: system.open_store(s) for s in SERVICES}
    try:
        yield stores
    finally:
        for app in stores.values():
            with contextlib.suppress(Exception):
                app.close()
