"""Random action sequences: the case never reaches an invalid state, accepted actions
appear in its timeline and refused ones leave it untouched; storage never changes it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from eventsourcing.application import Application
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.triage import TriageDecision
from hotro.services.routing.domain.workflow import ENDED_STATES, Action, CaseError, State
from hotro.shared.clock import VIETNAM_TZ
from tests.unit.routing.builders import T0, open_case, trace

REOPEN_DAYS = 10
DEPARTMENTS = ["giao-van", "ke-toan-hoan-tien"]
ITEMS = ["hoa-don", "anh-san-pham", "ma-don-hang"]

EVENT_OF = {
    Action.APPLY_TRIAGE: "TriageApplied",
    Action.START_ANALYSIS: "AnalysisStarted",
    Action.REQUEST_INFO: "InfoRequested",
    Action.RECORD_INFO_PROVIDED: "InfoProvided",
    Action.RESOLVE: "ResolvedBySupport",
    Action.REFER: "ReferredToDepartment",
    Action.RECORD_DEPARTMENT_RESPONSE: "DepartmentResponded",
    Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF: "DepartmentResponded",
    Action.REQUEST_REPLY: "ReplyRequested",
    Action.RECORD_REPLY_SENT: "ReplySent",
    Action.CLOSE: "Closed",
    Action.FORCE_CLOSE: "Closed",
    Action.REFUSE: "Refused",
    Action.WITHDRAW: "Withdrawn",
    Action.REOPEN: "Reopened",
    Action.ADD_NOTE: "NoteAdded",
    Action.ACCEPT_LATE_FILING: "LateFilingAccepted",
    Action.REFUSE_LATE_FILING: "Refused",
    Action.DISMISS_FOLLOW_UP: "FollowUpDismissed",
}

#: The state each accepted action leads to (None: unchanged), written out independently of
#: the aggregate so the test does not merely restate its code.
TARGET: dict[Action, State | None] = {
    Action.APPLY_TRIAGE: None,
    Action.START_ANALYSIS: State.ANALYSING,
    Action.REQUEST_INFO: State.AWAITING_CUSTOMER_INFO,
    Action.RECORD_INFO_PROVIDED: State.ANALYSING,
    Action.RESOLVE: State.RESOLVED_BY_SUPPORT,
    Action.REFER: State.REFERRED_TO_DEPARTMENT,
    Action.RECORD_DEPARTMENT_RESPONSE: State.DEPARTMENT_RESPONDED,
    Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF: State.DEPARTMENT_RESPONDED,
    Action.REQUEST_REPLY: State.REPLY_DUE,
    Action.RECORD_REPLY_SENT: State.REPLIED,
    Action.CLOSE: State.CLOSED,
    Action.FORCE_CLOSE: State.CLOSED,
    Action.REFUSE: State.REFUSED,
    Action.WITHDRAW: State.WITHDRAWN,
    Action.REOPEN: State.ANALYSING,
    Action.ADD_NOTE: None,
    Action.ACCEPT_LATE_FILING: State.ANALYSING,
    Action.REFUSE_LATE_FILING: State.REFUSED,
    Action.DISMISS_FOLLOW_UP: None,
}

#: The states an event may legally follow, as the process describes them.
FOLLOWS: dict[str, set[str]] = {
    "AnalysisStarted": {"new"},
    "InfoRequested": {"analysing"},
    "ResolvedBySupport": {"analysing"},
    # after an answer on the department's behalf, the department adds its own
    "DepartmentResponded": {"referred_to_department", "department_responded"},
    "ReplyRequested": {"resolved_by_support", "department_responded"},
    "ReplySent": {"resolved_by_support", "department_responded", "reply_due"},
    "Refused": {"new", "analysing", "awaiting_customer_info", "awaiting_filing_review"},
    "LateFilingAccepted": {"awaiting_filing_review"},
    "Reopened": {"closed", "refused"},
}

SHORTCUTS = {Action.WITHDRAW, Action.FORCE_CLOSE, Action.REFUSE, Action.ADD_NOTE,
             Action.APPLY_TRIAGE}

Draw = Callable[[st.SearchStrategy[Any]], Any]


def command_for(action: Action, case: Case, draw: Draw, now: datetime) -> Callable[[], None]:
    """A call of ``action`` with drawn arguments: mostly valid, sometimes not."""
    who = trace(draw(st.sampled_from(["nv.lan", "nv.hung", "gs.thu"])))
    today = now.astimezone(VIETNAM_TZ).date()
    text = draw(st.sampled_from(["Nội dung", " ", "x"]))
    common: dict[str, Any] = {"trace": who, "now": now}
    calls: dict[Action, Callable[[], None]] = {
        Action.APPLY_TRIAGE: lambda: case.apply_triage(
            TriageDecision(rule_id="r", outcome="support_can_resolve", explanation="e"),
            **common),
        Action.START_ANALYSIS: lambda: case.start_analysis(**common),
        Action.REQUEST_INFO: lambda: case.request_info(
            items=draw(st.lists(st.sampled_from(ITEMS), max_size=3)),
            due_date=today + timedelta(days=draw(st.integers(-1, 7))), **common),
        Action.RECORD_INFO_PROVIDED: lambda: case.record_info_provided(
            items=draw(st.lists(st.sampled_from(ITEMS), max_size=2, unique=True)),
            channel=draw(st.sampled_from(["email", "counter", "fax"])), **common),
        Action.RESOLVE: lambda: case.resolve(resolution=text, **common),
        Action.REFER: lambda: case.refer(
            department=draw(st.sampled_from(DEPARTMENTS)), question=text, **common),
        Action.RECORD_DEPARTMENT_RESPONSE: lambda: case.record_department_response(
            department=draw(st.sampled_from(DEPARTMENTS)), result=text, **common),
        Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF:
            lambda: case.record_department_response_on_behalf(
                department=draw(st.sampled_from(DEPARTMENTS)), result=text, **common),
        Action.REQUEST_REPLY: lambda: case.request_reply(
            method=draw(st.sampled_from(["email", "letter", "pigeon"])), content=text,
            **common),
        Action.RECORD_REPLY_SENT: lambda: case.record_reply_sent(
            method=draw(st.sampled_from(["phone", "in_person", "email"])), proof=text,
            sent_at=now, **common),
        Action.CLOSE: lambda: case.close(reason=text, **common),
        Action.FORCE_CLOSE: lambda: case.force_close(reason=text, **common),
        Action.REFUSE: lambda: case.refuse(
            reason=draw(st.sampled_from(["late_filing", "not_eligible", "bored"])),
            explanation=text, **common),
        Action.WITHDRAW: lambda: case.withdraw(**common),
        Action.REOPEN: lambda: case.reopen(reason=text, within_days=REOPEN_DAYS, **common),
        Action.ADD_NOTE: lambda: case.add_note(text=text, **common),
        Action.ACCEPT_LATE_FILING: lambda: case.accept_late_filing(waiver_reason=text,
                                                                   **common),
        Action.REFUSE_LATE_FILING: lambda: case.refuse_late_filing(filing_window_days=7,
                                                                   **common),
        Action.DISMISS_FOLLOW_UP: lambda: case.dismiss_follow_up(reason=text, **common),
    }
    return calls[action]


class CaseWorkflow(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.case = open_case(now=self.now)
        self.accepted = ["Opened"]
        self.app: Application[uuid.UUID] = Application(
            env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    @rule(hours=st.integers(min_value=0, max_value=24 * 8))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        case = self.case
        # Mostly pick actions legal now, often skipping the shortcuts to an end: uniform
        # choices would rarely get past the first steps.
        mode = data.draw(st.sampled_from(["any", "legal", "progress", "progress"]))
        choices = list(Action) if mode == "any" else case.allowed_actions()
        if mode == "progress":
            choices = [a for a in choices if a not in SHORTCUTS] or choices
        action = data.draw(st.sampled_from(choices))
        command = command_for(action, case, data.draw, self.now)
        before_state, before_version, before = case.state, case.version, repr(case)
        try:
            command()
        except CaseError:
            assert case.version == before_version
            assert repr(case) == before  # nothing changed, timeline included
            return
        self.accepted.append(EVENT_OF[action])
        event(f"reached {case.state.value}")
        assert case.version == before_version + 1
        expected = TARGET[action] or before_state
        assert case.state is expected, (action, before_state, case.state)

    @rule()
    def save_and_reload(self) -> None:
        self.app.save(self.case)
        reloaded: Case = self.app.repository.get(self.case.id)
        assert reloaded == self.case
        self.case = reloaded

    @invariant()
    def timeline_holds_exactly_the_accepted_actions(self) -> None:
        assert [entry["event"] for entry in self.case.timeline] == self.accepted
        assert self.case.version == len(self.case.timeline)
        assert self.case.timeline[-1]["state"] == self.case.state.value
        times = [entry["at"] for entry in self.case.timeline]
        assert times == sorted(times)

    @invariant()
    def events_only_follow_the_states_the_process_allows(self) -> None:
        timeline = self.case.timeline
        for previous, entry in pairwise(timeline):
            allowed = FOLLOWS.get(entry["event"])
            assert allowed is None or previous["state"] in allowed, (previous, entry)

    @invariant()
    def state_is_consistent(self) -> None:
        case = self.case
        assert isinstance(case.state, State)
        assert (case.state in ENDED_STATES) == (case.ended_at is not None)
        assert (case.state in ENDED_STATES) == (case.outcome is not None)
        if case.state in (State.REFERRED_TO_DEPARTMENT, State.DEPARTMENT_RESPONDED):
            assert case.department is not None
            assert case.referrals[-1]["department"] == case.department
            responded = case.referrals[-1]["response"] is not None
            assert responded == (case.state is State.DEPARTMENT_RESPONDED)
        if case.state is State.RESOLVED_BY_SUPPORT:
            assert case.resolution
        if case.state is State.REPLIED:
            assert case.reply_sent is not None
        if case.state is State.CLOSED and case.outcome and not case.outcome["forced"]:
            assert case.reply_sent is not None, "closed without ever replying"
        if case.state is State.AWAITING_CUSTOMER_INFO:
            assert case.open_checklist_items and case.info_due_date
        requested = sum(1 for e in case.timeline if e["event"] == "InfoRequested")
        assert case.info_rounds == requested
        assert set(case.checklist) <= set(ITEMS)


TestCaseWorkflow = CaseWorkflow.TestCase
TestCaseWorkflow.settings = settings(max_examples=200, stateful_step_count=40, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
