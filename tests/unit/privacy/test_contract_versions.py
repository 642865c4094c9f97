"""ComplaintReceived v1 (contact in clear, events published before sealing) and v2
(contact sealed): intake emits v2, consumers handle both, notify stores only sealed data
and a dispatch to an erased customer fails with reason "erased"."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.services.intake.domain import Request
from hotro.services.notify.domain import Contact, Dispatch
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Actor, Envelope
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import ERASED, MemoryKeyRing, is_sealed, reveal
from tests.unit.notify.wire import CUSTOMER, memory_app, received, reply_deadline_set

NAME = CUSTOMER["name"]


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []

    def deliver(self, dispatch: Any, contact: Any) -> str:
        self.sent.append((dispatch.recipient, dict(dispatch.context),
                          contact.customer if contact else None))
        return f"proof-{len(self.sent)}"


def _v2(complaint_id: uuid.UUID, ring: MemoryKeyRing) -> Envelope:
    intake = IntakeApplication(env=persistence_env("memory:", allow_memory=True),
                               keyring=ring, hash_secret=b"k" * 32)
    accepted = intake.receive(NewRequest(kind="complaint", channel="web", customer=CUSTOMER,
                                         description="Tủ lạnh không lạnh"),
                              Trace.system("test").as_dict(),
                              idempotency_key=str(complaint_id))
    [note] = intake.recorder.select_notifications(start=1, limit=10,
                                                  topics=["hotro.intake:Request.Received"])
    wire = intake.to_wire(intake.mapper.to_domain_event(note))
    assert wire is not None
    return Envelope(event_id=uuid.uuid4(), event_type=wire.payload.EVENT_TYPE,
                    schema_version=wire.payload.SCHEMA_VERSION,
                    complaint_id=accepted.request_id, producer="intake", notification_id=1,
                    occurred_at=datetime.now(UTC), actor=Actor(kind="system", id="t"),
                    correlation_id=uuid.uuid4(), payload=wire.payload.model_dump(mode="json"))


def test_intake_stores_and_emits_the_contact_sealed_as_v2() -> None:
    ring = MemoryKeyRing()
    env = _v2(uuid.uuid4(), ring)
    assert (env.event_type, env.schema_version) == ("ComplaintReceived", 2)
    assert NAME not in str(env.payload) and CUSTOMER["email"] not in str(env.payload)
    payload = events.parse_payload(env.event_type, env.schema_version, env.payload)
    assert isinstance(payload, events.ComplaintReceivedV2)
    assert reveal(payload.customer.model_dump(), ring) == {**CUSTOMER}


def test_an_event_stored_before_sealing_still_goes_out_as_v1() -> None:
    intake = IntakeApplication(env=persistence_env("memory:", allow_memory=True))
    legacy = Request(id=uuid.uuid4(), reference="KN-2026-000001", kind="complaint",
                     channel="web", customer=dict(CUSTOMER),
                     details={"description": "x"}, received_at=datetime.now(UTC).isoformat(),
                     filed_late=False, filing_deadline=None,
                     trace=Trace.system("t").as_dict(), contact_hashes=None)
    [received_event] = legacy.collect_events()
    del received_event.__dict__["contact_hashes"]  # as stored before sealing
    restored = received_event.mutate(None)
    assert isinstance(restored, Request) and restored.contact_hashes == {}  # old events load
    wire = intake.to_wire(received_event)
    assert wire is not None and isinstance(wire.payload, events.ComplaintReceived)
    assert wire.payload.customer.name == NAME


def test_notify_handles_v1_and_v2_storing_only_sealed_contact_and_recipients() -> None:
    ring = MemoryKeyRing()
    makers: list[Callable[[uuid.UUID], Envelope]] = [
        lambda cid: received(cid, channel="web"), lambda cid: _v2(cid, ring)]
    for make in makers:
        app = memory_app(keyring=ring)
        cid = uuid.uuid4()
        env = make(cid)
        cid = env.complaint_id
        app.handle(env)
        app.handle(reply_deadline_set(cid))
        contact: Contact = app.repository.get(Contact.create_id(cid))
        assert is_sealed(contact.customer)
        dispatch: Dispatch = app.repository.get(
            Dispatch.create_id(cid, "acknowledgement", "received/customer"))
        assert is_sealed(dispatch.recipient) and "customer_name" not in dispatch.context
        assert NAME not in str(dispatch.context)
        assert app.open_recipient(dispatch) == CUSTOMER["email"]
        deliverer = Recording()
        assert app.attempt(dispatch.id, deliverer) == "sent"
        [(to, context, customer)] = deliverer.sent
        assert (to, context["customer_name"], customer) == (CUSTOMER["email"], NAME,
                                                            {**CUSTOMER})


def test_a_dispatch_to_an_erased_customer_fails_permanently_with_reason_erased() -> None:
    ring = MemoryKeyRing()
    app = memory_app(keyring=ring)
    env = _v2(uuid.uuid4(), ring)
    app.handle(env)
    app.handle(reply_deadline_set(env.complaint_id))
    dispatch_id = Dispatch.create_id(env.complaint_id, "acknowledgement", "received/customer")
    ring.destroy(str(env.complaint_id))
    deliverer = Recording()
    assert app.attempt(dispatch_id, deliverer) == "failed"
    assert deliverer.sent == []
    dispatch: Dispatch = app.repository.get(dispatch_id)
    assert dispatch.last_error == "erased" and app.open_recipient(dispatch) == ERASED
    wire = app.to_wire(list(app.repository.event_store.get(dispatch_id))[-1])
    assert wire is not None and wire.payload.reason == "erased"  # type: ignore[attr-defined]


def test_notify_records_nothing_personal_when_the_key_is_already_gone() -> None:
    ring = MemoryKeyRing()
    app = memory_app(keyring=ring)
    env = _v2(uuid.uuid4(), ring)
    ring.destroy(str(env.complaint_id))
    app.handle(env)  # erased before notify saw it: no failure, nothing to seal
    app.handle(reply_deadline_set(env.complaint_id))
    dispatch: Dispatch = app.repository.get(
        Dispatch.create_id(env.complaint_id, "acknowledgement", "received/customer"))
    assert dispatch.recipient == "" and app.attempt(dispatch.id, Recording()) == "failed"
