"""Signed staff assertions: how a front end (the console) calls the services with the
rights of the person signed in to it.

``hs1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`` (shared/staff/signing.py) with
claims ``sub`` (user id), ``role``, ``dept`` (department or null), ``sid`` (the console
session), ``iat``, ``exp`` (seconds since the epoch) and ``kid``. They live minutes (300 s
by default): the console mints one per call or per few calls, never hands one to the
browser. A service accepts one only if the user still exists, is enabled and still has the
role and department the assertion states (shared/staff/http.py), so a demoted or disabled
user loses their rights at once, and a signed-out session within ``exp``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from hotro.shared.staff.roles import Role
from hotro.shared.staff.signing import (
    KeyRing,
    MalformedToken,
    TokenExpired,
    TokenNotYetValid,
    open_token,
    sign,
)

PREFIX = "hs1"
PURPOSE = "staff-assertion"
DEFAULT_TTL = timedelta(seconds=300)
#: the longest lifetime a verifier accepts, whatever the issuer wrote
MAX_TTL = timedelta(minutes=15)
#: clocks of the console and the services may differ this much
CLOCK_SKEW = timedelta(seconds=30)
MAX_LENGTH = 2048


class AssertionClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sub: StrictStr = Field(min_length=1, max_length=128)
    role: Role
    dept: StrictStr | None = Field(max_length=64)
    sid: StrictStr = Field(min_length=16, max_length=128)
    iat: StrictInt = Field(ge=0)
    exp: StrictInt = Field(ge=0)
    kid: StrictStr


def is_assertion(bearer: str) -> bool:
    """A bearer value starting with ``hs1.`` is an assertion; anything else an API token."""
    return bearer.startswith(PREFIX + ".")


def issue_assertion(*, user_id: str, role: Role, department: str | None, session_id: str,
                    keys: KeyRing, now: datetime, ttl: timedelta = DEFAULT_TTL) -> str:
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"an assertion lives more than 0 and at most {MAX_TTL}")
    issued = int(now.timestamp())
    return sign(PREFIX, {"sub": user_id, "role": role.value, "dept": department,
                         "sid": session_id, "iat": issued,
                         "exp": issued + int(ttl.total_seconds())}, keys)


def verify_assertion(token: str, keys: KeyRing, now: datetime, *,
                     skew: timedelta = CLOCK_SKEW, max_ttl: timedelta = MAX_TTL
                     ) -> AssertionClaims:
    """The claims of a genuine, current assertion; else an InvalidToken subclass:
    MalformedToken, UnknownKey (kid not in ``keys``), BadSignature, TokenExpired or
    TokenNotYetValid (issued in the future, or claiming a lifetime over ``max_ttl``)."""
    raw = open_token(PREFIX, token, keys, max_length=MAX_LENGTH)
    claims = _claims(raw)
    instant = now.timestamp()
    slack = skew.total_seconds()
    if claims.iat > instant + slack:
        raise TokenNotYetValid("assertion issued in the future")
    if claims.exp - claims.iat > max_ttl.total_seconds() or claims.exp <= claims.iat:
        raise TokenNotYetValid("assertion lifetime out of bounds")
    if claims.exp <= instant - slack:
        raise TokenExpired("assertion expired")
    return claims


def _claims(raw: dict[str, Any]) -> AssertionClaims:
    try:
        return AssertionClaims.model_validate(raw)
    except ValidationError:
        raise MalformedToken("assertion claims invalid") from None
