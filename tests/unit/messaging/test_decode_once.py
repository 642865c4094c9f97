"""A consumed payload is validated once: the consumer's ``decode`` hands the validated
payload to the application, whose policy uses it as it is; a caller without one (audit
simulation, tests) still gets it validated by the policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.application import ProcessingEvent

from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Actor, Envelope
from hotro.shared.eventstore import application as service_application
from hotro.shared.eventstore.application import ServiceApplication, handles
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.messaging.consumer import PoisonMessage, decode


class Seen(ServiceApplication):
    name = "seen"

    def __init__(self) -> None:
        super().__init__(env=persistence_env("memory:", allow_memory=True))
        self.payloads: list[Any] = []

    @handles("routing.ComplaintClosed")
    def _on_closed(self, env: Envelope, payload: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        self.payloads.append(payload)


def _wire(payload: dict[str, Any]) -> bytes:
    return Envelope(event_id=uuid.uuid4(), event_type="ComplaintClosed", schema_version=1,
                    complaint_id=uuid.uuid4(), producer="routing", notification_id=1,
                    occurred_at=datetime.now(UTC), actor=Actor(kind="system", id="t"),
                    correlation_id=uuid.uuid4(), payload=payload).model_dump_json().encode()


def test_the_policy_takes_the_payload_the_consumer_decoded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    envelope, payload = decode(_wire({"reference": "KN-2026-000001", "reason": "r"}))
    assert isinstance(payload, events.ComplaintClosed) and payload.reason == "r"
    calls: list[str] = []

    def counting(event_type: str, version: int, data: dict[str, Any]) -> Any:
        calls.append(event_type)
        return events.parse_payload(event_type, version, data)

    monkeypatch.setattr(service_application, "parse_payload", counting)
    app = Seen()
    assert app.handle(envelope, payload) is True
    assert app.payloads == [payload] and app.payloads[0] is payload
    assert calls == []  # not validated a second time
    again = envelope.model_copy(update={"notification_id": 2})
    assert app.handle(again) is True  # without a decoded payload: the policy decodes it
    assert calls == ["ComplaintClosed"] and app.payloads[1] == payload


def test_an_invalid_payload_is_poison_at_decode() -> None:
    with pytest.raises(PoisonMessage):
        decode(_wire({"reference": "KN-2026-000001"}))  # no reason
