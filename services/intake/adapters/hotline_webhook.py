"""The call-centre webhook: signatures (HMAC-SHA256 over "<timestamp>.<raw body>") and
the caller numbers it reports.

The call-centre software sends `X-Hotline-Timestamp` (Unix seconds) and
`X-Hotline-Signature: sha256=<hex>`. The timestamp is signed too and must be within the
allowed clock skew, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import phonenumbers

SIGNATURE_HEADER = "X-Hotline-Signature"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"


class SignatureError(ValueError):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, *, timestamp: str | None, signature: str | None, body: bytes,
           now: datetime, max_skew_s: int) -> None:
    """Raises SignatureError with the reason; returns None when the request is authentic."""
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not Unix seconds") from None
    if abs(now.timestamp() - sent) > max_skew_s:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {max_skew_s} s from our clock")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode("ascii"),
                               signature.strip().encode("ascii", "replace")):
        raise SignatureError("signature does not match")


def normalise_phone(raw: str) -> str | None:
    """E.164 for a valid (Vietnamese by default) number, else None."""
    try:
        number = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
