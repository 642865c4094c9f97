"""Wire the four applications together in one process, without NATS (tests, benchmarks).

Each service's outbox envelopes are handed to the services that consume them (per
``shared.contracts.topology``) in log order, exactly as the partition consumers would;
notify's pending dispatches are "delivered" by a deliverer that only returns a proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.log import read_log
from hotro.topology import TOPOLOGY


class ProofOnlyDeliverer:
    """Returns a proof without sending anything (letters: a file name)."""

    def deliver(self, dispatch: Any, contact: Any) -> str:
        if dispatch.method in ("letter", "receipt_slip"):
            return f"letters/{dispatch.id}.pdf"
        return dispatch.message_id or f"{dispatch.method}:{dispatch.id}"


class Pump:
    """One in-memory "stream": producers' outboxes appended in relay order, each consumer
    reading it in that order (so a reaction never overtakes its cause, as in a partition)."""

    def __init__(self, apps: Mapping[str, ServiceApplication], page: int = 500) -> None:
        self.apps = dict(apps)
        self.page = page
        self.stream: list[Any] = []
        self.relayed: dict[str, int] = {}
        self.read: dict[str, int] = {}
        self.deliverer = ProofOnlyDeliverer()
        self._done: set[Any] = set()

    def relay(self) -> int:
        n = 0
        for producer, app in self.apps.items():
            while True:
                items = app.outbox_page(self.relayed.get(producer, 0), self.page)
                if not items:
                    break
                for item in items:
                    if item.envelope is not None:
                        self.stream.append(item.envelope)
                        n += 1
                    self.relayed[producer] = item.notification_id
        return n

    def step(self) -> int:
        moved = self.relay()
        for consumer, producers in TOPOLOGY.items():
            if consumer not in self.apps:
                continue
            position = self.read.get(consumer, 0)
            for envelope in self.stream[position:]:
                types = producers.get(envelope.producer, ())
                if envelope.event_type in types:
                    self.apps[consumer].handle(envelope)
                    moved += 1
            self.read[consumer] = len(self.stream)
        return moved

    def deliver_pending(self) -> int:
        notify: Any = self.apps.get("notify")
        if notify is None:
            return 0
        done = 0
        for entry in _pending_dispatches(notify, self._done):
            notify.attempt(entry, self.deliverer)
            done += 1
        return done

    def settle(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            if not (self.step() + self.deliver_pending()):
                return
        raise RuntimeError("the applications did not settle")


def _pending_dispatches(notify: Any, done: set[Any]) -> list[Any]:
    pending = [n.originator_id
               for n in read_log(notify.recorder, topics=["hotro.notify:Dispatch.Requested"])
               if n.originator_id not in done]
    out = []
    for d in pending:
        if notify.get_dispatch(d).is_pending:
            out.append(d)
        else:
            done.add(d)
    return out
