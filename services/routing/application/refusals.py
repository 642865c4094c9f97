"""A business refusal while reacting to an upstream event becomes a note on the case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hotro.services.routing.domain.case import Case, TraceDict
from hotro.services.routing.domain.workflow import CaseError
from hotro.shared.contracts.envelope import Envelope


def apply_or_note(case: Case, envelope: Envelope, apply: Callable[[], None], *,
                  trace: TraceDict, now: datetime) -> None:
    """Apply what ``envelope`` reports; if the case refuses it (information for a closed
    case, say), record why as a note: an event staff can see, never a lost message."""
    try:
        apply()
    except CaseError as exc:
        case.add_note(text=f"{envelope.event_type} from {envelope.producer} not applied: {exc}",
                      trace=trace, now=now)
