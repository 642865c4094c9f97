"""CPU per write transaction on PostgreSQL: eventsourcing's pipelined recorder against
ours (``pg_recorders.PlainProcessRecorder``), run alternately in one process.

    .venv/bin/python bench/pg_insert_bench.py [--writes 3000] [--rounds 3] [--pg URL]

Each write is what a service's reaction stores: two events and the tracking row of the
message that caused them. Printed per write: the client's CPU (this process), the
PostgreSQL backend's CPU (from /proc of the backends serving this database) and the
wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from eventsourcing.persistence import InfrastructureFactory, StoredEvent, Tracking
from eventsourcing.postgres import PostgresProcessRecorder

from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.pg_recorders import PlainProcessRecorder
from hotro.shared.eventstore.schema import drop_schemas, ensure_store


def backend_cpu_seconds(base: str, dbname: str) -> float:
    with psycopg.connect(base, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid()", (dbname,))]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def write(recorder: Any, n: int, first: int) -> None:
    for i in range(n):
        stored = [StoredEvent(originator_id=uuid.uuid4(), originator_version=1,
                              topic="bench:Happened", state=b'{"n":1}') for _ in range(2)]
        recorder.insert_events(stored, tracking=Tracking("upstream", first + i))


def measure(label: str, recorder: Any, base: str, dbname: str, writes: int,
            first: int) -> None:
    write(recorder, 100, first)  # warm: connections, prepared statements
    cpu, backend, wall = time.process_time(), backend_cpu_seconds(base, dbname), \
        time.perf_counter()
    write(recorder, writes, first + 100)
    cpu, backend, wall = (time.process_time() - cpu,
                          backend_cpu_seconds(base, dbname) - backend,
                          time.perf_counter() - wall)
    print(f"{label:>9}: client {1000 * cpu / writes:.3f} ms/write, backend "
          f"{1000 * backend / writes:.3f} ms/write, wall {1000 * wall / writes:.3f} ms/write")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get(
        "HOTRO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    dbname = args.pg.rsplit("/", 1)[1].split("?")[0]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{args.pg}?schema={schema}"
    ensure_store(url)
    factory: Any = InfrastructureFactory.construct(env=persistence_env(url))
    plain = factory.process_recorder()  # creates the tables
    assert isinstance(plain, PlainProcessRecorder)
    pipelined = PostgresProcessRecorder(datastore=factory.datastore,
                                        events_table_name=plain.events_table_name,
                                        tracking_table_name=plain.tracking_table_name)
    recorders = {"pipelined": pipelined, "plain": plain}
    try:
        first = 0
        for _ in range(args.rounds):
            for label, recorder in recorders.items():
                measure(label, recorder, args.pg, dbname, args.writes, first)
                first += args.writes + 100
    finally:
        factory.close()
        drop_schemas(args.pg, schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
