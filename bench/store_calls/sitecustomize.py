"""Counts a process's store round trips by caller, for ``e2e_bench.py --count-store-calls``.

Put on ``PYTHONPATH`` with ``BENCH_STORE_CALLS_DIR`` set, it wraps eventsourcing's SQLite
transactions (R: read, W: commit) and PostgreSQL pool check-outs (C) before the service
imports them, and writes ``<dir>/<pid>.json`` every second: ``{"argv": [...], "calls":
{"R intake_fn < caller < …": n}}`` — the caller is the nearest four frames of hotro code.
Nothing happens without the variable, so an inherited ``PYTHONPATH`` is harmless.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

OUT_DIR = os.environ.get("BENCH_STORE_CALLS_DIR")
_counts: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()


def _caller() -> str:
    frames = [f for f in traceback.extract_stack(limit=40)[:-3] if "hotro" in f.filename
              or "/services/" in f.filename or "/shared/" in f.filename]
    return " < ".join(f.name for f in reversed(frames[-4:])) or "?"


def _counted(kind: Callable[[Any], str], real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = f"{kind(kwargs)} {_caller()}"
        with _lock:
            _counts[key] += 1
        return real(self, *args, **kwargs)
    return wrapper


def _dump() -> None:
    if OUT_DIR is None:
        return
    with _lock:
        calls = dict(_counts)
    path = os.path.join(OUT_DIR, f"{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"argv": sys.argv, "calls": calls}, f)
    os.replace(path + ".tmp", path)


def _keep_dumping() -> None:
    while True:
        time.sleep(1.0)
        with contextlib.suppress(OSError):
            _dump()


def _install() -> None:
    import eventsourcing.postgres as pg
    import eventsourcing.sqlite as sqlite

    sqlite.SQLiteDatastore.transaction = _counted(  # type: ignore[method-assign]
        lambda kw: "W" if kw.get("commit") else "R", sqlite.SQLiteDatastore.transaction)
    pg.PostgresDatastore.get_connection = _counted(  # type: ignore[method-assign]
        lambda kw: "C", pg.PostgresDatastore.get_connection)
    threading.Thread(target=_keep_dumping, name="store-calls", daemon=True).start()


if OUT_DIR:
    _install()
