"""Who may do what to a case. Pure: the caller passes the actor's role and department.

Whether the action fits the case's state is the aggregate's business (IllegalTransition);
this module only answers "is this person allowed to try".
"""

from __future__ import annotations

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.workflow import Action
from hotro.shared.staff.roles import Role


class Forbidden(Exception):
    """Not for this person; ``code`` and ``params`` as ``CaseError``'s."""

    def __init__(self, reason: str, code: str = "forbidden", **params: str) -> None:
        self.reason = reason
        self.code = code
        self.params = params
        super().__init__(reason)


# Front-line staff take information and answer; decisions with consequences (refusing,
# referring, closing) stay with support.
AGENT_ACTIONS = frozenset({
    Action.START_ANALYSIS,
    Action.REQUEST_INFO,
    Action.RECORD_INFO_PROVIDED,
    Action.RESOLVE,
    Action.REQUEST_REPLY,
    Action.RECORD_REPLY_SENT,
    Action.WITHDRAW,
    Action.ADD_NOTE,
})
# A department's answer is its own: only its members record it. An answer received by
# phone or on paper is recorded on its behalf by a supervisor, as an action of its own.
# Reviewing a late filing (waiving the deadline or refusing with the legal explanation) is a
# supervisor's decision, like reopening (or not) after a customer's follow-up.
SUPPORT_ACTIONS = frozenset(Action) - {Action.REOPEN, Action.FORCE_CLOSE,
                                       Action.RECORD_DEPARTMENT_RESPONSE,
                                       Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF,
                                       Action.ACCEPT_LATE_FILING, Action.REFUSE_LATE_FILING,
                                       Action.DISMISS_FOLLOW_UP}
SUPERVISOR_ACTIONS = frozenset(Action) - {Action.RECORD_DEPARTMENT_RESPONSE}
DEPARTMENT_ACTIONS = frozenset({Action.RECORD_DEPARTMENT_RESPONSE, Action.ADD_NOTE})

ACTIONS_BY_ROLE: dict[Role, frozenset[Action]] = {
    Role.AGENT: AGENT_ACTIONS,
    Role.SUPPORT: SUPPORT_ACTIONS,
    Role.DEPARTMENT: DEPARTMENT_ACTIONS,
    Role.SUPERVISOR: SUPERVISOR_ACTIONS,
    Role.AUDITOR: frozenset(),
    Role.OPERATOR: frozenset(),  # runs the system; acts on no case
}


def authorize(role: str, action: Action, case: Case, actor_department: str | None) -> None:
    """Raise Forbidden unless ``role`` may perform ``action`` on ``case``."""
    known_role = _role(role)
    if action not in ACTIONS_BY_ROLE[known_role]:
        raise Forbidden(f"role '{known_role}' may not {action.value}", "role_may_not",
                        role=known_role.value, action=action.value)
    if known_role is Role.DEPARTMENT:
        _require_own_department(case, actor_department)


def authorize_read(role: str, case: Case, actor_department: str | None) -> None:
    """Department members see only cases ever referred to their department; operators see
    no case (they run the system, not the process)."""
    if _role(role) is Role.OPERATOR:
        raise Forbidden("operators do not read cases")
    if _role(role) is Role.DEPARTMENT:
        _require_department(actor_department)
        if actor_department not in {r["department"] for r in case.referrals}:
            raise Forbidden(f"case {case.reference} was never referred to "
                            f"department '{actor_department}'", "never_referred_here",
                            department=actor_department or "")


def permitted_actions(role: str, case: Case, actor_department: str | None) -> list[Action]:
    """Actions this person may take on the case now (authorised AND legal in its state)."""
    permitted = []
    for action in case.allowed_actions():
        try:
            authorize(role, action, case, actor_department)
        except Forbidden:
            continue
        permitted.append(action)
    return permitted


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Forbidden(f"unknown role {role!r}") from None


def _require_department(actor_department: str | None) -> None:
    if not actor_department:
        raise Forbidden("a department member must belong to a department")


def _require_own_department(case: Case, actor_department: str | None) -> None:
    _require_department(actor_department)
    if case.department != actor_department:
        referred = f"'{case.department}'" if case.department else "no department"
        raise Forbidden(f"case {case.reference} is referred to {referred}, "
                        f"not to department '{actor_department}'", "referred_elsewhere",
                        department=actor_department or "")
