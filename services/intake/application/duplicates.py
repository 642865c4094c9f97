"""Possible duplicates across channels: found when a request is received (in the same save,
``receiving.py``), then confirmed as a merge or dismissed by staff.

A confirmed merge is an event on both requests: the later one is marked merged into the
earlier (``DuplicateMerged``), the earlier records it (``DuplicateAbsorbed``). Intake does
not close anything: closing is routing's, and staff close the merged case there (the
console says so)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from eventsourcing.persistence import IntegrityError

from hotro.services.intake.application.base import backoff
from hotro.services.intake.application.duplicate_index import DuplicateIndex
from hotro.services.intake.application.personal_data import PersonalData
from hotro.services.intake.domain import Request
from hotro.services.intake.domain.duplicates import normalise_order_ref, possible_duplicates
from hotro.shared.privacy.sealing import keyed_hash


class DuplicateLinkNotFound(LookupError):
    pass


class DuplicateAlreadyDecided(ValueError):
    pass


class Duplicates(PersonalData):
    def order_key(self, order_ref: str | None) -> str | None:
        """The keyed hash of an order number as written any way (``normalise_order_ref``)."""
        normal = normalise_order_ref(order_ref or "")
        return keyed_hash(self.hash_secret, f"order:{normal}") if normal else None

    @cached_property
    def duplicate_index(self) -> DuplicateIndex:
        """Built on first use: a process that receives nothing never reads the log for it."""
        return DuplicateIndex(self, self.duplicate_window, self.order_key)

    def customer_links(self, *, request_id: uuid.UUID, reference: str,
                       contact_hashes: dict[str, str], product: str | None,
                       order_ref: str | None, now: datetime, trace: dict[str, str | None]
                       ) -> tuple[list[Any], list[dict[str, Any]]]:
        """The earlier requests this one possibly duplicates (second item), found in the
        in-memory index (``duplicate_index.py``). The first item, aggregates to save with
        the request, is always empty now: the index follows the log instead."""
        order_key = self.order_key(order_ref)
        if product is None and order_key is None:
            return [], []  # about nothing it could share with another request
        if self.duplicate_window <= timedelta(0):
            return [], []  # switched off
        entries = self.duplicate_index.entries(contact_hashes)
        candidates = possible_duplicates(entries, request_id=str(request_id),
                                         product=product, order_key=order_key,
                                         received_at=now, window=self.duplicate_window)
        return [], candidates

    def confirm_duplicate(self, request_id: uuid.UUID, other_id: uuid.UUID, *, reason: str,
                          trace: dict[str, str | None]) -> Request:
        """Merge the request into the earlier one it possibly duplicates: an event on
        both, in one save."""

        def merge(request: Request, other: Request) -> list[Request]:
            request.confirm_duplicate(other, reason=reason, trace=trace)
            other.absorb_duplicate(request, reason=reason, trace=trace)
            return [request, other]

        return self._decide(request_id, other_id, merge)

    def dismiss_duplicate(self, request_id: uuid.UUID, other_id: uuid.UUID, *, reason: str,
                          trace: dict[str, str | None]) -> Request:
        def dismiss(request: Request, other: Request) -> list[Request]:
            request.dismiss_duplicate(other, reason=reason, trace=trace)
            return [request]

        return self._decide(request_id, other_id, dismiss)

    def _decide(self, request_id: uuid.UUID, other_id: uuid.UUID,
                decide: Callable[[Request, Request], list[Request]], retries: int = 10
                ) -> Request:
        """Load both, decide, save; again from fresh copies when either request changed
        meanwhile (intake's own handlers note progress on them)."""
        for attempt in range(retries):
            request, other = self._link(request_id, other_id)
            try:
                changed = decide(request, other)
            except ValueError as exc:
                raise DuplicateAlreadyDecided(str(exc)) from None
            try:
                self.save(*changed)
                return request
            except IntegrityError:
                if attempt == retries - 1:
                    raise
                backoff(attempt)
        raise AssertionError("unreachable")

    def _link(self, request_id: uuid.UUID, other_id: uuid.UUID) -> tuple[Request, Request]:
        request = self.get_request(request_id)
        if str(other_id) not in request.duplicates:
            raise DuplicateLinkNotFound(f"{other_id} is not a possible duplicate of "
                                        f"{request.reference}")
        return request, self.get_request(other_id)
