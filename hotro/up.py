"""`hotro up`: the whole system on one machine, from a fresh checkout.

nats-server from the wheel (JetStream, data under var/nats; it requires authentication:
one generated user per service and the operator, ``hotro.local_nats``), provisioning, the
four services as separate processes (one SQLite file each), and one HTTP address in front.
A taken default port is reported and replaced by a free one; we never attach to a
NATS server we did not start unless HOTRO_NATS_URL says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from hotro import local_nats
from hotro.natsbin import NatsServerProcess, free_port, port_is_free, terminate
from hotro.provisioning import provision_all
from hotro.serve import SERVICES
from hotro.settings import ToolSettings
from hotro.shared.messaging.credentials import NatsCredentials
from hotro.shared.privacy.secrets import ENV_VAR as PII_SECRET_VAR
from hotro.shared.privacy.secrets import ensure_secret_file
from hotro.shared.staff.users import read_demo_credentials

DEFAULT_PORTS = {"gateway": 8080, "nats": 4222, "intake": 8101, "routing": 8102, "sla": 8103,
                 "notify": 8104, "smtp": 2525}


def pick_port(name: str, wanted: int, say: list[str]) -> int:
    if port_is_free(wanted):
        return wanted
    port = free_port()
    say.append(f"  ! port {wanted} ({name}) is taken on this machine; using {port} instead")
    return port


@dataclass
class Child:
    service: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotro.cli", "serve", self.service, "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        self.started_at = time.monotonic()

    def stop(self) -> None:
        terminate(self.proc)


@dataclass
class System:
    data_dir: Path
    gateway_port: int = 0
    nats_url: str = ""
    nats: NatsServerProcess | None = None
    #: the operator's credentials for the NATS we started (None: an external NATS)
    nats_operator: NatsCredentials | None = None
    children: dict[str, Child] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)


def base_env(system: System, service: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HOTRO_NATS_URL": system.nats_url,
        "HOTRO_HTTP_HOST": "127.0.0.1",
        "HOTRO_HTTP_PORT": str(port),
        "HOTRO_DATA_DIR": str(system.data_dir),
        "PYTHONUNBUFFERED": "1",
    })
    if system.nats is not None:  # ours requires authentication: the service's own user
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


async def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                r = await client.get(f"http://127.0.0.1:{port}/readyz")
                if r.status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"service on port {port} not ready after {timeout}s")


async def start_system(data_dir: Path, *, extra_env: dict[str, str] | None = None) -> System:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    system = System(data_dir=data_dir)
    tools = ToolSettings()
    external = tools.nats_url
    if external:
        system.nats_url = external
        system.notes.append(f"  using external NATS {external} (HOTRO_NATS_URL)")
    else:
        port = pick_port("nats", tools.nats_port, system.notes)
        system.nats = local_nats.local_server(data_dir, port, tools.partitions,
                                              log_file=data_dir / "logs" / "nats-server.log")
        system.nats.start()
        system.nats_url = system.nats.url
        system.nats_operator = local_nats.operator_credentials(data_dir)
    system.tokens = demo_tokens(data_dir)
    # chosen before the services start: it is the base of the customers' case links
    system.gateway_port = pick_port("gateway", tools.gateway_port, system.notes)
    signing_env = signing_keys(data_dir)
    await provision_all(system.nats_url, partitions=tools.partitions,
                        lease_ttl_s=tools.lease_ttl_s,
                        credentials=system.nats_operator or
                        tools.nats_credentials(system.nats_url, data_dir))
    for service in SERVICES:
        port = pick_port(service, DEFAULT_PORTS[service], system.notes)
        env = base_env(system, service, port)
        if service == "intake":
            # the keyed-hash secret of the phone/email indexes: kept in the data dir
            env.setdefault(PII_SECRET_VAR, ensure_secret_file(data_dir))
            smtp = pick_port("smtp", tools.smtp_listen_port, system.notes)
            env["HOTRO_SMTP_LISTEN_PORT"] = str(smtp)
        # one staff directory for every service's API (routing, intake, notify)
        env.setdefault("HOTRO_USERS_FILE", str(data_dir / "staff-users.toml"))
        env.update(signing_env)
        env.setdefault("HOTRO_PUBLIC_BASE_URL", f"http://127.0.0.1:{system.gateway_port}")
        env.update(extra_env or {})
        child = Child(service, port, env, data_dir / "logs" / f"{service}.log")
        child.start()
        system.children[service] = child
    await asyncio.gather(*(wait_ready(c.port) for c in system.children.values()))
    return system


def stop_system(system: System) -> None:
    for child in system.children.values():
        child.stop()
    if system.nats is not None:
        system.nats.stop()


async def supervise(system: System, stop: asyncio.Event) -> None:
    """Restart a service that died (e.g. its NATS connection closed for good)."""
    while not stop.is_set():
        for child in system.children.values():
            if child.proc is not None and child.proc.poll() is not None and not stop.is_set():
                child.restarts += 1
                print(f"  ! {child.service} exited with {child.proc.returncode}; restarting",
                      flush=True)
                child.start()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


def banner(system: System) -> str:
    d = system.data_dir.resolve()
    lines = [
        "",
        "Hotro is running.",
        f"  Open:      http://127.0.0.1:{system.gateway_port}/   (API docs per service: "
        f"/services/<name>/docs)",
        f"  NATS:      {system.nats_url}" + (
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


async def run_up(data_dir: Path) -> int:
    from hotro.gateway import build_gateway

    system = await start_system(data_dir)
    try:
        tools = ToolSettings()
        upstreams = {s: f"http://127.0.0.1:{c.port}" for s, c in system.children.items()}
        gateway_app = build_gateway(upstreams, tools.gateway_limits())
        server = _GatewayServer(uvicorn.Config(gateway_app, host="127.0.0.1",
                                               port=system.gateway_port, log_level="warning",
                                               access_log=False))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        gateway = asyncio.create_task(server.serve())
        print(banner(system), flush=True)
        await supervise(system, stop)
        server.should_exit = True
        await gateway
    finally:
        print("Stopping…", flush=True)
        stop_system(system)
    return 0
