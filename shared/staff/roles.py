"""The roles of staff users (the users file names them)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"  # counter and hotline staff
    SUPPORT = "support"
    DEPARTMENT = "department"  # a member of one department
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"  # reads everything, changes nothing
