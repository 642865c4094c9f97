"""Bearer-token authentication of staff requests, for every service's FastAPI routes.

``Authorization: Bearer <token>``; 401 (with ``WWW-Authenticate: Bearer``) for a missing
or unknown token, 403 for a role the route does not admit. The tokens are those of the
users file (``HOTRO_USERS_FILE``), the same file for every service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import Header, HTTPException

from hotro.shared.staff.roles import Role
from hotro.shared.staff.users import Directory, StaffUser

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown token"},
    403: {"description": "not allowed for this user"},
}


def bearer_user(directory: Directory) -> Callable[..., StaffUser]:
    """A FastAPI dependency: the authenticated staff user, or 401."""

    def current_user(authorization: Annotated[str | None, Header()] = None) -> StaffUser:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)",
                                {"WWW-Authenticate": "Bearer"})
        user = directory.authenticate(authorization.split(" ", 1)[1].strip())
        if user is None:
            raise HTTPException(401, "unknown token", {"WWW-Authenticate": "Bearer"})
        return user

    return current_user


def optional_bearer_user(directory: Directory) -> Callable[..., StaffUser | None]:
    """None without an Authorization header (a customer); else as ``bearer_user``."""
    required = bearer_user(directory)

    def maybe_user(authorization: Annotated[str | None, Header()] = None
                   ) -> StaffUser | None:
        return None if authorization is None else required(authorization)

    return maybe_user


def require_role(user: StaffUser, roles: Iterable[Role], what: str) -> None:
    allowed = frozenset(roles)
    if user.role not in allowed:
        raise HTTPException(403, f"role '{user.role.value}' may not {what}")


#: who may read customers' personal data (not departments: they see their referrals)
PERSONAL_DATA_READERS = (Role.AGENT, Role.SUPPORT, Role.SUPERVISOR, Role.AUDITOR)
#: who may record what happened to a customer message (calls, visits, posted letters)
CUSTOMER_CONTACT_STAFF = (Role.AGENT, Role.SUPPORT, Role.SUPERVISOR)
