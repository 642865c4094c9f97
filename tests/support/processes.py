"""Service processes for tests: started with `hotro serve`, killed with SIGKILL at will."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hotro.natsbin import free_port, terminate
from tests.support.staff import write_users_file


@dataclass
class ServiceProcess:
    service: str
    env: dict[str, str]
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        if self.port == 0:
            self.port = free_port()
        users = write_users_file(self.log_path.parent / "staff-users.toml")
        env = {**os.environ, "HOTRO_PII_HASH_SECRET": "test-pii-hash-secret",
               "HOTRO_USERS_FILE": str(users), **self.env,
               "HOTRO_HTTP_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotro.cli", "serve", self.service, "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 60.0) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.service} exited with {self.proc.returncode}; "
                                     f"log:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.service} not ready; log:\n{self.log_path.read_text()[-3000:]}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        terminate(self.proc)
