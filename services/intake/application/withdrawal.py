"""The customer withdraws their request on their case's page: intake records that they
asked (``Request.WithdrawalAsked``, published as ``WithdrawalRequested``); routing, which
owns the case's state, withdraws it if it is still open."""

from __future__ import annotations

import uuid

from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application.base import IntakeBase, backoff
from hotro.services.intake.application.info import RequestClosed
from hotro.services.intake.domain import Request


class Withdrawals(IntakeBase):
    def ask_withdrawal(self, request_id: uuid.UUID, *, reason: str,
                       trace: dict[str, str | None], retries: int = 5) -> tuple[Request, bool]:
        """Record the customer's request to withdraw; (the request, whether it was new: a
        second ask records nothing). RequestClosed for a case that has already ended."""
        for attempt in range(retries):
            request = self.get_request(request_id)
            if request.closed:
                raise RequestClosed(f"case {request.reference} has already ended")
            if not request.ask_withdrawal(reason=reason, trace=trace):
                return request, False
            try:
                self.save(request)
                return request, True
            except IntegrityError:
                if attempt == retries - 1:
                    raise
                backoff(attempt)  # the case changed meanwhile (closed?): look again
        raise AssertionError("unreachable")
