"""Who may act on a case; a refused actor leaves no trace on it."""

from __future__ import annotations

import pytest

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.permissions import (
    Forbidden,
    authorize,
    authorize_read,
    permitted_actions,
)
from hotro.services.routing.domain.workflow import Action
from tests.unit.routing.builders import at, open_case, trace

SUPPORT = trace("nv.lan", role="support")


def referred_case(department: str = "giao-van") -> Case:
    case = open_case()
    case.start_analysis(trace=SUPPORT, now=at(hours=1))
    case.refer(department=department, question="Đơn hàng đang ở đâu?", trace=SUPPORT,
               now=at(hours=2))
    return case


def test_e_department_member_trying_to_close_is_forbidden_and_no_event_is_added() -> None:
    case = referred_case("giao-van")
    case.collect_events()
    version = case.version

    def close_as_department_member() -> None:
        authorize("department", Action.CLOSE, case, "giao-van")
        case.close(reason="Xong", trace=trace("gv.an", role="department"), now=at(1))

    with pytest.raises(Forbidden, match="role 'department' may not close"):
        close_as_department_member()
    assert case.version == version and case.collect_events() == []


@pytest.mark.parametrize("action", [Action.RECORD_DEPARTMENT_RESPONSE, Action.ADD_NOTE])
def test_department_member_records_its_answer_and_notes_on_its_own_cases(
        action: Action) -> None:
    authorize("department", action, referred_case("giao-van"), "giao-van")


@pytest.mark.parametrize("action", [Action.REQUEST_REPLY, Action.RECORD_REPLY_SENT,
                                    Action.CLOSE, Action.FORCE_CLOSE, Action.REFER,
                                    Action.RESOLVE, Action.WITHDRAW])
def test_department_member_neither_replies_nor_closes(action: Action) -> None:
    with pytest.raises(Forbidden):
        authorize("department", action, referred_case("giao-van"), "giao-van")


@pytest.mark.parametrize("actor_department", ["ke-toan-hoan-tien", None])
def test_department_member_cannot_touch_another_departments_case(
        actor_department: str | None) -> None:
    case = referred_case("giao-van")
    with pytest.raises(Forbidden):
        authorize("department", Action.ADD_NOTE, case, actor_department)
    with pytest.raises(Forbidden):
        authorize_read("department", case, actor_department)


def test_department_member_cannot_act_on_a_case_never_referred() -> None:
    with pytest.raises(Forbidden, match="referred to no department"):
        authorize("department", Action.ADD_NOTE, open_case(), "giao-van")


@pytest.mark.parametrize("action", list(Action))
def test_auditor_only_reads(action: Action) -> None:
    case = referred_case()
    authorize_read("auditor", case, None)
    with pytest.raises(Forbidden, match="role 'auditor'"):
        authorize("auditor", action, case, None)


@pytest.mark.parametrize("action", [Action.REFER, Action.REFUSE, Action.CLOSE,
                                    Action.APPLY_TRIAGE, Action.REOPEN])
def test_agents_take_information_and_answer_but_do_not_decide(action: Action) -> None:
    with pytest.raises(Forbidden):
        authorize("agent", action, open_case(), None)


def test_support_cannot_reopen_or_override_but_supervisor_can() -> None:
    case = open_case()
    for action in (Action.REOPEN, Action.FORCE_CLOSE):
        with pytest.raises(Forbidden):
            authorize("support", action, case, None)
    for action in set(Action) - {Action.RECORD_DEPARTMENT_RESPONSE}:
        authorize("supervisor", action, case, None)


def test_a_departments_answer_is_its_own_or_a_supervisors_on_its_behalf() -> None:
    case = referred_case()
    for role in ("support", "supervisor"):
        with pytest.raises(Forbidden):
            authorize(role, Action.RECORD_DEPARTMENT_RESPONSE, case, None)
    with pytest.raises(Forbidden):
        authorize("support", Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF, case, None)
    authorize("supervisor", Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF, case, None)


def test_supervisor_has_every_support_permission_plus_reopen_and_override() -> None:
    case = referred_case()
    support = set(permitted_actions("support", case, None))
    supervisor = set(permitted_actions("supervisor", case, None))
    assert support <= supervisor
    # reopen is not legal in this state; a department's answer only on its behalf
    assert supervisor - support == {Action.FORCE_CLOSE,
                                    Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF}


def test_permitted_actions_combine_role_and_state() -> None:
    case = referred_case("giao-van")
    assert permitted_actions("department", case, "giao-van") == [
        Action.RECORD_DEPARTMENT_RESPONSE, Action.ADD_NOTE]
    assert permitted_actions("auditor", case, None) == []


def test_unknown_role_is_forbidden() -> None:
    with pytest.raises(Forbidden, match="unknown role 'admin'"):
        authorize("admin", Action.ADD_NOTE, open_case(), None)


@pytest.mark.parametrize("action", list(Action))
def test_operators_neither_read_nor_act_on_cases(action: Action) -> None:
    case = referred_case()
    with pytest.raises(Forbidden, match="operators do not read cases"):
        authorize_read("operator", case, None)
    with pytest.raises(Forbidden, match="role 'operator'"):
        authorize("operator", action, case, None)
