"""Notify's HTTP API over its application (in-memory store, no NATS)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hotro.services.notify.adapters.channels import Channels
from hotro.services.notify.adapters.letter_pdf import LetterStore
from hotro.services.notify.adapters.rendering import CompanyInfo
from hotro.services.notify.adapters.sms import RecordingShortMessageGateway
from hotro.services.notify.api import build_router
from hotro.services.notify.application import NotifyApplication
from hotro.services.notify.settings import NotifySettings
from hotro.services.notify.views import DispatchLog
from hotro.shared.staff.http import Authenticator, install_authenticator
from tests.support.staff import auth, directory, staff_id
from tests.unit.notify.test_application import Outbox
from tests.unit.notify.wire import (
    REFERENCE,
    acknowledged,
    dispatches,
    memory_app,
    received,
    reply_requested,
    wire_events,
)


@pytest.fixture
def app() -> NotifyApplication:
    return memory_app()


@pytest.fixture
def channels(tmp_path: Path) -> Channels:
    return Channels(email=Outbox(), sms=RecordingShortMessageGateway(),
                            letters=LetterStore(tmp_path / "letters"), company=CompanyInfo(),
                            clock=lambda: datetime(2026, 3, 6, tzinfo=UTC))


@pytest.fixture
async def client(app: NotifyApplication, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotifySettings(nats_url="nats://127.0.0.1:4222", store_url="memory:",
                              allow_memory_store=True, data_dir=str(tmp_path))
    http = FastAPI()
    http.include_router(build_router(app, settings, DispatchLog(app)))
    install_authenticator(http, Authenticator(directory()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http),
                                 base_url="http://notify", headers=auth("support")) as c:
        yield c


async def test_dispatch_log_says_what_went_to_whom_when_how_with_proof(
        app: NotifyApplication, client: httpx.AsyncClient, channels: Channels) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    acknowledged(app, first)
    acknowledged(app, second, channel="hotline")
    assert len((await client.get("/api/deliveries")).json()) == 2
    for d in dispatches(app):
        app.attempt(d.id, channels)

    [entry] = (await client.get("/api/deliveries", params={"complaint_id": str(first)})).json()
    ack = next(d for d in dispatches(app) if d.complaint_id == first)
    assert entry["id"] == str(ack.id)
    assert entry["to"] == "anh.nguyen@example.vn" and entry["method"] == "email"
    assert entry["status"] == "sent" and entry["attempts"] == 1
    assert entry["proof"] == ack.message_id == entry["message_id"]
    assert entry["sent_at"].startswith("2026-03-06T03:00")
    assert entry["reference"] == REFERENCE
    assert [h["event"] for h in entry["history"]] == ["sent"]

    sms = (await client.get("/api/deliveries", params={"complaint_id": str(second)})).json()
    assert sms[0]["method"] == "sms" and sms[0]["proof"].startswith("sms:")
    assert len((await client.get("/api/deliveries", params={"status": "sent"})).json()) == 2
    assert (await client.get("/api/deliveries", params={"status": "failed"})).json() == []
    assert (await client.get("/api/deliveries", params={"status": "nonsense"})).status_code \
        == 422
    assert (await client.get(f"/api/deliveries/{ack.id}")).json()["proof"] == ack.message_id
    assert (await client.get(f"/api/deliveries/{uuid.uuid4()}")).status_code == 404
    # customers' addresses are for staff who deal with customers
    assert (await client.get("/api/deliveries", headers={"Authorization": ""})).status_code \
        == 401
    assert (await client.get("/api/deliveries", headers=auth("department"))).status_code \
        == 403
    assert (await client.get(f"/api/letters/{ack.id}.pdf", headers=auth("department"))
            ).status_code == 403


async def test_staff_records_a_phone_reply(app: NotifyApplication,
                                           client: httpx.AsyncClient) -> None:
    complaint = uuid.uuid4()
    app.handle(received(complaint))
    app.handle(reply_requested(complaint, "phone"))
    [task] = (await client.get("/api/deliveries", params={"status": "task_open"})).json()
    body = {"summary": "Đã gọi điện, khách hàng đồng ý phương án đổi máy.",
            "proof": "CALL-0042", "at": "2026-03-06T09:10:00+07:00"}
    no_staff = await client.post(f"/api/deliveries/{task['id']}/outcome", json=body,
                                 headers={"Authorization": ""})
    assert no_staff.status_code == 401
    auditor = await client.post(f"/api/deliveries/{task['id']}/outcome", json=body,
                                headers=auth("auditor"))
    assert auditor.status_code == 403  # auditors read, never record
    done = await client.post(f"/api/deliveries/{task['id']}/outcome", json=body,
                             headers={**auth("agent"), "X-Staff-Id": "staff-7"})
    assert done.status_code == 200, done.text
    entry = done.json()
    assert (entry["status"], entry["recorded_by"], entry["proof"]) == \
        ("sent", staff_id("agent"), "CALL-0042")  # the token's user, not the claimed one
    assert entry["summary"] == body["summary"]
    again = await client.post(f"/api/deliveries/{task['id']}/outcome", json=body,
                              headers={**auth("agent"), "X-Staff-Id": "staff-7"})
    assert again.status_code == 409
    missing = await client.post(f"/api/deliveries/{uuid.uuid4()}/outcome", json=body,
                                headers={**auth("agent"), "X-Staff-Id": "staff-7"})
    assert missing.status_code == 404
    for when in ("1999-12-31T23:00:00+00:00", "2999-01-01T00:00:00+00:00"):
        out_of_range = await client.post(f"/api/deliveries/{task['id']}/outcome",
                                         json={**body, "at": when}, headers=auth("agent"))
        assert out_of_range.status_code == 422
        assert out_of_range.json()["detail"][0]["loc"] == ["body", "at"]
    [wire] = [e for e in wire_events(app) if e.event_type == "ReplySent"]
    assert wire.payload["recorded_by"] == staff_id("agent")


async def test_letter_download_and_tracking_number(
        app: NotifyApplication, client: httpx.AsyncClient, channels: Channels,
        tmp_path: Path) -> None:
    complaint = uuid.uuid4()
    acknowledged(app, complaint)
    app.handle(reply_requested(complaint, "letter"))
    letter = next(d for d in dispatches(app) if d.purpose == "reply")
    assert (await client.get(f"/api/letters/{letter.id}.pdf")).status_code == 404
    app.attempt(letter.id, channels)

    entry = (await client.get(f"/api/deliveries/{letter.id}")).json()
    assert entry["status"] == "awaiting_post" and entry["letter"] == \
        f"/api/letters/{letter.id}.pdf"
    pdf = await client.get(entry["letter"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    bad = await client.post(f"/api/deliveries/{letter.id}/tracking",
                            json={"tracking_number": "RR1\r\nX: y"})
    assert bad.status_code == 422
    posted = await client.post(f"/api/deliveries/{letter.id}/tracking",
                               json={"tracking_number": "RR123456789VN", "carrier": "VNPost"})
    assert posted.status_code == 200, posted.text
    assert posted.json()["proof"] == "post:VNPost:RR123456789VN"
    assert posted.json()["status"] == "sent"

    ack = next(d for d in dispatches(app) if d.purpose == "acknowledgement")
    not_a_letter = await client.post(f"/api/deliveries/{ack.id}/tracking",
                                     json={"tracking_number": "RR1"})
    assert not_a_letter.status_code == 409


async def test_the_dispatch_log_pages_in_the_order_intents_were_recorded(
        app: NotifyApplication, client: httpx.AsyncClient) -> None:
    cases = [uuid.uuid4() for _ in range(5)]
    for complaint_id in cases:
        acknowledged(app, complaint_id)
    every = (await client.get("/api/deliveries")).json()
    assert [e["complaint_id"] for e in every] == [str(c) for c in cases]
    page = (await client.get("/api/deliveries", params={"offset": 1, "limit": 2})).json()
    assert [e["id"] for e in page] == [e["id"] for e in every[1:3]]
    purpose = every[0]["purpose"]
    assert len((await client.get("/api/deliveries", params={"purpose": purpose})).json()) == 5
    assert (await client.get("/api/deliveries", params={"purpose": "reply"})).json() == []
