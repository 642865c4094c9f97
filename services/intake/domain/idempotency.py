"""Which request an idempotency key names, and what makes two requests "the same".

Keys are scoped to their caller. An HTTP key names ``uuid5("intake/idempotency/v2/" +
JSON [scope, key])``, the scope being the authenticated staff member
(``staff:<user id>``, API token or console alike) or, for anonymous callers (the public
web form), the channel (``anonymous:web``). Email has its own namespace
(``intake/email/<Message-ID>``), which no HTTP key can reach: an HTTP client cannot
pre-claim a customer's incoming message any more.

Compatibility: keys stored before scoping derived ``uuid5("intake/idempotency/<key>")``
(one namespace for everyone, email's ``email:<Message-ID>`` included). Those requests keep
their ids (ids are never rewritten). A retry of such a request that arrives after the
change finds it through ``legacy_request_id``, but only when the stored request was made
by the same caller (its trace) and holds the same body (its fingerprint recomputed from
what was stored), so an old key never answers with another caller's request. Email
keys never take that path: old email requests are found by their Message-ID index.

A key is bound to the request's fingerprint: the HMAC-SHA-256 (keyed with the PII hash
secret, so a stored fingerprint cannot be used to confirm a guessed body) of the
canonical JSON (sorted keys, no insignificant whitespace, NFC text, trimmed) of the fields
that make the request. The same key with another body is refused
(``IdempotencyConflict``), never answered with the first request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE

#: The fields of a request its fingerprint covers (who took it is the caller's scope).
FINGERPRINT_FIELDS = ("kind", "channel", "customer", "description", "product", "category",
                      "incident_date", "order_ref", "language", "call_id")
CUSTOMER_FIELDS = ("name", "phone", "email", "address")


@dataclass(frozen=True)
class ScopedKey:
    """An idempotency key as one caller sent it."""

    scope: str
    key: str

    @property
    def request_id(self) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE,
                          "intake/idempotency/v2/" + json.dumps([self.scope, self.key]))

    @property
    def info_key_id(self) -> str:
        """What a request remembers of the key that brought it information."""
        text = json.dumps([self.scope, self.key], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def legacy_request_id(self) -> uuid.UUID | None:
        """The id the same key named before scoping (None for email's old namespace)."""
        if self.key.lower().startswith("email:"):
            return None
        return request_id_for_idempotency_key(self.key)


def staff_scope(user_id: str) -> str:
    return f"staff:{user_id}"


def anonymous_scope(channel: str) -> str:
    return f"anonymous:{channel}"


def request_id_for_idempotency_key(key: str) -> uuid.UUID:
    """The pre-scoping derivation: requests stored with it keep their ids; in-process
    callers (tools, tests) that pass a plain key still use it."""
    return uuid.uuid5(HOTRO_NAMESPACE, f"intake/idempotency/{key}")


def request_id_for_email(message_id: str) -> uuid.UUID:
    return uuid.uuid5(HOTRO_NAMESPACE, f"intake/email/{message_id.strip().lower()}")


def fingerprint(fields: Mapping[str, Any], secret: bytes) -> str:
    """HMAC-SHA-256 (hex) of the canonical JSON of a request's fields
    (``FINGERPRINT_FIELDS``)."""
    customer = fields.get("customer") or {}
    canonical = {name: _canonical(fields.get(name)) for name in FINGERPRINT_FIELDS
                 if name != "customer"}
    canonical["customer"] = {name: _canonical(customer.get(name))
                             for name in CUSTOMER_FIELDS}
    return _signed(canonical, secret)


def info_fingerprint(channel: str, content: str, items: list[str], secret: bytes) -> str:
    """HMAC-SHA-256 (hex) of information brought for a request, canonical as above."""
    return _signed({"channel": _canonical(channel), "content": _canonical(content),
                    "items": sorted(str(_canonical(i) or "") for i in items)}, secret)


def _signed(canonical: Mapping[str, Any], secret: bytes) -> str:
    """HMAC-SHA-256 (hex) of ``canonical`` as compact JSON with sorted keys (stored in
    events: the text must never change)."""
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _canonical(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value).strip()
        return text or None
    if isinstance(value, bool | int | float):
        return value
    return _canonical(str(value.isoformat() if hasattr(value, "isoformat") else value))
