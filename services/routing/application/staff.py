"""Staff act on a case: authorised for their role, completed and checked against the
catalogue, then checked by the aggregate itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotro.services.routing.domain.case import Case, TraceDict
from hotro.services.routing.domain.catalogue import Catalogue
from hotro.services.routing.domain.permissions import authorize
from hotro.services.routing.domain.workflow import Action, InvalidCommand
from hotro.shared.calendar import DeadlinePolicy


def perform(case: Case, action: Action, *, role: str, actor_department: str | None,
            catalogue: Catalogue, deadline_policy: DeadlinePolicy, trace: TraceDict,
            now: datetime, **arguments: Any) -> None:
    """Trigger ``action``'s event on ``case``, or raise (Forbidden, a CaseError) with no
    event triggered. ``actor_department``: the department of a department member
    (``department`` in ``arguments`` is the action's own, e.g. where to refer)."""
    authorize(role, action, case, actor_department)
    if action is Action.REOPEN:
        arguments.setdefault("within_days", catalogue.policy.reopen_period_days)
    elif action is Action.REFUSE_LATE_FILING:
        days, _rule = deadline_policy.resolve_working_days("filing", case.product, case.category)
        arguments.setdefault("filing_window_days", days)
    elif action is Action.REFER:
        _known_department(catalogue, arguments["department"])
    elif action is Action.REQUEST_INFO:
        unknown = [i for i in arguments["items"] if i not in catalogue.checklist_codes]
        if unknown:
            raise InvalidCommand(f"unknown checklist items {unknown} "
                                 f"(known: {sorted(catalogue.checklist_codes)})",
                                 "unknown_value", field="items", value=", ".join(unknown))
    elif (action in (Action.RECORD_DEPARTMENT_RESPONSE,
                     Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF)
          and not arguments.get("department")):
        arguments["department"] = actor_department or case.department
    getattr(case, action.value)(**arguments, trace=trace, now=now)


def _known_department(catalogue: Catalogue, code: str) -> None:
    try:
        catalogue.department(code)
    except KeyError:
        raise InvalidCommand(f"unknown department {code!r} (known: "
                             f"{sorted(catalogue.department_codes)})", "unknown_value",
                             field="department", value=code) from None
