"""What other services hear of sla's stored events: DeadlineSet, DeadlineApproaching,
DeadlineBreached, DeadlineMet and DeadlineReplanned (a re-plan or a resume), each built
from the stored event alone. Events stored before they carried the clock's names and
deadline are completed from the clock as it was then (``clock_at``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotro.services.sla.domain.clock import Clock, base_kind
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.application import WireEvent

#: The clock as it was at (clock id, version): only for events stored before they carried
#: what their payload needs.
ClockAt = Callable[[uuid.UUID, int], Clock]


@dataclass(frozen=True)
class _Deadline:
    complaint_id: uuid.UUID
    reference: str
    kind: str
    last_day: str
    due_at: str
    calendar_version: str

    @classmethod
    def of(cls, clock: Clock) -> _Deadline:
        return cls(clock.complaint_id, clock.reference, clock.kind, clock.last_day,
                   clock.due_at, clock.calendar_version)

    def fields(self) -> dict[str, Any]:
        """What every deadline payload has."""
        return {"reference": self.reference, "clock": base_kind(self.kind),
                "last_day": self.last_day, "due_at": self.due_at,
                "calendar_version": self.calendar_version}


def wire_event(event: object, clock_at: ClockAt) -> WireEvent | None:
    """The wire event of one stored event; None for what stays internal (Paused, Stopped,
    the case index)."""
    payload: wire.Payload
    if isinstance(event, Clock.Set):
        deadline = _Deadline(event.complaint_id, event.reference, event.kind,
                             event.last_day, event.due_at, event.calendar_version)
        payload = wire.DeadlineSet(**deadline.fields(), working_days=event.working_days,
                                   start=event.start, rule=event.rule,
                                   explanation=event.explanation)
    elif isinstance(event, Clock.Approaching):
        deadline = _kept(event, clock_at)
        payload = wire.DeadlineApproaching(**deadline.fields(),
                                           working_days_left=event.working_days_left)
    elif isinstance(event, Clock.Breached):
        deadline = _kept(event, clock_at)
        payload = wire.DeadlineBreached(**deadline.fields())
    elif isinstance(event, Clock.Met):
        deadline = _kept(event, clock_at)
        payload = wire.DeadlineMet(**deadline.fields(), met_at=event.at)
    elif isinstance(event, Clock.Replanned | Clock.Resumed):
        deadline = _moved(event, clock_at)
        payload = wire.DeadlineReplanned(**deadline.fields(),
                                         previous_last_day=event.previous_last_day,
                                         reason=event.reason)
    else:
        return None
    return WireEvent(deadline.complaint_id, payload)


def _kept(event: Clock.Approaching | Clock.Breached | Clock.Met,
          clock_at: ClockAt) -> _Deadline:
    """The deadline an event left as it was."""
    if event.complaint_id is None or event.reference is None or event.kind is None or \
            event.last_day is None or event.due_at is None or event.calendar_version is None:
        return _Deadline.of(clock_at(event.originator_id, event.originator_version))
    return _Deadline(event.complaint_id, event.reference, event.kind, event.last_day,
                     event.due_at, event.calendar_version)


def _moved(event: Clock.Replanned | Clock.Resumed, clock_at: ClockAt) -> _Deadline:
    """The new deadline of a re-plan or a resume (always on the event)."""
    if event.complaint_id is None or event.reference is None or event.kind is None:
        return _Deadline.of(clock_at(event.originator_id, event.originator_version))
    return _Deadline(event.complaint_id, event.reference, event.kind, event.last_day,
                     event.due_at, event.calendar_version)
