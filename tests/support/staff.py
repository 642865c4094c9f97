"""Staff users of the tests: one per role, with fixed tokens (test data, not secrets)."""

from __future__ import annotations

import json
from pathlib import Path

from hotro.shared.staff.roles import Role
from hotro.shared.staff.users import Directory, StaffUser, load_directory

#: role -> (user id, token)
USERS: dict[str, tuple[str, str]] = {
    "agent": ("test.agent", "test-token-agent-0123456789"),
    "support": ("test.support", "test-token-support-0123456789"),
    "department": ("test.kythuat", "test-token-department-0123456789"),
    "supervisor": ("test.supervisor", "test-token-supervisor-0123456789"),
    "auditor": ("test.auditor", "test-token-auditor-0123456789"),
}
DEPARTMENT = "ky-thuat-bao-hanh"
#: the operator (relay replay, triage reload…): in the users file and the directory, but
#: not in USERS (people of the console, who work on cases)
OPERATOR: tuple[str, str] = ("test.operator", "test-token-operator-0123456789")


def _token(role: str) -> str:
    return OPERATOR[1] if role == "operator" else USERS[role][1]


def auth(role: str = "support") -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(role)}"}


def staff_id(role: str = "support") -> str:
    return OPERATOR[0] if role == "operator" else USERS[role][0]


def write_users_file(path: Path) -> Path:
    lines: list[str] = []
    for role, (user_id, token) in USERS.items():
        lines += ["[[users]]", f"id = {json.dumps(user_id)}", f'name = "Test {role}"',
                  f"role = {json.dumps(role)}"]
        if role == "department":
            lines.append(f"department = {json.dumps(DEPARTMENT)}")
        lines += [f"token = {json.dumps(token)}", ""]
    lines += ["[[users]]", f"id = {json.dumps(OPERATOR[0])}", 'name = "Test operator"',
              'role = "operator"', f"token = {json.dumps(OPERATOR[1])}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    load_directory(str(path))  # what we wrote must load
    return path


def directory() -> Directory:
    return Directory([*(StaffUser(id=user_id, name=f"Test {role}", role=Role(role), token=token,
                                  department=DEPARTMENT if role == "department" else None)
                        for role, (user_id, token) in USERS.items()),
                      StaffUser(id=OPERATOR[0], name="Test operator", role=Role.OPERATOR,
                                token=OPERATOR[1])])
