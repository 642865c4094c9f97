"""Make pinned topics resolvable before anything is written.

eventsourcing registers a class's pinned topic (``TOPIC`` / ``@event(..., topic=...)``)
only when ``get_topic`` is first called on it, i.e. when the first such event is saved. A
process that only reads — a restarted service tailing its log, the audit tool — would fail
with TopicError. Each domain module calls ``register_topics`` on its aggregates at import.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.utils import get_topic


def register_topics(*aggregates: type[Aggregate]) -> None:
    for aggregate in aggregates:
        get_topic(aggregate)
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, DomainEvent):
                get_topic(value)
