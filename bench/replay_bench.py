"""Replay speed: rebuild routing's case queues from 100k stored events, next to the raw
notification-log read rate measured in the same run (SQLite and PostgreSQL).

    .venv/bin/python bench/replay_bench.py [--events 100000] [--pg postgresql://…/db]

Events are generated directly through the routing application (10 events per case, saved
200 cases per transaction; no NATS). The rebuilt model is then compared with the state of
every aggregate (``hotro replay``'s check) and its digest printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hotro.audit.replay import replay
from hotro.services.routing.adapters.config_files import load_catalogue, load_triage_rules
from hotro.services.routing.application import RoutingApplication
from hotro.services.routing.domain.case import Case
from hotro.services.routing.settings import CONFIG_DIR
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import drop_schemas, ensure_store
from hotro.shared.eventstore.trace import Trace
from hotro.shared.reference import CATALOGUE_FILE

EVENTS_PER_CASE = 10


def build(url: str) -> RoutingApplication:
    catalogue = load_catalogue(CATALOGUE_FILE)
    ensure_store(url)
    return RoutingApplication(env=persistence_env(url), catalogue=catalogue,
                              triage=load_triage_rules(CONFIG_DIR / "triage.toml", catalogue))


def one_case(app: RoutingApplication, n: int, t0: datetime) -> Case:
    staff = Trace(actor_kind="staff", actor_id="bench", actor_role="support",
                  correlation_id=str(uuid.uuid4())).as_dict()
    now = t0 + timedelta(minutes=n)
    case = Case.open(complaint_id=uuid.uuid4(), reference=f"KN-2026-{n:06d}",
                     kind="complaint", channel=("web", "email", "hotline", "counter")[n % 4],
                     received_at=now, product="dien-lanh", category="chat-luong-san-pham",
                     trace=staff, now=now)
    case.apply_triage(app.triage.evaluate("complaint", "dien-lanh", "chat-luong-san-pham",
                                          "hỏng"), trace=staff, now=now)
    case.start_analysis(trace=staff, now=now)
    case.request_info(items=["hoa-don"], due_date=(now + timedelta(days=7)).date(),
                      trace=staff, now=now)
    case.record_info_provided(items=["hoa-don"], channel="email", note="ok", trace=staff,
                              now=now)
    case.refer(department="ky-thuat-bao-hanh", question="?", trace=staff, now=now)
    case.record_department_response(department="ky-thuat-bao-hanh", result="đổi máy",
                                    trace=staff, now=now)
    case.request_reply(method="email", content="Đổi máy mới", trace=staff, now=now)
    case.record_reply_sent(method="email", proof=f"<{n}@vhv.vn>", sent_at=now, summary="",
                           trace=staff, now=now)
    case.close(reason="replied", trace=staff, now=now)
    return case


def generate(app: RoutingApplication, events: int, batch: int = 200) -> float:
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    cases = events // EVENTS_PER_CASE
    started = time.perf_counter()
    for first in range(0, cases, batch):
        app.save(*(one_case(app, n, t0) for n in range(first, min(cases, first + batch))))
    return time.perf_counter() - started


def raw_read(app: RoutingApplication, decode: bool, page: int = 1000) -> tuple[int, float]:
    started = time.perf_counter()
    n, start = 0, 0
    while True:
        notes = app.recorder.select_notifications(start=start, limit=page,
                                                  inclusive_of_start=False)
        if not notes:
            return n, time.perf_counter() - started
        if decode:
            for note in notes:
                app.mapper.to_domain_event(note)
        n += len(notes)
        start = notes[-1].id


def run(label: str, url: str, events: int) -> None:
    app = build(url)
    try:
        seconds = generate(app, events)
        stored = app.max_notification_id()
        print(f"[{label}] generated {stored} events in {seconds:.1f}s "
              f"({stored / seconds:,.0f} events/s written)")
        n_raw, t_raw = raw_read(app, decode=False)
        n_dec, t_dec = raw_read(app, decode=True)
        result = replay(app)
        print(f"[{label}] raw notification-log read : {n_raw / t_raw:>10,.0f} events/s "
              f"({n_raw} in {t_raw:.2f}s)")
        print(f"[{label}] read + decode             : {n_dec / t_dec:>10,.0f} events/s")
        print(f"[{label}] replay case queues        : {result.rate:>10,.0f} events/s "
              f"({result.events_read} events -> {len(result.rows)} rows in "
              f"{result.seconds:.2f}s)")
        verdict = "identical to the aggregates" if not result.differences else \
            f"{len(result.differences)} DIFFERENCES, first: {result.differences[0]}"
        print(f"[{label}] rebuilt model sha256 {result.digest[:16]}…: {verdict}")
    finally:
        app.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get(
        "HOTRO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'routing.sqlite'}", args.events)
    if args.skip_pg:
        return 0
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        run("postgres", f"{args.pg}?schema={schema}", args.events)
    finally:
        drop_schemas(args.pg, schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
