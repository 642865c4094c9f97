"""Step 2 seen from intake: information the customer brings for an existing request
(at the counter, by phone, on the web or by email)."""

from __future__ import annotations

import uuid
from typing import Any, NotRequired, TypedDict, Unpack

from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application.base import IntakeBase, backoff
from hotro.services.intake.application.incident_dates import note_incident_date_given
from hotro.services.intake.application.receiving import IdempotencyConflict
from hotro.services.intake.domain import MessageIndex, Request, ScopedKey
from hotro.services.intake.domain.idempotency import info_fingerprint


class RequestClosed(ValueError):
    """Information for a closed case: refused, with the reason (never stored silently)."""


class InfoGiven(TypedDict):
    """What the customer brought, and where it came from (one list of parameters for
    ``provide_info`` and ``provide_info_once``, checked at every caller)."""

    channel: str
    content: str
    items: list[str]
    trace: dict[str, str | None]
    attachments: NotRequired[list[dict[str, Any]] | None]
    inbound_message_id: NotRequired[str | None]
    mail_auth: NotRequired[dict[str, Any] | None]
    mail: NotRequired[dict[str, Any] | None]


class ProvidingInfo(IntakeBase):
    def provide_info(self, request_id: uuid.UUID, **given: Unpack[InfoGiven]) -> Request:
        """Add the information to the request (``provide_info_once``, without telling
        whether it was new)."""
        return self.provide_info_once(request_id, **given)[0]

    def provide_info_once(self, request_id: uuid.UUID, *, refuse_closed: bool = False,
                          retries: int = 5, scoped_key: ScopedKey | None = None,
                          **given: Unpack[InfoGiven]) -> tuple[Request, bool]:
        """Add the information to the request. ``refuse_closed`` (HTTP): a closed case
        raises RequestClosed instead; email to a closed case is still recorded, so staff
        see the customer wrote (routing notes it and may reopen). ``scoped_key``: an HTTP
        caller's Idempotency-Key — information it already brought is not added again
        (the flag returned is False); the same key with other information raises
        IdempotencyConflict."""
        channel, content, items, trace = (given["channel"], given["content"],
                                          given["items"], given["trace"])
        inbound_message_id = given.get("inbound_message_id")
        idempotency = None
        if scoped_key is not None:
            idempotency = {"key_id": scoped_key.info_key_id,
                           "fingerprint": info_fingerprint(channel, content, items,
                                                           self.hash_secret)}
        for attempt in range(retries):
            request = self.get_request(request_id)
            if idempotency is not None and self.already_recorded(request, idempotency):
                return request, False
            if refuse_closed and request.closed:
                raise RequestClosed(
                    f"case {request.reference} is closed: information can no longer be "
                    "added to it (ask for it to be reopened by calling the hotline)")
            request.provide_info(reference=request.reference, channel=channel,
                                 content=content, items=items,
                                 attachments=given.get("attachments") or [],
                                 inbound_message_id=inbound_message_id, trace=trace,
                                 mail_auth=given.get("mail_auth"), mail=given.get("mail"),
                                 idempotency=idempotency)
            note_incident_date_given(request, content, self.clock(), self.filing_check,
                                     trace)
            aggregates: list[Any] = [request]
            if inbound_message_id:
                aggregates.append(MessageIndex(message_id=inbound_message_id,
                                               request_id=request_id, direction="in",
                                               trace=trace))
            try:
                self.save(*aggregates)
                return request, True
            except IntegrityError:
                if inbound_message_id or attempt == retries - 1:
                    raise  # email: the caller looks again (the Message-ID may be known now)
                backoff(attempt)  # the case changed meanwhile (closed?): look again
        raise AssertionError("unreachable")

    @staticmethod
    def already_recorded(request: Request, idempotency: dict[str, str]) -> bool:
        """Whether this key already brought this information to the request."""
        known = request.info_keys.get(idempotency["key_id"])
        if known is None:
            return False
        if known != idempotency["fingerprint"]:
            raise IdempotencyConflict(
                f"Idempotency-Key already brought other information to {request.reference}; "
                "use a new key for new information")
        return True
