"""A complaint submitted at intake flows to routing, sla and notify over a real nats-server,
each recording its own event (in-process services, SQLite and PostgreSQL stores)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hotro.natsbin import NatsServerProcess
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.postgres import PostgresSchemas
from tests.support.system import InProcessSystem, running_system
from tests.support.waiting import eventually

COMPLAINT = {
    "kind": "complaint",
    "channel": "web",
    "customer": {"name": "Nguyễn Thị Ánh", "phone": "0912 345 678",
                 "email": "anh.nguyen@example.com"},
    "product": "dien-lanh",
    "category": "chat-luong-san-pham",
    "description": "Tủ lạnh mới mua không lạnh, đề nghị bảo hành.",
}


async def _submit_and_follow(system: InProcessSystem) -> None:
    async with system.client("intake") as client:
        response = await client.post("/api/complaints", json=COMPLAINT,
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["reference"].startswith("KN-")
    complaint_id = uuid.UUID(created["id"])

    routing = system.application("routing")
    case = await eventually(lambda: routing._find(complaint_id), message="routing case")
    assert case.reference == created["reference"]
    assert case.state.value == "analysing"
    assert case.triage is not None

    sla = system.application("sla")
    clocks = await eventually(lambda: sla.clocks_of(complaint_id), message="sla clocks")
    assert {c.kind for c in clocks} >= {"reply"}

    notify = system.application("notify")

    def acknowledgement_sent() -> bool:
        from hotro.services.notify.domain import Dispatch

        entries = []
        for n in notify.recorder.select_notifications(start=0, limit=1000,
                                                      inclusive_of_start=False):
            e = notify.mapper.to_domain_event(n)
            if isinstance(e, Dispatch.Sent):
                entries.append(e)
        return bool(entries)

    await eventually(acknowledgement_sent, message="acknowledgement sent")
    # the acknowledgement's Message-ID came back to intake (for threading replies)
    intake = system.application("intake")
    first_contact = await eventually(
        lambda: [c for c in sla.clocks_of(complaint_id)
                 if c.kind == "first_contact" and c.status == "met"],
        message="first contact clock met by the acknowledgement")
    assert first_contact
    request = intake.get_request(complaint_id)
    assert request.reference == created["reference"]


async def test_complaint_flows_through_all_services_on_sqlite(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    async with running_system(provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite",
                              tmp_path, partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S) as system:
        await _submit_and_follow(system)


@pytest.mark.postgres
async def test_complaint_flows_through_all_services_on_postgres(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas) -> None:
    async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                              partitions=TEST_PARTITIONS,
                              lease_ttl_s=TEST_LEASE_TTL_S) as system:
        await _submit_and_follow(system)
