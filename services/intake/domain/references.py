"""Human references (KN-YYYY-nnnnnn / TV-YYYY-nnnnnn): who allocates them, what they name."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE

REFERENCE_PREFIX = {"complaint": "KN", "advice": "TV"}


class ReferenceCounter(Aggregate):
    """The yearly high-water mark of KN-YYYY-nnnnnn / TV-YYYY-nnnnnn numbers.

    Each intake process leases a block of numbers (``Leased``: first..last) and hands them
    out from memory, so a request's save does not touch the counter. Leases are appended
    with the counter's version, so two replicas never lease the same numbers; the
    reference's own index (``ReferenceIndex``) refuses a duplicate besides. Numbers stay
    unique per year and kind and increase within a process, but are not gapless: what a
    process leased and did not hand out before it stopped is never used (at most one
    block, see ``application/allocation.py``), nor is a number whose request failed to save.
    Counters stored before blocks carry one ``Allocated`` event per request: they load
    as they are and leases continue after their last number."""

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
        """One number (how every reference was allocated before blocks; kept to load)."""
        self.last += 1

    def lease(self, size: int, *, holder: str, trace: dict[str, str | None]) -> range:
        """The next ``size`` numbers, for ``holder`` (a process) alone."""
        if size < 1:
            raise ValueError("a lease holds at least one number")
        self._leased(first=self.last + 1, last=self.last + size, holder=holder, trace=trace)
        return range(self.last - size + 1, self.last + 1)

    @event("Leased", topic="hotro.intake:ReferenceCounter.Leased")
    def _leased(self, *, first: int, last: int, holder: str,
                trace: dict[str, str | None]) -> None:
        self.last = last

    def current(self) -> str:
        """The highest number allocated or leased so far, as a reference."""
        return format_reference(self.prefix, self.year, self.last)


def format_reference(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


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
