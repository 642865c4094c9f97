"""Customer capabilities: the per-case link a customer gets in the acknowledgement.

It is the only way a customer reads the status of their case or adds information over
HTTP; the bare reference grants nothing. The token is
``cap1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`` with claims ``cid`` (complaint
id), ``ref`` (its reference), ``gen`` (the case's capability generation), ``exp`` and
``kid``: a 256-bit MAC (unguessable), URL-safe, no personal data beyond the reference.

* Expiry: 180 days by default (a case, its reopening window, and some slack).
* Revocation: the service holding the case keeps a generation number per case; revoking
  moves it on, and a token of an older generation is refused (``check_generation``).
* Keys: a keyring of its own (purpose ``customer-capability``), never the staff assertion
  keyring; rotate with ``signing.rotate`` and keep previous keys as long as links they
  signed should work (dropping a key revokes every link it signed).

The link is ``<public base URL>/c/<token>``. The page serving it should answer with
``Referrer-Policy: no-referrer`` and keep the path out of access logs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from hotro.shared.staff.signing import (
    InvalidToken,
    KeyRing,
    MalformedToken,
    TokenExpired,
    open_token,
    sign,
)

PREFIX = "cap1"
PURPOSE = "customer-capability"
DEFAULT_TTL = timedelta(days=180)
MAX_TTL = timedelta(days=2 * 365)
MAX_LENGTH = 1024
PATH_PREFIX = "/c/"


class CapabilityRevoked(InvalidToken):
    """The case's capability generation has moved on (or the case is unknown here)."""


class CapabilityClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cid: StrictStr = Field(min_length=1, max_length=64)
    ref: StrictStr = Field(min_length=1, max_length=32, pattern=r"^[A-Z]{2}-\d{4}-\d{6,}$")
    gen: StrictInt = Field(ge=0)
    exp: StrictInt = Field(ge=0)
    kid: StrictStr

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)


def is_capability(bearer: str) -> bool:
    return bearer.startswith(PREFIX + ".")


def issue(*, complaint_id: str, reference: str, generation: int, keys: KeyRing,
          now: datetime, ttl: timedelta = DEFAULT_TTL) -> str:
    """A capability for the case, valid ``ttl`` from ``now``."""
    if keys.purpose != PURPOSE:
        raise ValueError(f"capabilities are signed with {PURPOSE} keys, not {keys.purpose}")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"a capability lives more than 0 and at most {MAX_TTL}")
    claims = CapabilityClaims(cid=complaint_id, ref=reference, gen=generation,
                              exp=int((now + ttl).timestamp()), kid="")
    return sign(PREFIX, claims.model_dump(exclude={"kid"}), keys)


def verify(token: str, keys: KeyRing, now: datetime) -> CapabilityClaims:
    """The claims of a genuine, unexpired capability; else an InvalidToken subclass:
    MalformedToken, UnknownKey, BadSignature or TokenExpired. The generation is the case
    holder's to check (``check_generation``)."""
    if keys.purpose != PURPOSE:
        raise ValueError(f"capabilities are verified with {PURPOSE} keys, not {keys.purpose}")
    claims = _claims(open_token(PREFIX, token, keys, max_length=MAX_LENGTH))
    if claims.exp <= now.timestamp():
        raise TokenExpired("capability expired")
    return claims


def check_generation(claims: CapabilityClaims, current: int | None) -> None:
    """Raise CapabilityRevoked unless the case exists here (``current`` is not None) and
    the token belongs to its current generation."""
    if current is None or claims.gen != current:
        raise CapabilityRevoked("this link is no longer valid")


def customer_url(public_base_url: str, token: str, *, allow_http: bool = False) -> str:
    """``<public base URL>/c/<token>``. The base must be https (http only for a loopback
    host, or with ``allow_http`` for a local run): the link is a bearer secret."""
    parts = urlsplit(public_base_url)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and (loopback or allow_http)):
        raise ValueError(f"customer links need an https base URL, not {public_base_url!r}")
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError(f"not a base URL: {public_base_url!r}")
    if not is_capability(token):
        raise ValueError("not a capability token")
    return f"{public_base_url.rstrip('/')}{PATH_PREFIX}{token}"


def token_from_path(path: str) -> str | None:
    """The token of a ``…/c/<token>`` path (None for another path)."""
    _, sep, token = path.rpartition(PATH_PREFIX)
    if not sep or "/" in token or not is_capability(token):
        return None
    return token


def _claims(raw: dict[str, Any]) -> CapabilityClaims:
    try:
        return CapabilityClaims.model_validate(raw)
    except ValidationError:
        raise MalformedToken("capability claims invalid") from None
