"""Routing closes, refuses or reopens a case: intake marks its request, so a hotline call
links only to requests still open."""

from __future__ import annotations

import uuid

from hotro.services.intake.application.base import IntakeBase
from hotro.services.intake.domain import Request


class Closing(IntakeBase):
    def close_request(self, request_id: uuid.UUID, *, reason: str,
                      trace: dict[str, str | None]) -> Request | None:
        """The request marked closed (to be saved), or None if unknown or closed already."""
        request = self._request_or_none(request_id)
        if request is None or request.closed:
            return None
        request.mark_closed(reason=reason, trace=trace)
        return request

    def refuse_request(self, request_id: uuid.UUID, *, reason: str, explanation: str,
                       filing_deadline: str | None, trace: dict[str, str | None]
                       ) -> Request | None:
        """The request with routing's refusal noted and marked closed (to be saved), or
        None if unknown."""
        request = self._request_or_none(request_id)
        if request is None:
            return None
        request.note_refusal(reason=reason, explanation=explanation,
                             filing_deadline=filing_deadline, trace=trace)
        if not request.closed:
            request.mark_closed(reason=reason, trace=trace)
        return request

    def reopen_request(self, request_id: uuid.UUID, *, reason: str,
                       trace: dict[str, str | None]) -> Request | None:
        """The request marked open again (to be saved), or None if unknown or open."""
        request = self._request_or_none(request_id)
        if request is None or not request.closed:
            return None
        request.mark_reopened(reason=reason, trace=trace)
        return request
