from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import ValidationError

from hotro.services.notify.adapters.sms import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    RecordingShortMessageGateway,
    ShortMessage,
    WebhookShortMessageGateway,
    verify_signature,
)
from hotro.services.notify.application.channel import PermanentFailure, TransientFailure
from tests.unit.notify.conftest import REFERENCE, free_port

SECRET = b"test-secret"


class Gateway(BaseHTTPRequestHandler):
    """Answers with the status named by the path (/202, /400, /503) after recording the post."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status = int(self.path.strip("/"))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def message() -> ShortMessage:
    return ShortMessage(
        to="0912 345 678",
        text=f"Công ty VHV đã tiếp nhận khiếu nại {REFERENCE}. Hạn trả lời: 19/03/2026.",
        reference=REFERENCE,
        idempotency_key="dlv-0001",
    )


def test_webhook_post_is_signed(gateway: str) -> None:
    with httpx.Client(timeout=5) as client:
        WebhookShortMessageGateway(f"{gateway}/202", SECRET, client).send(message())

    [post] = Gateway.received
    headers = {k.lower(): v for k, v in post["headers"].items()}
    assert verify_signature(
        SECRET, headers[TIMESTAMP_HEADER.lower()], post["body"], headers[SIGNATURE_HEADER.lower()]
    )
    assert not verify_signature(
        b"wrong", headers[TIMESTAMP_HEADER.lower()], post["body"], headers[SIGNATURE_HEADER.lower()]
    )
    assert headers[IDEMPOTENCY_HEADER.lower()] == "dlv-0001"
    assert json.loads(post["body"]) == {
        "to": "+84912345678",
        "text": "Công ty VHV đã tiếp nhận khiếu nại KN-2026-000123. Hạn trả lời: 19/03/2026.",
        "reference": REFERENCE,
        "idempotency_key": "dlv-0001",
    }


def test_signature_rejects_tampering_and_replay() -> None:
    from hotro.services.notify.adapters.sms import sign

    body = b'{"to":"+84912345678"}'
    signature = sign(SECRET, "1000", body)
    assert verify_signature(SECRET, "1000", body, signature, now=1100)
    assert not verify_signature(SECRET, "1000", body + b" ", signature, now=1100)
    assert not verify_signature(SECRET, "1000", body, signature, now=1000 + 301)
    assert not verify_signature(SECRET, "not-a-number", body, signature, now=1000)


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, TransientFailure), (429, TransientFailure), (400, PermanentFailure)],
)
def test_gateway_errors_are_classified(gateway: str, status: int, error: type[Exception]) -> None:
    with httpx.Client(timeout=5) as client, pytest.raises(error) as caught:
        WebhookShortMessageGateway(f"{gateway}/{status}", SECRET, client).send(message())
    assert getattr(caught.value, "code", None) == status


def test_unreachable_gateway_is_transient() -> None:
    url = f"http://127.0.0.1:{free_port()}/sms"
    with httpx.Client(timeout=2) as client, pytest.raises(TransientFailure):
        WebhookShortMessageGateway(url, SECRET, client).send(message())


def test_recording_sender_keeps_messages() -> None:
    sender = RecordingShortMessageGateway()
    sender.send(message())
    assert [m.idempotency_key for m in sender.messages] == ["dlv-0001"]


def test_phone_numbers_are_normalised_or_refused() -> None:
    assert message().to == "+84912345678"
    with pytest.raises(ValidationError):
        ShortMessage(to="not a phone", text="x", reference=REFERENCE, idempotency_key="k")
