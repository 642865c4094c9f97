"""`hotro up`: the whole system on one machine, from a fresh checkout.

nats-server from the wheel (JetStream, data under var/nats; it requires authentication:
one generated user per service and the operator, ``hotro.local_nats``) — or three of them
as one JetStream cluster with ``--cluster`` — provisioning, the four services as separate
processes (one SQLite file each), and one HTTP address in front.

It supervises everything it started: a service or a nats-server that dies is restarted
(exponential backoff, capped; the console says so), a nats-server on the same port and
store, so the services — which reconnect forever — carry on. The HTTP ports are bound here
and the listening sockets handed to the children (``hotro serve --fd``): no
check-then-bind race, and a restarted child gets the same port. nats-server and intake's
SMTP listener bind their own ports: a lock file per port (in the temp directory) keeps two
``hotro up`` on one machine from choosing the same one, and a nats-server that still finds
its port taken is started on another. Readiness compares each service's instance id on
``/readyz`` with the one given to the process, so a foreign service answering on a port is
never taken for ours. One ``hotro up`` per data directory: an exclusive lock
(``<data dir>/hotro-up.lock``) is held for the run, by the children too. A taken default
port is reported and replaced by a free one; we never attach to a NATS server we did not
start unless HOTRO_NATS_URL says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from hotro import local_nats, system_record
from hotro.natsbin import (
    ExitedEarly,
    NatsServerProcess,
    free_port,
    port_is_free,
    supervised_child,
    terminate,
    wait_jetstream,
)
from hotro.provisioning import provision_all
from hotro.serve import SERVICES
from hotro.settings import ToolSettings
from hotro.shared.messaging.credentials import NatsCredentials
from hotro.shared.privacy.secrets import ENV_VAR as PII_SECRET_VAR
from hotro.shared.privacy.secrets import ensure_secret_file
from hotro.shared.staff.users import read_demo_credentials

CONSOLE = "console"
DEFAULT_PORTS = {"gateway": 8080, "nats": 4222, "intake": 8101, "routing": 8102, "sla": 8103,
                 CONSOLE: 8105,
                 "notify": 8104, "smtp": 2525}
LOCK_FILE = "hotro-up.lock"
#: what is running, for operators and tests: ports, pids, instance ids (rewritten on change)
STATE_FILE = "hotro-up.json"
#: restart delays: 0.5 s, 1 s, 2 s … up to 30 s; a child that ran STABLE_AFTER_S starts over
BACKOFF_START_S = 0.5
BACKOFF_CAP_S = 30.0
STABLE_AFTER_S = 30.0
INSTANCE_VAR = "HOTRO_INSTANCE_ID"

Say = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


# ---- one `hotro up` per data directory --------------------------------------------------

class AlreadyRunning(RuntimeError):
    pass


class DataDirLock:
    """An exclusive ``flock`` on ``<data dir>/hotro-up.lock``, held for the run. The
    children inherit the descriptor, so the lock also lasts as long as anything this run
    started (a nats-server must never get a second owner of its store)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise AlreadyRunning(
                f"another `hotro up` (pid {holder}) — or a process it started — is running "
                f"on the data directory {self.path.parent.resolve()}. Stop it first "
                f"(Ctrl-C in its terminal), or use another --data-dir.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# ---- ports ------------------------------------------------------------------------------

def listen_socket(name: str, wanted: int, say: list[str], host: str = "127.0.0.1"
                  ) -> socket.socket:
    """A listening socket on ``wanted`` (else on a free port, reported): bound here and
    handed to the child, so nobody can take the port between the choice and the use."""
    for port in ((wanted, 0) if wanted else (0,)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1024)  # SO_REUSEADDR lets two bind before either listens
        except OSError:
            sock.close()
            continue
        if port != wanted:
            say.append(f"  ! port {wanted} ({name}) is taken on this machine; using "
                       f"{sock.getsockname()[1]} instead")
        return sock
    raise OSError(f"no port to listen on for {name}")


def _port_lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "hotro-ports"
    path.mkdir(mode=0o1777, exist_ok=True)
    return path


@dataclass
class PortReservation:
    """A port for a server that binds it itself (nats-server, intake's SMTP listener):
    a lock file per port keeps every other ``hotro up`` on this machine off it."""

    name: str
    port: int
    fd: int | None = None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def reserve_port(name: str, wanted: int, say: list[str]) -> PortReservation:
    for attempt in range(50):
        port = wanted if attempt == 0 and wanted else free_port()
        lock = _port_lock_dir() / f"{port}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if not port_is_free(port):
            os.close(fd)
            continue
        if wanted and port != wanted:
            say.append(f"  ! port {wanted} ({name}) is taken on this machine; using {port} "
                       "instead")
        return PortReservation(name, port, fd)
    raise OSError(f"no free port for {name}")


# ---- children ---------------------------------------------------------------------------

def backoff_delay(failures: int) -> float:
    """Delay before restart number ``failures`` of a run of quick failures."""
    return float(min(BACKOFF_START_S * 2 ** max(failures - 1, 0), BACKOFF_CAP_S))


def describe_exit(code: int | None) -> str:
    if code is None:
        return "?"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


async def wait_exit(proc: subprocess.Popen[bytes]) -> int:
    """Until the process exits — woken by the kernel (pidfd), not by polling."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # pragma: no cover - not Linux ≥ 5.3
        while proc.poll() is None:
            await asyncio.sleep(0.5)
        return proc.returncode
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return proc.wait()


@dataclass
class Child:
    service: str
    sock: socket.socket
    env: dict[str, str]
    log_path: Path
    #: descriptors the child inherits besides its socket (the data-dir lock)
    inherit: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    #: given to each process in HOTRO_INSTANCE_ID; its /readyz must show it
    instance: str = ""
    restarts: int = 0
    failures: int = 0
    started_at: float = 0.0
    #: this process answered ready (``wait_ready``); False again from each (re)start
    ready: bool = False

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def down(self) -> bool:
        """Exited, or restarted and not ready yet: its socket only queues connections."""
        proc = self.proc
        return proc is None or proc.poll() is not None or not self.ready

    def start(self) -> None:
        self.ready = False
        self.instance = secrets.token_hex(8)
        fd = self.sock.fileno()
        env = {**self.env, INSTANCE_VAR: self.instance}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hotro.cli", "serve", self.service, "--fd", str(fd)],
                env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(fd, *self.inherit),
                **supervised_child())
        self.started_at = time.monotonic()

    def stop(self) -> None:
        terminate(self.proc)

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class System:
    data_dir: Path
    gateway_sock: socket.socket | None = None
    nats_url: str = ""
    #: the nats-servers we started (one, or the cluster's three; none: an external NATS)
    nats_nodes: list[NatsServerProcess] = field(default_factory=list)
    cluster: bool = False
    #: the operator's credentials for the NATS we started (None: an external NATS)
    nats_operator: NatsCredentials | None = None
    children: dict[str, Child] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    reservations: list[PortReservation] = field(default_factory=list)
    inherit: tuple[int, ...] = ()
    smtp_port: int = 0

    @property
    def gateway_port(self) -> int:
        return int(self.gateway_sock.getsockname()[1]) if self.gateway_sock else 0

    @property
    def nats(self) -> NatsServerProcess | None:
        return self.nats_nodes[0] if self.nats_nodes else None

    def unavailable(self, service: str) -> bool:
        """For the gateway: is this service's process known to be down right now?"""
        child = self.children.get(service)
        return child is not None and child.down

    def state(self) -> dict[str, object]:
        return {
            "pid": os.getpid(),
            "gateway": f"http://127.0.0.1:{self.gateway_port}",
            "nats_url": self.nats_url,
            "nats": [{"name": n.server_name or "nats", "port": n.port, "pid": n.pid,
                      "store": str(n.store_dir.resolve())} for n in self.nats_nodes],
            "smtp_port": self.smtp_port,
            "services": {s: {"port": c.port, "pid": c.proc.pid if c.proc else None,
                             "instance": c.instance, "restarts": c.restarts}
                         for s, c in self.children.items()},
        }

    def write_state(self) -> None:
        path = self.data_dir / STATE_FILE
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(self.state(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


def base_env(system: System, service: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(INSTANCE_VAR, None)
    env.update({
        "HOTRO_NATS_URL": system.nats_url,
        "HOTRO_HTTP_HOST": "127.0.0.1",
        "HOTRO_HTTP_PORT": str(port),
        "HOTRO_DATA_DIR": str(system.data_dir),
        "PYTHONUNBUFFERED": "1",
    })
    if system.nats_nodes:  # ours requires authentication: the service's own user
        env.pop("HOTRO_NATS_USER", None)
        env.pop("HOTRO_NATS_PASSWORD_FILE", None)
        creds = local_nats.credentials(system.data_dir, service)
        env["HOTRO_NATS_USER"] = creds.user or service
        env["HOTRO_NATS_PASSWORD_FILE"] = creds.password_file or ""
    pg = ToolSettings().postgres_url
    if pg:
        sep = "&" if "?" in pg else "?"
        env["HOTRO_STORE_URL"] = f"{pg}{sep}schema=hotro_{service}"
    else:
        env["HOTRO_STORE_URL"] = f"sqlite:///{(system.data_dir / f'{service}.sqlite').resolve()}"
    return env


def demo_tokens(data_dir: Path) -> dict[str, str]:
    """One demo user per role for the local run; kept across runs (same tokens)."""
    import tomllib

    from hotro.shared.staff.users import write_demo_users

    path = data_dir / "staff-users.toml"
    if path.exists():
        users = tomllib.loads(path.read_text(encoding="utf-8"))["users"]
        return {u["role"]: u["token"] for u in users}
    return write_demo_users(path)


def signing_keys(data_dir: Path) -> dict[str, str]:
    """The staff-assertion and customer-link keyrings of the local run (0600 files, made
    once and kept), as the environment every service gets."""
    from datetime import UTC, datetime

    from hotro.shared.staff import assertions, capabilities
    from hotro.shared.staff.signing import ensure_keys

    now = datetime.now(UTC)
    auth = data_dir / "auth-keys.toml"
    links = data_dir / "capability-keys.toml"
    ensure_keys(auth, assertions.PURPOSE, now)
    ensure_keys(links, capabilities.PURPOSE, now)
    return {"HOTRO_AUTH_KEYS_FILE": str(auth.resolve()),
            "HOTRO_CAPABILITY_KEYS_FILE": str(links.resolve())}


async def readyz(client: httpx.AsyncClient, port: int) -> dict[str, object] | None:
    """The service's /readyz body when it answers 200, else None."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        r = await client.get(f"http://127.0.0.1:{port}/readyz")
        if r.status_code == 200:
            body = r.json()
            return body if isinstance(body, dict) else None
    return None


async def wait_ready(child: Child, timeout: float = 90.0) -> float:
    """Until the process we started answers ready on its port — its own instance id, not
    whoever else might answer there. Fails at once if it exits. Returns the seconds."""
    started = time.monotonic()
    deadline = started + timeout
    foreign: object = None
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            proc = child.proc
            if proc is None or proc.poll() is not None:
                raise RuntimeError(
                    f"{child.service} exited with "
                    f"{describe_exit(proc.returncode if proc else None)} while starting; "
                    f"its log ({child.log_path}):\n{child.log_tail()}")
            body = await readyz(client, child.port)
            if body is not None:
                if body.get("instance") == child.instance:
                    child.ready = True
                    return time.monotonic() - started
                foreign = body.get("instance")
            await asyncio.sleep(0.2)
    if foreign is not None:
        raise RuntimeError(f"port {child.port} answers for another {child.service} process "
                           f"(instance {foreign}, ours is {child.instance})")
    raise TimeoutError(f"{child.service} on port {child.port} not ready after {timeout}s; "
                       f"its log ({child.log_path}):\n{child.log_tail()}")


async def _start_nats(system: System, tools: ToolSettings, cluster: bool) -> None:
    data_dir = system.data_dir
    if cluster:
        nodes = local_nats.local_cluster(data_dir, tools.partitions, pass_fds=system.inherit,
                                         supervised=True)
        system.cluster = True
        system.nats_nodes = list(nodes.nodes)
        nodes.start()
        system.nats_url = nodes.url
        system.nats_operator = local_nats.operator_credentials(data_dir)
        await wait_jetstream(nodes.urls, credentials=system.nats_operator, replicas=3)
        return
    wanted = tools.nats_port
    for attempt in range(3):
        reservation = reserve_port("nats", wanted if attempt == 0 else 0, system.notes)
        server = local_nats.local_server(data_dir, reservation.port, tools.partitions,
                                         log_file=data_dir / "logs" / "nats-server.log",
                                         pass_fds=system.inherit, supervised=True)
        system.nats_nodes = [server]
        try:
            await server.start_async()
        except ExitedEarly:  # taken by a process that is not a `hotro up` meanwhile
            reservation.release()
            server.stop()
            if attempt == 2:
                raise
            system.notes.append(f"  ! nats-server could not listen on {reservation.port}; "
                                "trying another port")
            continue
        system.reservations.append(reservation)
        break
    system.nats_url = system.nats_nodes[0].url
    system.nats_operator = local_nats.operator_credentials(data_dir)


async def start_system(data_dir: Path, *, extra_env: dict[str, str] | None = None,
                       cluster: bool = False, lock: DataDirLock | None = None) -> System:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    system = System(data_dir=data_dir,
                    inherit=(lock.fd,) if lock is not None and lock.fd is not None else ())
    try:
        await _start_system(system, extra_env, cluster)
    except BaseException:
        stop_system(system)
        raise
    return system


async def _start_system(system: System, extra_env: dict[str, str] | None,
                        cluster: bool) -> None:
    data_dir = system.data_dir
    tools = ToolSettings()
    external = tools.nats_url
    if external:
        system.nats_url = external
        system.notes.append(f"  using external NATS {external} (HOTRO_NATS_URL)")
    else:
        await _start_nats(system, tools, cluster)
    # where this system's NATS runs, for the operators' tools (hotro audit, export, erase…)
    system_record.write_running(data_dir, system.nats_url, external=not system.nats_nodes)
    system.tokens = demo_tokens(data_dir)
    # bound before the services start: it is the base of the customers' case links
    system.gateway_sock = listen_socket("gateway", tools.gateway_port, system.notes)
    signing_env = signing_keys(data_dir)
    await provision_all(system.nats_url, partitions=tools.partitions,
                        lease_ttl_s=tools.lease_ttl_s, replicas=3 if system.cluster else 1,
                        credentials=system.nats_operator or
                        tools.nats_credentials(system.nats_url, data_dir))
    for service in SERVICES:
        sock = listen_socket(service, DEFAULT_PORTS[service], system.notes)
        port = int(sock.getsockname()[1])
        env = base_env(system, service, port)
        if service == "intake":
            # the keyed-hash secret of the phone/email indexes: kept in the data dir
            env.setdefault(PII_SECRET_VAR, ensure_secret_file(data_dir))
            smtp = reserve_port("smtp", tools.smtp_listen_port, system.notes)
            system.reservations.append(smtp)
            system.smtp_port = smtp.port
            env["HOTRO_SMTP_LISTEN_PORT"] = str(smtp.port)
        # one staff directory for every service's API (routing, intake, notify)
        env.setdefault("HOTRO_USERS_FILE", str(data_dir / "staff-users.toml"))
        env.update(signing_env)
        env.setdefault("HOTRO_PUBLIC_BASE_URL", f"http://127.0.0.1:{system.gateway_port}")
        env.update(extra_env or {})
        child = Child(service, sock, env, data_dir / "logs" / f"{service}.log",
                      inherit=system.inherit)
        system.children[service] = child
        child.start()
    _start_console(system, signing_env, extra_env)
    await asyncio.gather(*(wait_ready(c) for c in system.children.values()))
    system.write_state()


def _start_console(system: System, signing_env: dict[str, str],
                   extra_env: dict[str, str] | None) -> None:
    """The web console (the gateway's pages): it reaches the services over HTTP with the
    signed-in person's rights and keeps its sessions in NATS (user ``console``)."""
    sock = listen_socket(CONSOLE, DEFAULT_PORTS[CONSOLE], system.notes)
    env = base_env(system, CONSOLE, int(sock.getsockname()[1]))
    env.pop("HOTRO_STORE_URL", None)  # the console has no store
    env.update({f"HOTRO_{s.upper()}_URL": f"http://127.0.0.1:{system.children[s].port}"
                for s in SERVICES})
    env.setdefault("HOTRO_USERS_FILE", str(system.data_dir / "staff-users.toml"))
    env["HOTRO_AUTH_KEYS_FILE"] = signing_env["HOTRO_AUTH_KEYS_FILE"]
    env.setdefault("HOTRO_PUBLIC_BASE_URL", f"http://127.0.0.1:{system.gateway_port}")
    env.update(extra_env or {})
    child = Child(CONSOLE, sock, env, system.data_dir / "logs" / f"{CONSOLE}.log",
                  inherit=system.inherit)
    system.children[CONSOLE] = child
    child.start()


def stop_system(system: System) -> None:
    """Services first (each finishes what it holds while NATS is still there), then NATS."""
    for child in system.children.values():
        if child.proc is not None and child.proc.poll() is None:
            child.proc.terminate()
    for child in system.children.values():
        child.stop()
    for node in system.nats_nodes:
        node.stop()
    system_record.mark_stopped(system.data_dir)
    for child in system.children.values():
        child.sock.close()
    if system.gateway_sock is not None:
        system.gateway_sock.close()
    for reservation in system.reservations:
        reservation.release()
    with contextlib.suppress(OSError):
        (system.data_dir / STATE_FILE).unlink()


# ---- supervision ------------------------------------------------------------------------

class Supervisor:
    """Restarts whatever dies, with backoff, and says so on the console."""

    def __init__(self, system: System, stop: asyncio.Event, say: Say = _print) -> None:
        self.system = system
        self.stop = stop
        self.say = say
        self._reports: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        watchers = [asyncio.create_task(self._watch_child(c))
                    for c in self.system.children.values()]
        watchers += [asyncio.create_task(self._watch_nats(n)) for n in self.system.nats_nodes]
        try:
            await self.stop.wait()
        finally:
            for task in [*watchers, *self._reports]:
                task.cancel()
            await asyncio.gather(*watchers, *self._reports, return_exceptions=True)

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        return self.stop.is_set()

    def _report(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _watch_child(self, child: Child) -> None:
        while not self.stop.is_set():
            assert child.proc is not None
            code = await wait_exit(child.proc)
            died = time.monotonic()
            if self.stop.is_set():
                return
            ran = died - child.started_at
            child.failures = 1 if ran >= STABLE_AFTER_S else child.failures + 1
            delay = backoff_delay(child.failures)
            self.say(f"  ! {child.service} (pid {child.proc.pid}) exited with "
                     f"{describe_exit(code)} after {ran:.1f}s; restarting in {delay:.1f}s "
                     f"(restart #{child.restarts + 1})")
            if await self._stopped_within(delay):
                return
            child.restarts += 1
            child.start()
            self.system.write_state()
            self._report(self._report_ready(child, died))

    async def _report_ready(self, child: Child, died: float) -> None:
        try:
            await wait_ready(child, timeout=120)
        except (RuntimeError, TimeoutError) as exc:
            if not self.stop.is_set() and child.proc is not None and child.proc.poll() is None:
                self.say(f"  ! {child.service} is not ready after its restart: {exc}")
            return
        self.say(f"  ✓ {child.service} is ready again (pid {child.proc.pid if child.proc else '?'}"
                 f", {time.monotonic() - died:.1f}s after it exited)")

    async def _watch_nats(self, node: NatsServerProcess) -> None:
        name = f"nats-server {node.server_name}" if node.server_name else "nats-server"
        failures = 0
        started_at = time.monotonic()
        while not self.stop.is_set():
            assert node.proc is not None
            code: int | None = await wait_exit(node.proc)
            died = time.monotonic()
            if self.stop.is_set():
                return
            failures = 1 if died - started_at >= STABLE_AFTER_S else failures + 1
            while not self.stop.is_set():
                delay = backoff_delay(failures)
                self.say(f"  ! {name} (port {node.port}) exited with {describe_exit(code)}; "
                         f"restarting on the same port and store in {delay:.1f}s")
                if await self._stopped_within(delay):
                    return
                try:
                    await node.start_async()
                except (ExitedEarly, TimeoutError, OSError) as exc:
                    code = node.proc.poll() if node.proc else None
                    node.stop()
                    failures += 1
                    self.say(f"  ! {name} did not come back: {str(exc).splitlines()[0]}")
                    continue
                break
            started_at = time.monotonic()
            self.system.write_state()
            self.say(f"  ✓ {name} is back on port {node.port} "
                     f"({started_at - died:.1f}s after it exited); the services reconnect")
            self._report(self._report_services_ready(died))

    async def _report_services_ready(self, since: float) -> None:
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                bodies = await asyncio.gather(*(readyz(client, c.port)
                                                for c in self.system.children.values()))
                if all(bodies):
                    self.say(f"  ✓ every service is ready again "
                             f"({time.monotonic() - since:.1f}s after NATS went away)")
                    return
                await asyncio.sleep(0.25)
        self.say("  ! services still not ready 120s after NATS came back: see the logs")


async def supervise(system: System, stop: asyncio.Event, say: Say = _print) -> None:
    """Restart a service or a nats-server that died (a kill, a crash, a NATS connection
    closed for good) until ``stop`` is set."""
    await Supervisor(system, stop, say).run()


# ---- the console ------------------------------------------------------------------------

def banner(system: System) -> str:
    d = system.data_dir.resolve()
    nats_what = "three-node JetStream cluster, R3 streams" if system.cluster else ""
    lines = [
        "",
        "Hotro is running.",
        f"  Open:      http://127.0.0.1:{system.gateway_port}/   (API docs per service: "
        f"/services/<name>/docs)",
        f"  NATS:      {system.nats_url}" + (f"   ({nats_what})" if nats_what else "") + (
            f"   (authenticated: user per service; operator `provision`, password in "
            f"{local_nats.password_file(d, local_nats.OPERATOR)})"
            if system.nats_operator else ""),
        f"  Logs:      {d / 'logs'}",
        f"  Stores:    {d}/<service>.sqlite",
        f"  Mail out:  {d / 'mail'} (Maildir: every message the system sent)",
        f"  Letters:   {d / 'letters'}",
    ]
    smtp = system.children["intake"].env.get("HOTRO_SMTP_LISTEN_PORT")
    if smtp:
        lines.append(f"  Mail in:   smtp://127.0.0.1:{smtp} (forward contact@vhv.vn here)")
    lines.append(f"  Processes: {d / STATE_FILE} (ports, pids, instance ids); whatever dies "
                 f"is restarted")
    demo = read_demo_credentials(d / "staff-users.toml")
    if demo:
        lines.append("  Demo staff (sign in with id and password; API: Authorization: Bearer "
                     "<token>):")
        lines += [f"    {c.role.value:<11} {c.user_id:<16} password {c.password}   token "
                  f"{c.token}" for c in demo]
        lines.append(f"    (from {d / 'staff-users.toml'})")
    elif system.tokens:
        lines.append("  Demo staff tokens (Authorization: Bearer <token>):")
        lines += [f"    {role:<11} {token}" for role, token in system.tokens.items()]
        lines.append(f"    (from {d / 'staff-users.toml'})")
    lines += system.notes
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(lines)


class _GatewayServer(uvicorn.Server):
    """The gateway inside `hotro up`: the supervisor owns SIGINT/SIGTERM (uvicorn would
    take them over, stop only the gateway and leave the services running)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def gateway_server(app: ASGIApp) -> uvicorn.Server:
    """The in-process gateway's server. The gateway is the edge: like `hotro gateway`, it
    never takes a client's X-Forwarded-For as the client's address (proxy_headers off)."""
    return _GatewayServer(uvicorn.Config(app, log_level="warning", access_log=False,
                                         proxy_headers=False))


async def run_up(data_dir: Path, *, cluster: bool = False) -> int:
    from hotro.gateway import build_gateway

    lock = DataDirLock(data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"hotro up: {exc}", file=sys.stderr, flush=True)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        start = asyncio.ensure_future(start_system(data_dir, cluster=cluster, lock=lock))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({start, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not start.done():  # Ctrl-C while starting: start_system stops what it started
            start.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await start
            return 130
        stopping.cancel()
        system = start.result()
        try:
            tools = ToolSettings()
            upstreams = {s: f"http://127.0.0.1:{c.port}" for s, c in system.children.items()}
            gateway_app = build_gateway(upstreams, tools.gateway_limits(),
                                        unavailable=system.unavailable)
            server = gateway_server(gateway_app)
            assert system.gateway_sock is not None
            gateway = asyncio.create_task(server.serve(sockets=[system.gateway_sock]))

            def gateway_ended(task: asyncio.Task[None]) -> None:
                if not stop.is_set():  # the gateway is in this process: stop everything
                    failure = None if task.cancelled() else task.exception()
                    print(f"  ! the gateway stopped ({failure!r}); stopping everything",
                          file=sys.stderr, flush=True)
                    stop.set()

            gateway.add_done_callback(gateway_ended)
            print(banner(system), flush=True)
            await supervise(system, stop)
            server.should_exit = True
            await gateway
        finally:
            print("Stopping…", flush=True)
            stop_system(system)
    finally:
        lock.release()
    return 0
