"""Human references (KN-YYYY-nnnnnn / TV-YYYY-nnnnnn): who allocates them, what they name."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE

REFERENCE_PREFIX = {"complaint": "KN", "advice": "TV"}


class ReferenceCounter(Aggregate):
    """Allocates KN-YYYY-nnnnnn / TV-YYYY-nnnnnn. Saved with the request in one
    transaction, so a reference is never skipped twice nor given twice."""

    TOPIC = "hotro.intake:ReferenceCounter"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:ReferenceCounter.Created"

    @staticmethod
    def create_id(prefix: str, year: int) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/reference-counter/{prefix}/{year}")

    @event("Started", topic="hotro.intake:ReferenceCounter.Started")
    def __init__(self, *, prefix: str, year: int, trace: dict[str, str | None]) -> None:
        self.prefix = prefix
        self.year = year
        self.last = 0
        self.trace = trace

    @event("Allocated", topic="hotro.intake:ReferenceCounter.Allocated")
    def allocate(self, *, trace: dict[str, str | None]) -> None:
        self.last += 1

    def current(self) -> str:
        return f"{self.prefix}-{self.year}-{self.last:06d}"


class ReferenceIndex(Aggregate):
    """reference -> request id (its id is derived from the reference)."""

    TOPIC = "hotro.intake:ReferenceIndex"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:ReferenceIndex.Created"

    @staticmethod
    def create_id(reference: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/reference/{reference.upper()}")

    @event("Indexed", topic="hotro.intake:ReferenceIndex.Indexed")
    def __init__(self, *, reference: str, request_id: uuid.UUID,
                 trace: dict[str, str | None]) -> None:
        self.reference = reference
        self.request_id = request_id
        self.trace = trace
