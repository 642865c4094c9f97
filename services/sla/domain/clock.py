"""SLA clocks: one aggregate per (complaint, clock kind). Pure: times and plans are passed in.

Guards make every deadline event happen at most once per clock (Approaching, Breached, Met
are each recorded at most once in a clock's life); optimistic concurrency on the aggregate
makes it exactly once even when two replicas race.

Life of a clock::

    running ──pause──▶ paused ──resume (new deadline)──▶ running
    running ──replan (new calendar version)──▶ running
    running ──breach──▶ breached          (a breached clock is never un-breached)
    running | paused | breached ──meet──▶ met
    running | paused | breached ──stop──▶ stopped
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE
from hotro.shared.eventstore.topics import register_topics

TraceDict = dict[str, str | None]

OPEN_STATUSES = ("running", "paused", "breached")
#: Clock kinds a pause policy may name (customer_info measures the customer: never paused).
PAUSABLE_KINDS = frozenset({"reply", "first_contact", "department"})
#: The suffix of the reply clocks a reopened case gets: ``reply/reopen-1``, ``reply/reopen-2``.
REOPENED_REPLY = "reply/reopen-"
DEPARTMENT = "department/"


class ClockError(Exception):
    pass


def base_kind(kind: str) -> str:
    """``department/QA`` -> ``department``; ``reply/reopen-1`` -> ``reply``."""
    return kind.split("/", 1)[0]


def reopened_reply_kind(listed: Iterable[str]) -> str:
    """The kind of the reply clock a case reopened once more gets, given the kinds it has.

    A case has one clock per kind (the kind names the clock's id), so each reopening's
    reply clock has its own suffix; it is a ``reply`` clock everywhere else (``base_kind``:
    the wire, the pause policy, meeting it with the reply)."""
    rounds = sum(1 for kind in listed if kind.startswith(REOPENED_REPLY))
    return f"{REOPENED_REPLY}{rounds + 1}"


def department_kind(department: str, round_: int = 1) -> str:
    """The kind of a department's clock: ``department/QA`` for a case's first referral to
    QA, ``department/QA/2`` for the next one (a follow-up question after its answer, a
    referral after a reopen). Each referral is waited for on its own clock."""
    return f"{DEPARTMENT}{department}" + (f"/{round_}" if round_ > 1 else "")


def department_of(kind: str) -> str | None:
    """``department/QA`` and ``department/QA/2`` -> ``QA``; None for other kinds."""
    if not kind.startswith(DEPARTMENT):
        return None
    return kind[len(DEPARTMENT):].split("/", 1)[0]


@dataclass(frozen=True)
class PausePolicy:
    """Which clocks stop counting while the case waits for the customer's information.

    Default: none. The process says nothing of pausing, so the reply clock keeps running
    while the customer is asked for more information."""

    while_awaiting_customer: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = set(self.while_awaiting_customer) - PAUSABLE_KINDS
        if unknown:
            raise ValueError(f"cannot pause clock kind(s) {sorted(unknown)}; "
                             f"pausable: {sorted(PAUSABLE_KINDS)}")

    def pauses_while_awaiting_customer(self, kind: str) -> bool:
        return base_kind(kind) in self.while_awaiting_customer


class Clock(Aggregate):
    """One deadline of one case.

    The event classes are declared (not derived from the methods) so their attributes are
    typed. Every event published on the wire also carries the clock's names and its
    deadline as they stand (``complaint_id`` … ``calendar_version``), so the outbox builds
    its payload from the event alone. Events stored before they carried them have None
    there (the class defaults); only those need the clock read back.
    """

    TOPIC = "hotro.sla:Clock"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.sla:Clock.Created"

    class Set(Created):
        TOPIC = "hotro.sla:Clock.Set"
        complaint_id: uuid.UUID
        kind: str
        reference: str
        start: str
        last_day: str
        due_at: str
        working_days: int
        rule: str
        explanation: str
        calendar_version: str
        trace: TraceDict
        counted: bool = True  # absent from the first events stored: they were all counted

    class Approaching(Aggregate.Event):
        TOPIC = "hotro.sla:Clock.Approaching"
        working_days_left: int
        trace: TraceDict
        complaint_id: uuid.UUID | None = None
        reference: str | None = None
        kind: str | None = None
        last_day: str | None = None
        due_at: str | None = None
        calendar_version: str | None = None

    class Breached(Aggregate.Event):
        TOPIC = "hotro.sla:Clock.Breached"
        at: str
        trace: TraceDict
        complaint_id: uuid.UUID | None = None
        reference: str | None = None
        kind: str | None = None
        last_day: str | None = None
        due_at: str | None = None
        calendar_version: str | None = None

    class Met(Aggregate.Event):
        TOPIC = "hotro.sla:Clock.Met"
        at: str
        on_time: bool
        trace: TraceDict
        complaint_id: uuid.UUID | None = None
        reference: str | None = None
        kind: str | None = None
        last_day: str | None = None
        due_at: str | None = None
        calendar_version: str | None = None

    class Stopped(Aggregate.Event):
        TOPIC = "hotro.sla:Clock.Stopped"
        reason: str
        trace: TraceDict

    class Paused(Aggregate.Event):
        TOPIC = "hotro.sla:Clock.Paused"
        at: str
        on: str
        reason: str
        trace: TraceDict

    class Resumed(Aggregate.Event):
        TOPIC = "hotro.sla:Clock.Resumed"
        at: str
        on: str
        previous_last_day: str
        last_day: str
        due_at: str
        explanation: str
        calendar_version: str
        reason: str
        trace: TraceDict
        complaint_id: uuid.UUID | None = None
        reference: str | None = None
        kind: str | None = None

    class Replanned(Aggregate.Event):
        TOPIC = "hotro.sla:Clock.Replanned"
        previous_last_day: str
        last_day: str
        due_at: str
        working_days: int
        rule: str
        explanation: str
        calendar_version: str
        reason: str
        trace: TraceDict
        complaint_id: uuid.UUID | None = None
        reference: str | None = None
        kind: str | None = None

    @staticmethod
    def create_id(complaint_id: uuid.UUID, kind: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"sla/clock/{complaint_id}/{kind}")

    @event(Set)
    def __init__(self, *, complaint_id: uuid.UUID, kind: str, reference: str, start: str,
                 last_day: str, due_at: str, working_days: int, rule: str, explanation: str,
                 calendar_version: str, trace: TraceDict, counted: bool = True) -> None:
        self.complaint_id = complaint_id
        self.kind = kind
        self.reference = reference
        self.start = start
        self.last_day = last_day
        self.due_at = due_at
        #: Working days the rule allows (pauses not included: they are in ``pauses``).
        self.working_days = working_days
        self.rule = rule
        self.explanation = explanation
        self.calendar_version = calendar_version
        #: True: the deadline is N working days counted by the calendar (re-planned when the
        #: calendar changes). False: a date a person chose (an info due date) — never moved.
        self.counted = counted
        self.trace = trace
        self.status = "running"
        self.approached = False
        self.breached_at: str | None = None
        self.met_at: str | None = None
        self.on_time: bool | None = None
        #: [[from local date, to local date | None]]: days in (from, to] are not counted.
        self.pauses: list[list[str | None]] = []

    @property
    def is_open(self) -> bool:
        """Still watched: running, paused, or breached but not yet met (a late reply is
        recorded as met, not on time)."""
        return self.status in OPEN_STATUSES

    def due(self) -> datetime:
        return datetime.fromisoformat(self.due_at)

    def closed_pauses(self) -> list[tuple[str, str]]:
        return [(str(a), str(b)) for a, b in self.pauses if b is not None]

    def _names(self) -> dict[str, Any]:
        """What names this clock on the wire (carried by every published event)."""
        return {"complaint_id": self.complaint_id, "reference": self.reference,
                "kind": self.kind}

    def _deadline(self) -> dict[str, Any]:
        """The names and the deadline as they stand (carried by events that keep it)."""
        return {**self._names(), "last_day": self.last_day, "due_at": self.due_at,
                "calendar_version": self.calendar_version}

    # ---- approaching / breached (raised by the timer) ----------------------------------

    @event(Approaching)
    def _approaching(self, *, working_days_left: int, trace: TraceDict,
                     complaint_id: uuid.UUID | None = None, reference: str | None = None,
                     kind: str | None = None, last_day: str | None = None,
                     due_at: str | None = None, calendar_version: str | None = None) -> None:
        self.approached = True

    def approach(self, *, working_days_left: int, trace: TraceDict) -> None:
        if self.status != "running":
            raise ClockError(f"clock {self.kind} cannot approach in state {self.status}")
        if self.approached:
            raise ClockError(f"clock {self.kind}: approaching already raised")
        self._approaching(working_days_left=working_days_left, trace=trace, **self._deadline())

    @event(Breached)
    def _breached(self, *, at: str, trace: TraceDict, complaint_id: uuid.UUID | None = None,
                  reference: str | None = None, kind: str | None = None,
                  last_day: str | None = None, due_at: str | None = None,
                  calendar_version: str | None = None) -> None:
        self.status = "breached"
        self.breached_at = at

    def breach(self, *, now: datetime, trace: TraceDict) -> None:
        if self.status != "running":
            raise ClockError(f"clock {self.kind} cannot breach in state {self.status}")
        if now < self.due():
            raise ClockError(f"clock {self.kind} is not due before {self.due_at}")
        self._breached(at=now.isoformat(), trace=trace, **self._deadline())

    # ---- met / stopped (upstream events) -----------------------------------------------

    @event(Met)
    def _met(self, *, at: str, on_time: bool, trace: TraceDict,
             complaint_id: uuid.UUID | None = None, reference: str | None = None,
             kind: str | None = None, last_day: str | None = None, due_at: str | None = None,
             calendar_version: str | None = None) -> None:
        self.status = "met"
        self.met_at = at
        self.on_time = on_time

    def meet(self, *, at: datetime, trace: TraceDict) -> None:
        if not self.is_open:
            raise ClockError(f"clock {self.kind} already {self.status}")
        on_time = self.status == "paused" or (self.status == "running" and at < self.due())
        self._met(at=at.isoformat(), on_time=on_time, trace=trace, **self._deadline())

    @event(Stopped)
    def _stopped(self, *, reason: str, trace: TraceDict) -> None:
        self.status = "stopped"

    def stop(self, *, reason: str, trace: TraceDict) -> None:
        if not self.is_open:
            raise ClockError(f"clock {self.kind} already {self.status}")
        self._stopped(reason=reason, trace=trace)

    # ---- pause policy ------------------------------------------------------------------

    @event(Paused)
    def _paused(self, *, at: str, on: str, reason: str, trace: TraceDict) -> None:
        self.status = "paused"
        self.pauses = [*self.pauses, [on, None]]

    def pause(self, *, at: datetime, on: str, reason: str, trace: TraceDict) -> None:
        """Stop counting after local date ``on`` (the day of the event still counts)."""
        if self.status != "running":
            raise ClockError(f"clock {self.kind} cannot pause in state {self.status}")
        if at >= self.due():
            raise ClockError(f"clock {self.kind} is already due ({self.due_at}): it breaches")
        if on < self.start:
            raise ClockError(f"pause on {on} before the clock started ({self.start})")
        self._paused(at=at.isoformat(), on=on, reason=reason, trace=trace)

    @event(Resumed)
    def _resumed(self, *, at: str, on: str, previous_last_day: str, last_day: str,
                 due_at: str, explanation: str, calendar_version: str, reason: str,
                 trace: TraceDict, complaint_id: uuid.UUID | None = None,
                 reference: str | None = None, kind: str | None = None) -> None:
        self.status = "running"
        self.pauses = [*self.pauses[:-1], [self.pauses[-1][0], on]]
        self.last_day = last_day
        self.due_at = due_at
        self.explanation = explanation
        self.calendar_version = calendar_version

    def resume(self, *, at: datetime, on: str, last_day: str, due_at: str, explanation: str,
               calendar_version: str, reason: str, trace: TraceDict) -> None:
        """Count again from the day after ``on``; the caller planned the new deadline."""
        if self.status != "paused":
            raise ClockError(f"clock {self.kind} cannot resume in state {self.status}")
        since = str(self.pauses[-1][0])
        if on < since:
            raise ClockError(f"resume on {on} before the pause of {since}")
        self._resumed(at=at.isoformat(), on=on, previous_last_day=self.last_day,
                      last_day=last_day, due_at=due_at, explanation=explanation,
                      calendar_version=calendar_version, reason=reason, trace=trace,
                      **self._names())

    def pauses_if_resumed_on(self, on: str) -> list[tuple[str, str]]:
        """The pause intervals as they will be once the open pause ends on ``on``."""
        return [(str(a), str(b) if b is not None else on) for a, b in self.pauses]

    # ---- calendar versions -------------------------------------------------------------

    @event(Replanned)
    def _replanned(self, *, previous_last_day: str, last_day: str, due_at: str,
                   working_days: int, rule: str, explanation: str, calendar_version: str,
                   reason: str, trace: TraceDict, complaint_id: uuid.UUID | None = None,
                   reference: str | None = None, kind: str | None = None) -> None:
        self.last_day = last_day
        self.due_at = due_at
        self.working_days = working_days
        self.rule = rule
        self.explanation = explanation
        self.calendar_version = calendar_version

    def replan(self, *, last_day: str, due_at: str, working_days: int, rule: str,
               explanation: str, calendar_version: str, reason: str,
               trace: TraceDict) -> None:
        """A new deadline for a running clock. Met, stopped and breached clocks are history
        and are never rewritten; a paused clock is planned again when it resumes."""
        if self.status != "running":
            raise ClockError(
                f"clock {self.kind} is {self.status}: only running clocks are re-planned")
        if last_day == self.last_day and due_at == self.due_at:
            raise ClockError("nothing to replan: the deadline is unchanged")
        self._replanned(previous_last_day=self.last_day, last_day=last_day, due_at=due_at,
                        working_days=working_days, rule=rule, explanation=explanation,
                        calendar_version=calendar_version, reason=reason, trace=trace,
                        **self._names())

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "reference": self.reference, "status": self.status,
                "start": self.start, "last_day": self.last_day, "due_at": self.due_at,
                "rule": self.rule, "working_days": self.working_days,
                "approached": self.approached, "met_at": self.met_at, "on_time": self.on_time,
                "breached_at": self.breached_at, "pauses": [list(p) for p in self.pauses],
                "calendar_version": self.calendar_version, "explanation": self.explanation}


class CaseClocks(Aggregate):
    """The clocks one complaint has, so they can be listed without a scan."""

    TOPIC = "hotro.sla:CaseClocks"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.sla:CaseClocks.Created"

    @staticmethod
    def create_id(complaint_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"sla/case-clocks/{complaint_id}")

    @event("Started", topic="hotro.sla:CaseClocks.Started")
    def __init__(self, *, complaint_id: uuid.UUID, trace: TraceDict) -> None:
        self.complaint_id = complaint_id
        self.trace = trace
        self.kinds: list[str] = []
        self.answers: list[str] = []

    @event("ClockAdded", topic="hotro.sla:CaseClocks.ClockAdded")
    def _added(self, *, kind: str, trace: TraceDict) -> None:
        self.kinds = [*self.kinds, kind]

    def add(self, *, kind: str, trace: TraceDict) -> None:
        if kind in self.kinds:
            raise ClockError(f"clock {kind} already listed")
        self._added(kind=kind, trace=trace)

    @event("CustomerAnswered", topic="hotro.sla:CaseClocks.CustomerAnswered")
    def customer_answered(self, *, at: str, trace: TraceDict) -> None:
        """Remembered because the answer can reach sla before the request it answers
        (they come from different services): that request is then met on arrival."""
        self.answers = [*self.answers, at]

    def answer_since(self, instant: datetime) -> datetime | None:
        """The first answer recorded at or after ``instant`` (a request's time)."""
        later = [a for a in map(datetime.fromisoformat, self.answers) if a >= instant]
        return min(later, default=None)


register_topics(Clock, CaseClocks, legacy_module="services.sla.domain")
