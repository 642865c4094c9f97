"""CPU of rebuilding one aggregate from its stored events, with eventsourcing's default
projector (a protocol check per event) and with ours (``shared/eventstore/repository.py``),
for a few event counts, on an in-memory store; and of collecting an aggregate's new
events for a save, with the library's ``ProcessingEvent`` and with ours
(``shared/eventstore/collecting.py``).

    .venv/bin/python bench/projector_bench.py [--n 2000]

Prints microseconds of CPU per load and per event (this process, ``time.process_time``).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, event

from hotro.shared.eventstore.collecting import CollectingEvent
from hotro.shared.eventstore.repository import ServiceRepository, project


class Counter(Aggregate):
    def __init__(self) -> None:
        self.n = 0

    @event("Counted")
    def count(self) -> None:
        self.n += 1


def per_load_us(load: Callable[[], Any], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        load()
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="loads per case")
    n = parser.parse_args().n
    app: Application[uuid.UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ours = ServiceRepository(event_store=app.events)
    print(f"python {sys.version.split()[0]}, {n} loads per case")
    for events in (1, 5, 20):
        counter = Counter()
        for _ in range(events - 1):
            counter.count()
        app.save(counter)
        cid = counter.id
        library = per_load_us(lambda: app.repository.get(cid), n)  # noqa: B023 (used at once)
        mine = per_load_us(lambda: ours.get(cid), n)  # noqa: B023
        assert project(None, app.events.get(cid)).n == events - 1
        print(f"{events:3d} events: library {library:7.1f} µs, ours {mine:7.1f} µs per load "
              f"({(library - mine) / events:.1f} µs less per event)")

    counter = Counter()

    def collect(kind: type[ProcessingEvent[uuid.UUID]]) -> Callable[[], None]:
        return lambda: kind().collect_events(counter)

    library = per_load_us(collect(ProcessingEvent), n * 10)
    mine = per_load_us(collect(CollectingEvent), n * 10)
    print(f"collecting one aggregate: library {library:5.1f} µs, ours {mine:5.1f} µs")


if __name__ == "__main__":
    main()
