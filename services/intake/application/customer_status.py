"""What the customer's status page needs that intake does not do itself: other services'
progress on the case, noted on the request (``Request.ProgressNoted``), the words of our
replies (``Request.ReplyNoted``) and why we refused (``Request.RefusalNoted``), and the
case's customer links (their generation, revoked by staff)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hotro.services.intake.application.base import IntakeBase, RequestNotFound
from hotro.services.intake.domain import Request


class CustomerStatus(IntakeBase):
    def progress(self, request_id: uuid.UUID, step: str, *, at: str,
                 trace: dict[str, str | None], items: list[str] | None = None,
                 due_date: str | None = None) -> Request | None:
        """The request with the step noted (to be saved by the caller), or None for a
        case intake does not hold."""
        request = self._request_or_none(request_id)
        if request is None:
            return None
        request.note_progress(step=step, at=at, items=items, due_date=due_date, trace=trace)
        return request

    def revoke_capabilities(self, request_id: uuid.UUID, *, reason: str,
                            trace: dict[str, str | None]) -> Request:
        """Every link issued for the case stops working (the generation moves on)."""
        request = self.get_request(request_id)
        request.revoke_capabilities(reason=reason, trace=trace)
        self.save(request)
        return request

    def capability_generation(self, request_id: uuid.UUID) -> int | None:
        """From the aggregate (the API's look-up goes through ``views.CustomerCases``)."""
        try:
            return self.get_request(request_id).capability_generation
        except RequestNotFound:
            return None

    def note_reply(self, request_id: uuid.UUID, *, purpose: str, method: str, content: str,
                   language: str, trace: dict[str, str | None]) -> Request | None:
        """The request with the reply's words noted (to be saved by the caller), or None
        for a case intake does not hold."""
        request = self._request_or_none(request_id)
        if request is None:
            return None
        request.note_reply(purpose=purpose, method=method, content=content,
                           language=language, trace=trace)
        return request

    def exchanges(self, request_id: uuid.UUID) -> Exchanges:
        """What the customer sent and what we answered, each oldest first, with when (its
        events, not the log: one aggregate's history, read once)."""
        found = Exchanges()
        for event in self.events.get(request_id):
            if isinstance(event, Request.InfoProvided):
                found.information_sent.append({
                    "at": event.timestamp, "channel": event.channel,
                    "content": event.content, "items": list(event.items),
                    "attachments": [dict(a) for a in event.attachments]})
            elif isinstance(event, Request.ReplyNoted):
                found.replies.append({"at": event.timestamp, "purpose": event.purpose,
                                      "method": event.method, "content": event.content,
                                      "language": event.language})
            elif isinstance(event, Request.RefusalNoted):
                found.refusal = {"at": event.timestamp, "reason": event.reason,
                                 "explanation": event.explanation,
                                 "filing_deadline": event.filing_deadline}
            elif isinstance(event, Request.Reopened):
                found.refusal = None  # a refusal reopened no longer stands
        return found


@dataclass
class Exchanges:
    information_sent: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    #: the refusal that stands, if any
    refusal: dict[str, Any] | None = None
