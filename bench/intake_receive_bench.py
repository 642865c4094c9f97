"""Intake receive throughput and CPU in one process on SQLite (no NATS, no HTTP): N
receives through ``IntakeApplication.receive``, each a complaint about a product, for
distinct customers and for one busy customer (the duplicate check's worst case).

    .venv/bin/python bench/intake_receive_bench.py [--n 600] [--runs 3]

Prints the median of ``--runs`` fresh stores per scenario: requests/s (wall), CPU ms per
request (this process) and CPU ms per request of the relay's envelope building afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.eventstore.trace import Trace


def one_run(n: int, busy: bool) -> tuple[float, float, float]:
    """(requests/s, CPU ms per request) of ``n`` receives on a fresh SQLite store, then
    the CPU ms per request of turning the log into envelopes as the relay does."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/intake.db"
        ensure_store(url)
        clock = SettableClock(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
        app = IntakeApplication(env=persistence_env(url), clock=clock,
                                hash_secret=b"bench-secret")
        trace = Trace.system("bench").as_dict()
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            who = 0 if busy else i
            app.receive(NewRequest(
                kind="complaint", channel="web",
                customer={"name": f"Khách {who}", "email": f"k{who}@example.vn",
                          "phone": f"+8491{who:07d}"},
                description="Máy lạnh hỏng sau một tuần", product="dien-lanh"), trace)
            clock.advance(seconds=20)  # 600 receives span just over 3 hours
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        relay, after = time.process_time(), 0
        while page := app.outbox_page(after, 500):
            after = page[-1].notification_id
        relay = time.process_time() - relay
        app.close()
        return n / wall, cpu / n * 1000, relay / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for busy in (False, True):
        runs = [one_run(args.n, busy) for _ in range(args.runs)]
        rate = statistics.median(r for r, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        relay = statistics.median(r for _, _, r in runs)
        label = "one busy customer" if busy else "distinct customers"
        print(f"{label:20}  {rate:7.1f} req/s  {cpu:6.2f} CPU ms/req  "
              f"relay {relay:5.2f} CPU ms/req  "
              f"(n={args.n}, median of {args.runs})")


if __name__ == "__main__":
    main()
