"""Short messages (SMS or Zalo) through an HTTP gateway, plus a recording gateway for the
local run and tests.

The gateway receives ``{"to", "text", "reference", "idempotency_key"}`` as JSON. The body is
signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` so the gateway can reject forged and
replayed posts; ``Idempotency-Key`` lets it drop our retries of an already accepted message.

Without a provider the local run records each SMS in an outbox folder (``SmsOutbox``: one
UTF-8 text file per message, named by its dispatch id — the SMS counterpart of the Maildir
outgoing email lands in), so its text can be read there and in the dispatch log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

import httpx
import phonenumbers
from pydantic import BaseModel, ConfigDict, field_validator

from hotro.services.notify.application.channel import PermanentFailure, TransientFailure
from hotro.shared.files import write_atomically

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


_KEY: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class SmsOutbox:
    """The local run's outbox of short messages (``<data dir>/outbox/sms``): one UTF-8 file
    per message, ``<idempotency key>.txt`` (notify uses the dispatch id), with a few header
    lines, a blank line and the text. Written whole (atomically); a retry of the same
    message rewrites the same file."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not an SMS idempotency key: {key!r}")
        return self.directory / f"{key}.txt"

    def write(self, message: ShortMessage) -> Path:
        content = (f"To: {message.to}\nReference: {message.reference}\n"
                   f"Idempotency-Key: {message.idempotency_key}\n\n{message.text}\n")
        return write_atomically(self.path_for(message.idempotency_key),
                                content.encode("utf-8"))

    def text_for(self, key: str) -> str | None:
        """The text of the SMS recorded under ``key`` (None if there is none)."""
        try:
            content = self.path_for(key).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None
        _, separator, text = content.partition("\n\n")
        return text.rstrip("\n") if separator else None


class RecordingShortMessageGateway:
    """Keeps what it is asked to send: the fake for tests, and the local run's gateway
    without a provider — then each message is also written to ``outbox``."""

    def __init__(self, outbox: SmsOutbox | None = None) -> None:
        self._lock = threading.Lock()
        self._messages: list[ShortMessage] = []
        self.outbox = outbox

    @property
    def messages(self) -> list[ShortMessage]:
        with self._lock:
            return list(self._messages)

    def send(self, message: ShortMessage) -> None:
        if self.outbox is not None:
            try:
                self.outbox.write(message)
            except OSError as exc:  # a full or read-only disk: try again later
                raise TransientFailure(f"SMS outbox not writable: {exc!r}") from exc
        with self._lock:
            self._messages.append(message)
