"""Where the local system runs: ``<data dir>/system.json``, written by ``hotro up``.

``hotro up`` writes it (atomically: a temporary file renamed over it) as soon as its NATS
runs, and marks it stopped when it shuts down. The operators' tools (``hotro audit``,
``export``, ``erase``, ``audit verify``…) read it to find the NATS of the system whose data
directory they are given, so they need no ``HOTRO_NATS_URL`` on the machine that runs
``hotro up``. Precedence: ``--nats`` > ``HOTRO_NATS_URL`` > this record
(``hotro.cli_nats.find_nats``).

The record holds no secret: URLs are written without their user and password (the tools
take the operator's credentials from ``HOTRO_NATS_USER``/``HOTRO_NATS_PASSWORD_FILE`` or
from ``<data dir>/nats-auth/``, ``hotro.local_nats``)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["FILE", "RecordUnreadable", "SystemRecord", "mark_stopped", "read_record",
           "record_path", "write_running"]

FILE = "system.json"
FORMAT = 1
RUNNING, STOPPED = "running", "stopped"


class RecordUnreadable(ValueError):
    """The record exists but is not a record (edited by hand, another program's file)."""


def record_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / FILE


def public_url(url: str) -> str:
    """A NATS URL without user, password or token (the record is not a secret)."""
    parts = urlsplit(url.strip() if "://" in url else f"nats://{url.strip()}")
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class SystemRecord:
    path: Path
    state: str
    nats_urls: tuple[str, ...]
    external_nats: bool
    pid: int | None
    started_at: str | None
    stopped_at: str | None = None

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def nats_url(self) -> str:
        return ",".join(self.nats_urls)

    def process_alive(self) -> bool | None:
        """Is the ``hotro up`` that wrote the record still running? None: unknown."""
        if self.pid is None or self.pid <= 0:
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            return True
        except OSError:
            return None
        return True


def _now(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def _write(path: Path, data: dict[str, Any]) -> None:
    """Whole or not at all: a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_running(data_dir: str | Path, nats_url: str, *, external: bool,
                  pid: int | None = None, now: datetime | None = None) -> Path:
    """``hotro up``: its NATS runs at ``nats_url`` (comma-separated URLs)."""
    path = record_path(data_dir)
    _write(path, {
        "format": FORMAT, "state": RUNNING,
        "nats": {"urls": [public_url(u) for u in nats_url.split(",") if u.strip()],
                 "external": external},
        "pid": os.getpid() if pid is None else pid,
        "started_at": _now(now),
        "data_dir": str(Path(data_dir).resolve()),
    })
    return path


def mark_stopped(data_dir: str | Path, *, pid: int | None = None,
                 now: datetime | None = None) -> bool:
    """``hotro up`` at shutdown: the record says stopped (kept: it says when). Only the
    process that wrote it marks it (another ``hotro up`` may have taken over)."""
    path = record_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("pid") != (os.getpid() if pid is None else pid):
        return False
    data.update(state=STOPPED, stopped_at=_now(now))
    _write(path, data)
    return True


def read_record(data_dir: str | Path) -> SystemRecord | None:
    """The record of the data directory; None if there is none."""
    path = record_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordUnreadable(f"{path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
        nats = data["nats"]
        urls = tuple(str(u) for u in nats["urls"])
        state = str(data["state"])
        pid = data.get("pid")
        if not urls or state not in (RUNNING, STOPPED) or not isinstance(nats, dict):
            raise ValueError("no NATS URL or an unknown state")
        return SystemRecord(path=path, state=state, nats_urls=urls,
                            external_nats=bool(nats.get("external", False)),
                            pid=pid if isinstance(pid, int) else None,
                            started_at=data.get("started_at"),
                            stopped_at=data.get("stopped_at"))
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordUnreadable(f"{path} is not a record of `hotro up` ({exc})") from None
