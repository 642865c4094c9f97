from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Actor, Envelope
from hotro.shared.contracts.snapshots import SCHEMA_DIR, current_schemas, render
from hotro.shared.contracts.subjects import consumer_filters, event_subject, partition_of
from hotro.topology import TOPOLOGY


@pytest.mark.parametrize("name", sorted(current_schemas()))
def test_contract_schema_matches_its_snapshot(name: str) -> None:
    snapshot = SCHEMA_DIR / name
    assert snapshot.exists(), f"no snapshot for {name}: run `hotro contracts --write`"
    assert snapshot.read_text(encoding="utf-8") == render(current_schemas()[name]), (
        f"{name} changed incompatibly with its snapshot; add a new SCHEMA_VERSION "
        "or renew the snapshot on purpose")


def test_every_snapshot_belongs_to_a_contract() -> None:
    stale = {p.name for p in SCHEMA_DIR.glob("*.json")} - set(current_schemas())
    assert not stale


def test_payloads_are_frozen_and_reject_unknown_fields() -> None:
    closed = events.ComplaintClosed(reference="KN-2026-000001", reason="replied")
    with pytest.raises(ValidationError):
        closed.reason = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        events.ComplaintClosed(reference="KN-2026-000001", reason="x", extra="no")  # type: ignore[call-arg]


def test_envelope_requires_an_aware_time_and_a_known_producer() -> None:
    base = dict(event_id=uuid.uuid4(), event_type="ComplaintClosed", schema_version=1,
                complaint_id=uuid.uuid4(), notification_id=1,
                actor=Actor(kind="system", id="t"), correlation_id=uuid.uuid4(),
                payload={"reference": "KN-2026-000001", "reason": "r"})
    Envelope(**base, producer="routing", occurred_at=datetime.now(UTC))
    with pytest.raises(ValidationError):
        Envelope(**base, producer="routing", occurred_at=datetime.now())
    with pytest.raises(ValidationError):
        Envelope(**base, producer="billing", occurred_at=datetime.now(UTC))


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(events.UnknownEventType):
        events.parse_payload("ComplaintTeleported", 1, {})


def test_subjects_put_one_complaint_in_one_partition_and_filter_by_type() -> None:
    complaint = uuid.uuid4()
    subjects = {event_subject("intake", t, complaint, 8) for t in ("ComplaintReceived",
                                                                    "InfoProvided")}
    partitions = {s.split(".")[4] for s in subjects}
    assert partitions == {str(partition_of(complaint, 8))}
    assert all(s.endswith(str(complaint)) for s in subjects)
    filters = consumer_filters({"intake": ("ComplaintReceived",)}, 3)
    assert filters == ["hotro.evt.intake.ComplaintReceived.3.*"]


def test_topology_only_names_known_contracts_and_producers() -> None:
    known = {cls.EVENT_TYPE for cls in events.PAYLOAD_TYPES}
    for consumer, producers in TOPOLOGY.items():
        for producer, types in producers.items():
            assert producer != consumer
            assert set(types) <= known, (consumer, producer)


def test_personal_data_lives_only_in_customer_contact() -> None:
    pii_fields = {"name", "phone", "email", "address"}
    for cls in events.PAYLOAD_TYPES:
        assert not pii_fields & set(cls.model_fields), cls.__name__


def test_asyncapi_documents_are_generated_from_the_current_code() -> None:
    from pathlib import Path

    from hotro.asyncapi import render_asyncapi
    from hotro.serve import SERVICES

    docs = Path(__file__).resolve().parents[3] / "docs" / "asyncapi"
    for service in SERVICES:
        assert (docs / f"{service}.yaml").read_text(encoding="utf-8") == \
            render_asyncapi(service), f"run `hotro asyncapi --write` ({service})"


def test_every_consumed_event_is_published_by_its_producer() -> None:
    from hotro.shared.contracts.topology import PRODUCES

    for consumer, producers in TOPOLOGY.items():
        for producer, types in producers.items():
            assert set(types) <= set(PRODUCES[producer]), (consumer, producer)
