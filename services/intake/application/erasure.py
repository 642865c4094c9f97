"""Erasure of a customer's personal data (``hotro erase``, shared.privacy.erasure): what
intake records, and which attachment files only this request holds."""

from __future__ import annotations

import uuid
from typing import Any

from hotro.services.intake.application.base import IntakeBase
from hotro.services.intake.domain import Request
from hotro.shared.eventstore.log import read_events


class Erasure(IntakeBase):
    def record_erasure(self, request_id: uuid.UUID, *, reason: str, requested_by: str,
                       fields: list[str], trace: dict[str, str | None]) -> Request:
        """Record that the customer's personal data was erased (audit: who and why)."""
        request = self.get_request(request_id)
        request.record_erasure(reason=reason, requested_by=requested_by, fields=fields,
                               trace=trace)
        self.save(request)
        return request

    def attachments_only_of(self, request_id: uuid.UUID) -> list[str]:
        """The sha256 of attachments this request holds and no other request does: the
        files an erasure deletes (content-addressed files can be shared, e.g. a logo)."""
        request = self.get_request(request_id)
        own = _hashes(request.details.get("attachments"))
        for info in request.info:
            own |= _hashes(info.get("attachments"))
        if not own:
            return []
        elsewhere: set[str] = set()
        for e in read_events(self, topics=["hotro.intake:Request.Received"]):
            if e.originator_id != request_id:
                elsewhere |= _hashes(e.details.get("attachments"))
        for e in read_events(self, topics=["hotro.intake:Request.InfoProvided"]):
            if e.originator_id != request_id:
                elsewhere |= _hashes(e.attachments)
        return sorted(own - elsewhere)


def _hashes(attachments: Any) -> set[str]:
    return {str(a["sha256"]) for a in attachments or () if a.get("sha256")}
