"""Staff users and their API tokens, from configuration (no secrets in code).

The users file (settings ``users_file``) is TOML::

    [[users]]
    id = "nv.lan"
    name = "Nguyễn Thị Lan"
    role = "support"            # agent | support | department | supervisor | auditor
    token = "…at least 16 characters…"
    # department = "giao-van"   # only, and always, for role "department"

Only a SHA-256 digest of each token is kept in memory.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hotro.shared.staff.roles import Role


class StaffUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    name: str
    role: Role
    department: str | None = None
    token: str = Field(min_length=16, repr=False)

    @model_validator(mode="after")
    def _department_iff_department_role(self) -> StaffUser:
        if self.role is Role.DEPARTMENT and not self.department:
            raise ValueError("a department member needs a department")
        if self.role is not Role.DEPARTMENT and self.department:
            raise ValueError(f"role {self.role.value!r} takes no department")
        return self


class UsersFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    users: tuple[StaffUser, ...]

    @model_validator(mode="after")
    def _unique(self) -> UsersFile:
        ids = [u.id for u in self.users]
        if len(set(ids)) != len(ids):
            raise ValueError(f"user ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        if len({u.token for u in self.users}) != len(self.users):
            raise ValueError("two users share a token")
        return self


class Directory:
    def __init__(self, users: Iterable[StaffUser]) -> None:
        self.users = tuple(users)
        self._by_digest = {_digest(u.token): u for u in self.users}

    def authenticate(self, token: str) -> StaffUser | None:
        # A dict lookup on a digest: the timing reveals nothing about the tokens.
        return self._by_digest.get(_digest(token))

    def check_departments(self, known: frozenset[str]) -> None:
        for user in self.users:
            if user.department is not None and user.department not in known:
                raise UsersFileError(f"user '{user.id}': unknown department '{user.department}'")


class UsersFileError(ValueError):
    """The users file is unreadable or inconsistent; the message names the entry."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: 'field.path: message'."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'entry'}: {problem['msg']}"
        for problem in error.errors())


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def load_directory(path: str | None) -> Directory:
    if path is None:
        return Directory(())
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"users file {path}: {exc}") from None
    try:
        return Directory(UsersFile.model_validate(data).users)
    except ValidationError as exc:
        raise UsersFileError(f"users file {path}: {describe_validation_error(exc)}") from None


#: One demo user per role, so a newcomer can try every step (``hotro up``).
DEMO_USERS: tuple[tuple[str, str, Role, str | None], ...] = (
    ("demo.agent", "Trần Văn An (quầy / hotline)", Role.AGENT, None),
    ("demo.support", "Nguyễn Thị Lan (hỗ trợ)", Role.SUPPORT, None),
    ("demo.kythuat", "Lê Minh Đức (Kỹ thuật / Bảo hành)", Role.DEPARTMENT, "ky-thuat-bao-hanh"),
    ("demo.supervisor", "Phạm Thu Hà (giám sát)", Role.SUPERVISOR, None),
    ("demo.auditor", "Hoàng Quốc Bảo (kiểm soát)", Role.AUDITOR, None),
)


def write_demo_users(path: Path) -> dict[str, str]:
    """Write a users file with one demo user per role and fresh random tokens; return
    ``{role: token}``. The file is readable by its owner only."""
    tokens = {role.value: secrets.token_urlsafe(24) for _, _, role, _ in DEMO_USERS}
    lines = ["# Demo staff users written by `hotro up`. Tokens are secrets: do not commit.", ""]
    for user_id, name, role, department in DEMO_USERS:
        lines += ["[[users]]", f"id = {json.dumps(user_id)}",
                  f"name = {json.dumps(name, ensure_ascii=False)}",
                  f"role = {json.dumps(role.value)}"]
        if department:
            lines.append(f"department = {json.dumps(department)}")
        lines += [f"token = {json.dumps(tokens[role.value])}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
    load_directory(str(path))  # what we wrote must load
    return tokens
