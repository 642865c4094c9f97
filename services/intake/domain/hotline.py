"""A call reported by the call-centre software."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE


class HotlineCall(Aggregate):
    """A call reported by the call-centre software: linked to an open request, or a draft
    the agent turns into a request (or not). ``caller`` is sealed with the call's own
    data key (``key_id``), which erasing the request it belongs to destroys too."""

    TOPIC = "hotro.intake:HotlineCall"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:HotlineCall.Created"

    if TYPE_CHECKING:  # the classes @event makes at run time that typed code reads
        class Started(Aggregate.Created):
            call_id: str
            caller: Any
            caller_raw: Any
            started_at: str | None
            linked_request_id: str | None
            linked_reference: str | None

        class Ended(Aggregate.Event):
            ended_at: str | None
            recording_ref: str | None

        class Converted(Aggregate.Event):
            request_id: str
            reference: str

    @staticmethod
    def create_id(call_id: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/hotline-call/{call_id}")

    @staticmethod
    def key_id(call_id: str) -> str:
        return f"call-{HotlineCall.create_id(call_id)}"

    @event("Started", topic="hotro.intake:HotlineCall.Started")
    def __init__(self, *, call_id: str, caller: Any, caller_raw: Any, started_at: str | None,
                 linked_request_id: str | None, linked_reference: str | None,
                 trace: dict[str, str | None]) -> None:
        self.call_id = call_id
        self.caller = caller
        self.caller_raw = caller_raw
        self.started_at = started_at
        self.linked_request_id = linked_request_id
        self.linked_reference = linked_reference
        self.ended_at: str | None = None
        self.recording_ref: str | None = None
        self.converted_request_id: str | None = None
        self.converted_reference: str | None = None

    @property
    def is_draft(self) -> bool:
        return self.linked_request_id is None and self.converted_request_id is None

    @event("Ended", topic="hotro.intake:HotlineCall.Ended")
    def end(self, *, ended_at: str | None, recording_ref: str | None,
            trace: dict[str, str | None]) -> None:
        self.ended_at = ended_at
        self.recording_ref = recording_ref

    def convert(self, *, request_id: str, reference: str, trace: dict[str, str | None]) -> None:
        if not self.is_draft:
            raise ValueError(f"call {self.call_id} is not a draft any more")
        self._convert(request_id=request_id, reference=reference, trace=trace)

    @event("Converted", topic="hotro.intake:HotlineCall.Converted")
    def _convert(self, *, request_id: str, reference: str,
                 trace: dict[str, str | None]) -> None:
        self.converted_request_id = request_id
        self.converted_reference = reference
