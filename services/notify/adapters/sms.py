"""Short messages (SMS or Zalo) through an HTTP gateway, plus an in-memory fake.

The gateway receives ``{"to", "text", "reference", "idempotency_key"}`` as JSON. The body is
signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` so the gateway can reject forged and
replayed posts; ``Idempotency-Key`` lets it drop our retries of an already accepted message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from typing import Final, Protocol

import httpx
import phonenumbers
from pydantic import BaseModel, ConfigDict, field_validator

from hotro.services.notify.application.channel import PermanentFailure, TransientFailure

SIGNATURE_HEADER: Final = "X-Hotro-Signature"
TIMESTAMP_HEADER: Final = "X-Hotro-Timestamp"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
_RETRYABLE_STATUS: Final = frozenset({408, 425, 429})


class ShortMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str
    text: str
    reference: str
    idempotency_key: str

    @field_validator("to")
    @classmethod
    def _e164(cls, value: str) -> str:
        return normalise_phone(value)


def normalise_phone(value: str) -> str:
    """A Vietnamese or international number in E.164 (``0912…`` → ``+84912…``)."""
    try:
        number = phonenumbers.parse(value, "VN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {value!r}") from exc
    # "possible" (length) rather than "valid" (known ranges): stale metadata must not block a
    # newly opened mobile range; the gateway rejects numbers that really do not exist.
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"not a possible phone number: {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class ShortMessageGateway(Protocol):
    """Hands one short message to the SMS/Zalo provider."""

    def send(self, message: ShortMessage) -> None: ...


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = 300.0,
) -> bool:
    """The receiving side's check: right key, untouched body, not older than ``tolerance``."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookShortMessageGateway:
    def __init__(
        self,
        url: str,
        secret: bytes | str,
        client: httpx.Client,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._client = client
        self._clock = clock

    def send(self, message: ShortMessage) -> None:
        body = json.dumps(
            message.model_dump(include={"to", "text", "reference", "idempotency_key"}),
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.TransportError as exc:  # connect error, timeout, broken connection
            raise TransientFailure(f"SMS gateway unreachable: {exc!r}") from exc
        status = response.status_code
        if status < 300:
            return
        detail = f"SMS gateway answered {status}: {response.text[:200]}"
        if status >= 500 or status in _RETRYABLE_STATUS:
            raise TransientFailure(detail, code=status)
        raise PermanentFailure(detail, code=status)


class RecordingShortMessageGateway:
    """Keeps what it is asked to send: the fake for tests and the local demo."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[ShortMessage] = []

    @property
    def messages(self) -> list[ShortMessage]:
        with self._lock:
            return list(self._messages)

    def send(self, message: ShortMessage) -> None:
        with self._lock:
            self._messages.append(message)
