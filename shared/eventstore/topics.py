"""Pinned topics: stored events and snapshots name these, never a module path.

Every aggregate and every event class has an explicit topic (``TOPIC`` /
``@event(..., topic=...)``), so code can move without breaking what is stored. Topics
written before they were pinned (the module paths of the old ``services.<name>`` /
``shared.<name>`` layout) stay resolvable as aliases.

eventsourcing registers a class's pinned topic only when ``get_topic`` is first called on
it, i.e. when the first such event is saved. A process that only reads — a restarted
service tailing its log, the audit tool — would fail with TopicError. Each domain module
calls ``register_topics`` on its aggregates at import.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.utils import get_topic, register_topic


def register_topics(*aggregates: type[Aggregate], legacy_module: str | None = None) -> None:
    """Register each aggregate's and event's pinned topic; with ``legacy_module``, also
    the ``<legacy_module>:<QualName>`` topics stores written before pinning contain."""
    for aggregate in aggregates:
        get_topic(aggregate)
        if legacy_module is not None:
            register_topic(f"{legacy_module}:{aggregate.__qualname__}", aggregate)
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, DomainEvent):
                get_topic(value)
