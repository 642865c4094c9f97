"""The states of a case, the actions on it, and which action is legal in which state.

This table is the single source of the guards in ``case.py`` and of ``Case.allowed_actions``
(which the HTTP API can show as buttons)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    NEW = "new"
    #: filed after the filing deadline: a supervisor accepts (waiver) or refuses it
    AWAITING_FILING_REVIEW = "awaiting_filing_review"
    ANALYSING = "analysing"
    AWAITING_CUSTOMER_INFO = "awaiting_customer_info"
    RESOLVED_BY_SUPPORT = "resolved_by_support"
    REFERRED_TO_DEPARTMENT = "referred_to_department"
    DEPARTMENT_RESPONDED = "department_responded"
    REPLY_DUE = "reply_due"
    REPLIED = "replied"
    CLOSED = "closed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


ENDED_STATES = frozenset({State.CLOSED, State.REFUSED, State.WITHDRAWN})
OPEN_STATES = frozenset(State) - ENDED_STATES


class Action(StrEnum):
    APPLY_TRIAGE = "apply_triage"
    ACCEPT_LATE_FILING = "accept_late_filing"
    REFUSE_LATE_FILING = "refuse_late_filing"
    START_ANALYSIS = "start_analysis"
    REQUEST_INFO = "request_info"
    RECORD_INFO_PROVIDED = "record_info_provided"
    RESOLVE = "resolve"
    REFER = "refer"
    RECORD_DEPARTMENT_RESPONSE = "record_department_response"
    #: a supervisor records the department's answer received another way (phone, paper);
    #: the department may still add its own answer afterwards
    RECORD_DEPARTMENT_RESPONSE_ON_BEHALF = "record_department_response_on_behalf"
    REQUEST_REPLY = "request_reply"
    RECORD_REPLY_SENT = "record_reply_sent"
    CLOSE = "close"
    FORCE_CLOSE = "force_close"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    REOPEN = "reopen"
    #: a supervisor read the customer's follow-up to an ended case: no reopen needed
    DISMISS_FOLLOW_UP = "dismiss_follow_up"
    ADD_NOTE = "add_note"


ALLOWED_FROM: dict[Action, frozenset[State]] = {
    Action.APPLY_TRIAGE: frozenset({State.NEW, State.ANALYSING}),
    Action.ACCEPT_LATE_FILING: frozenset({State.AWAITING_FILING_REVIEW}),
    Action.REFUSE_LATE_FILING: frozenset({State.AWAITING_FILING_REVIEW}),
    Action.START_ANALYSIS: frozenset({State.NEW}),
    Action.REQUEST_INFO: frozenset({State.ANALYSING}),
    # Information that arrives while support is already analysing is still recorded.
    Action.RECORD_INFO_PROVIDED: frozenset({State.AWAITING_CUSTOMER_INFO, State.ANALYSING}),
    Action.RESOLVE: frozenset({State.ANALYSING}),
    # From department_responded: a follow-up question, or another department.
    Action.REFER: frozenset({State.ANALYSING, State.DEPARTMENT_RESPONDED}),
    # From department_responded only after an answer recorded on the department's behalf
    # (the case checks that): the department adds its own.
    Action.RECORD_DEPARTMENT_RESPONSE: frozenset({State.REFERRED_TO_DEPARTMENT,
                                                  State.DEPARTMENT_RESPONDED}),
    Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF: frozenset({State.REFERRED_TO_DEPARTMENT}),
    # From reply_due only after the last reply did not reach the customer (the case
    # checks that): sent again, by the same method or another.
    Action.REQUEST_REPLY: frozenset({State.RESOLVED_BY_SUPPORT, State.DEPARTMENT_RESPONDED,
                                     State.REPLY_DUE}),
    # Staff who answered by phone or in person record it without a reply request first.
    Action.RECORD_REPLY_SENT: frozenset(
        {State.RESOLVED_BY_SUPPORT, State.DEPARTMENT_RESPONDED, State.REPLY_DUE}
    ),
    Action.CLOSE: frozenset({State.REPLIED}),
    Action.FORCE_CLOSE: OPEN_STATES,
    Action.REFUSE: frozenset({State.NEW, State.ANALYSING, State.AWAITING_CUSTOMER_INFO}),
    Action.WITHDRAW: OPEN_STATES,
    Action.REOPEN: frozenset({State.CLOSED, State.REFUSED}),
    # only while a follow-up waits (the case checks that)
    Action.DISMISS_FOLLOW_UP: ENDED_STATES,
    Action.ADD_NOTE: frozenset(State),
}


#: A late filing found after receipt (the incident date given later) puts the case under
#: review only while no way forward was chosen: a decided, replied or ended case keeps its
#: course (the date is still recorded).
LATE_FILING_REVIEW_FROM = frozenset({State.NEW, State.ANALYSING,
                                     State.AWAITING_CUSTOMER_INFO})


class CaseError(Exception):
    """Base of the errors a case command raises; no event was triggered. ``code`` and
    ``params`` say the same as the message in a form a client can put in its own words
    (the console, in the viewer's language)."""

    code = "case_error"

    def __init__(self, message: str, code: str | None = None, **params: str) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params = params


class IllegalTransition(CaseError):
    code = "illegal_transition"

    def __init__(self, state: State, action: Action) -> None:
        self.state = state
        self.action = action
        allowed = ", ".join(sorted(ALLOWED_FROM[action])) or "nowhere"
        super().__init__(
            f"cannot {action.value} a case that is {state.value} (allowed when: {allowed})",
            state=state.value, action=action.value)


class InvalidCommand(CaseError, ValueError):
    """The action is legal in this state but its arguments are not; ``params["field"]``
    names the argument where one is at fault."""

    code = "invalid"


class ReopenPeriodExpired(CaseError):
    code = "reopen_period_expired"

    def __init__(self, ended_on: str, within_days: int, now: str) -> None:
        self.ended_on = ended_on
        self.within_days = within_days
        super().__init__(
            f"the case ended on {ended_on}; it can be reopened within {within_days} days, "
            f"and it is now {now}",
            ended_on=ended_on, within_days=str(within_days))
