"""The roles of staff users (the users file names them)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"  # counter and hotline staff
    SUPPORT = "support"
    DEPARTMENT = "department"  # a member of one department
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"  # reads everything, changes nothing
    OPERATOR = "operator"  # runs the system (relay replay, triage reload…); no case data


#: the roles of people who work on cases (every role but the operator's)
CASE_ROLES: tuple[Role, ...] = (Role.AGENT, Role.SUPPORT, Role.DEPARTMENT, Role.SUPERVISOR,
                                Role.AUDITOR)
