"""Staff users and their API tokens, from configuration (no secrets in code)."""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.routing.domain.permissions import Role


class StaffUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    name: str
    role: Role
    department: str | None = None
    token: str = Field(min_length=16, repr=False)


class UsersFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    users: tuple[StaffUser, ...]


class Directory:
    def __init__(self, users: tuple[StaffUser, ...]) -> None:
        self._by_digest = {hashlib.sha256(u.token.encode()).digest(): u for u in users}

    def authenticate(self, token: str) -> StaffUser | None:
        digest = hashlib.sha256(token.encode()).digest()
        for known, user in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return user
        return None


def load_directory(path: str | None) -> Directory:
    if path is None:
        return Directory(())
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return Directory(UsersFile.model_validate(data).users)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ValueError(f"users file {path}: {exc}") from None
