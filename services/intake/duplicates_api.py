"""Staff decide a possible duplicate (``application/duplicates.py``): merge the request
into the earlier one, or dismiss the link. Support and supervisors only (they decide what
a case is about; agents record, auditors read).

* ``POST /api/complaints/{id_or_reference}/duplicates/{other}/confirm``
* ``POST /api/complaints/{id_or_reference}/duplicates/{other}/dismiss``

``other``: the earlier request's id or reference, as listed in the request's
``possible_duplicates``. 404: no such link; 409: already decided."""

import asyncio
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from hotro.services.intake.application import (
    DuplicateAlreadyDecided,
    DuplicateLinkNotFound,
    IntakeApplication,
    RequestNotFound,
)
from hotro.services.intake.domain import Request
from hotro.services.intake.hygiene import OPTIONAL_LINE
from hotro.shared.eventstore.trace import Trace
from hotro.shared.runtime.openapi import Refused
from hotro.shared.staff.http import AUTH_ERRORS, Principal, staff
from hotro.shared.staff.roles import Role

#: who decides whether two requests are one matter
DUPLICATE_DECIDERS = (Role.SUPPORT, Role.SUPERVISOR)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Field(max_length=500), OPTIONAL_LINE] = None


class DecisionOut(BaseModel):
    reference: str
    other_reference: str
    status: Literal["merged", "dismissed"]
    merged_into: str | None = Field(None, description="set once the request is merged")


def possible_duplicates(request: Request) -> list[dict[str, Any]]:
    """The request's links to earlier requests, oldest first, with their status."""
    return sorted(request.duplicates.values(), key=lambda link: str(link["received_at"]))


def build_duplicates_router(app: IntakeApplication) -> APIRouter:
    router = APIRouter(prefix="/api/complaints", tags=["intake"], responses=AUTH_ERRORS)
    Decider = Annotated[Principal, Depends(staff(*DUPLICATE_DECIDERS))]

    async def decide(id_or_reference: str, other: str, what: Literal["merged", "dismissed"],
                     body: DecisionIn, member: Principal) -> DecisionOut:
        trace = Trace(actor_kind="staff", actor_id=member.id, actor_role=member.role.value,
                      correlation_id=str(uuid.uuid4())).as_dict()
        reason = body.reason or ("confirmed duplicate" if what == "merged" else "dismissed")

        def run() -> tuple[Request, Request]:
            request = app.find(id_or_reference)
            earlier = app.find(other)
            action = app.confirm_duplicate if what == "merged" else app.dismiss_duplicate
            return action(request.id, earlier.id, reason=reason, trace=trace), earlier

        try:
            request, earlier = await asyncio.to_thread(run)
        except (RequestNotFound, DuplicateLinkNotFound) as exc:
            raise HTTPException(404, f"no possible duplicate {other} of {id_or_reference}"
                                ) from exc
        except DuplicateAlreadyDecided as exc:
            raise Refused(409, str(exc), "duplicate_already_decided") from None
        return DecisionOut(reference=request.reference, other_reference=earlier.reference,
                           status=what, merged_into=request.merged_into)

    @router.post("/{id_or_reference}/duplicates/{other}/confirm", response_model=DecisionOut,
                 responses={404: {"description": "no such possible duplicate"},
                            409: {"description": "already decided"}})
    async def confirm(id_or_reference: str, other: str, body: DecisionIn,
                      member: Decider) -> DecisionOut:
        """Merge: the request is the same matter as the earlier one and is merged into it
        (an event on both). Close the merged case in routing afterwards."""
        return await decide(id_or_reference, other, "merged", body, member)

    @router.post("/{id_or_reference}/duplicates/{other}/dismiss", response_model=DecisionOut,
                 responses={404: {"description": "no such possible duplicate"},
                            409: {"description": "already decided"}})
    async def dismiss(id_or_reference: str, other: str, body: DecisionIn,
                      member: Decider) -> DecisionOut:
        """Not the same matter: the link is kept, marked dismissed (an event)."""
        return await decide(id_or_reference, other, "dismissed", body, member)

    return router
