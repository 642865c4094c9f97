"""`hotro up` as a subprocess: started like a newcomer does, its banner and state file
read, stopped with Ctrl-C — and anything it started killed afterwards if it outlived it
(a test that fails half-way must not leave processes behind)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotro.up import STATE_FILE


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTRO_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class HotroUp:
    data_dir: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=clean_env)
    proc: subprocess.Popen[str] | None = None
    banner: str = ""
    #: every line printed after the banner (restarts, recoveries), with its arrival time
    console: list[tuple[float, str]] = field(default_factory=list)
    _pids: set[int] = field(default_factory=set)
    _reader: threading.Thread | None = None

    def spawn(self) -> HotroUp:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotro.cli", "up", "--data-dir", str(self.data_dir),
             *self.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=self.env)
        return self

    def wait_banner(self, timeout: float = 180) -> str:
        """Until "Press Ctrl-C" (it is up); then a thread keeps reading the console."""
        assert self.proc is not None and self.proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                self.banner = "".join(lines)
                self._remember_pids()
                self._reader = threading.Thread(target=self._read_console, daemon=True)
                self._reader.start()
                return self.banner
        self.kill()
        raise AssertionError("hotro up did not come up:\n" + "".join(lines))

    def start(self, timeout: float = 180) -> HotroUp:
        self.spawn()
        self.wait_banner(timeout)
        return self

    def output_until_exit(self, timeout: float = 60) -> tuple[int, str]:
        """For a run expected to end by itself (a refusal)."""
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def _read_console(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.console.append((time.monotonic(), line.rstrip("\n")))

    def console_text(self) -> str:
        return "\n".join(line for _, line in self.console)

    @property
    def base_url(self) -> str:
        found = re.search(r"Open:\s+(http://127\.0\.0\.1:\d+)/", self.banner)
        assert found, self.banner
        return found.group(1)

    def tokens(self) -> dict[str, str]:
        tokens: dict[str, str] = {}
        for role, token in re.findall(
                r"^\s{4}(\w+)\s+\S+\s+password \S{12,}\s+token (\S{20,})$", self.banner,
                re.MULTILINE):
            tokens.setdefault(role, token)  # the first demo user of each role
        return tokens

    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.data_dir / STATE_FILE).read_text("utf-8"))
        return loaded

    def _remember_pids(self) -> None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            state = self.state()
            self._pids |= {n["pid"] for n in state["nats"] if n["pid"]}
            self._pids |= {s["pid"] for s in state["services"].values() if s["pid"]}

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        if self.proc is None:
            return 0
        with contextlib.suppress(OSError, ValueError, KeyError):
            self._remember_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()

    def kill_own(self) -> None:
        """SIGKILL this `hotro up` process only: for a run that shares its data directory
        with another (``kill`` would take the other run's children too)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL hotro up and whatever it started that is still alive — found by its
        state file and by every process naming its data directory."""
        self.kill_own()
        with contextlib.suppress(OSError, ValueError, KeyError):
            self._remember_pids()
        for pid in self._pids | set(child_pids(self.data_dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def child_pids(data_dir: Path) -> list[int]:
    """Processes whose command line or environment names this data directory (the
    services get it as HOTRO_DATA_DIR, nats-server its config file below it)."""
    needle = str(data_dir).encode()
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"hotro.cli" not in cmdline and b"nats-server" not in cmdline:
                continue
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle + b"/" in cmdline or b"HOTRO_DATA_DIR=" + needle + b"\0" in environ:
            mine.append(int(entry.name))
    return mine
