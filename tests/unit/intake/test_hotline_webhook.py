"""Call-centre webhook: HMAC signature, a small symmetric time window, each signature once
(across replicas), linking to an open request, drafts for the agent."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hotro.services.intake.adapters import hotline_webhook as hotline
from hotro.services.intake.application import Delivery, IntakeApplication, ReplayedDelivery
from hotro.services.intake.views import HotlineCalls
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import MemoryKeyRing
from tests.support.staff import auth

from .conftest import AppFactory, complaint

SECRET = "s3cret-for-tests"


def signed(event: dict[str, Any], clock: SettableClock, secret: str = SECRET,
           skew: float = 0) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    ts = str(int(clock().timestamp() + skew))
    return body, {hotline.TIMESTAMP_HEADER: ts,
                  hotline.SIGNATURE_HEADER: hotline.sign(secret, ts, body),
                  "content-type": "application/json"}


def call(event: str, call_id: str, caller: str = "+84 912 345 678",
         **extra: Any) -> dict[str, Any]:
    return {"event": event, "call_id": call_id, "caller": caller, **extra}


async def test_without_a_configured_secret_the_webhook_answers_503(
        make_app: AppFactory, clock: SettableClock) -> None:
    app: FastAPI = make_app()
    body, headers = signed(call("call.started", "c-1"), clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://intake") as c:
        r = await c.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert r.status_code == 503
    assert "HOTRO_HOTLINE_WEBHOOK_SECRET" in r.json()["detail"]


@pytest.mark.parametrize("tamper", ["wrong_secret", "changed_body", "old_timestamp",
                                    "no_headers"])
async def test_invalid_signatures_are_refused_and_record_nothing(
        client: httpx.AsyncClient, clock: SettableClock, intake_http: FastAPI,
        tamper: str) -> None:
    body, headers = signed(call("call.started", "c-2"), clock,
                           secret="other" if tamper == "wrong_secret" else SECRET,
                           skew=-3600 if tamper == "old_timestamp" else 0)
    if tamper == "changed_body":
        body = body.replace(b"c-2", b"c-3")
    if tamper == "no_headers":
        headers = {"content-type": "application/json"}
    r = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert r.status_code == 401, r.text
    calls: HotlineCalls = intake_http.state.hotline_calls
    assert calls.drafts() == []


async def test_a_call_from_an_unknown_number_becomes_a_draft_the_agent_converts(
        client: httpx.AsyncClient, clock: SettableClock) -> None:
    body, headers = signed(call("call.started", "c-10", caller="0987 654 321",
                                at=clock().isoformat()), clock)
    r = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "draft" and r.json()["caller"] == "+84987654321"
    clock.advance(seconds=5)  # the provider re-sends the notice, signed anew
    body, headers = signed(call("call.started", "c-10", caller="0987 654 321",
                                at=clock().isoformat()), clock)
    again = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert again.json()["call_id"] == "c-10"  # a redelivered notice changes nothing

    body, headers = signed(call("call.ended", "c-10", caller="0987 654 321",
                                recording_ref="rec/2026/03/c-10.mp3"), clock)
    ended = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert ended.json()["recording_ref"] == "rec/2026/03/c-10.mp3"

    drafts = (await client.get("/api/intake/hotline/drafts", headers=auth("agent"))).json()
    assert [d["call_id"] for d in drafts] == ["c-10"]

    created = await client.post("/api/complaints", headers=auth("agent"),
                                json=complaint(channel="hotline", call_id="c-10",
                                               customer={"name": "Lê Thị Hoa",
                                                         "phone": "0987654321"}))
    assert created.status_code == 201, created.text
    assert (await client.get("/api/intake/hotline/drafts", headers=auth("agent"))).json() == []
    twice = await client.post("/api/complaints", headers=auth("agent"),
                              json=complaint(channel="hotline", call_id="c-10"))
    assert twice.status_code == 409
    assert (twice.json()["code"], twice.json()["params"]) == (
        "call_not_draft", {"reference": created.json()["reference"]})
    unknown = await client.post("/api/complaints", headers=auth("agent"),
                                json=complaint(channel="hotline", call_id="nope"))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "call_id"
    anonymous = await client.post("/api/complaints",
                                  json=complaint(channel="web", call_id="c-11"))
    assert anonymous.status_code == 401  # a hotline draft becomes a case by staff only


async def test_a_call_from_the_number_of_an_open_request_links_to_it(
        client: httpx.AsyncClient, clock: SettableClock, application: IntakeApplication
        ) -> None:
    created = (await client.post("/api/complaints", json=complaint())).json()
    body, headers = signed(call("call.started", "c-20", caller="0912.345.678"), clock)
    r = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert r.json()["status"] == "linked"
    assert r.json()["reference"] == created["reference"]
    view = (await client.get(f"/api/complaints/{created['reference']}",
                              headers=auth())).json()
    assert [c["call_id"] for c in view["calls"]] == ["c-20"]
    assert (await client.get("/api/intake/hotline/drafts", headers=auth("agent"))).json() == []

    # outside the link window the same number makes a draft again
    clock.set(clock() + timedelta(days=61))
    body, headers = signed(call("call.ended", "c-21", caller="0912345678"), clock)
    late = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert late.json()["status"] == "draft"


async def test_a_closed_request_no_longer_takes_calls(
        client: httpx.AsyncClient, clock: SettableClock, application: IntakeApplication
        ) -> None:
    """Inert until the topology routes routing's ComplaintClosed to intake (see report)."""
    import uuid

    from hotro.shared.contracts.envelope import Actor, Envelope

    created = (await client.post("/api/complaints", json=complaint())).json()
    application.handle(Envelope(
        event_id=uuid.uuid4(), event_type="ComplaintClosed", schema_version=1,
        complaint_id=uuid.UUID(created["id"]), producer="routing", notification_id=1,
        occurred_at=clock(), actor=Actor(kind="staff", id="sup-1"),
        correlation_id=uuid.uuid4(),
        payload={"reference": created["reference"], "reason": "resolved"}))
    body, headers = signed(call("call.started", "c-30"), clock)
    r = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert r.json()["status"] == "draft"


async def test_a_replayed_signed_request_is_refused(
        client: httpx.AsyncClient, clock: SettableClock, application: IntakeApplication
        ) -> None:
    body, headers = signed(call("call.started", "c-40"), clock)
    first = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert first.status_code == 200, first.text
    stored = application.max_notification_id()
    clock.advance(seconds=10)  # still inside the window
    replay = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]
    # the same notice as "call.ended": a replay of that one is refused too
    body, headers = signed(call("call.ended", "c-40", recording_ref="rec/c-40.mp3"), clock)
    ended = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert ended.status_code == 200, ended.text
    again = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert again.status_code == 401
    assert application.max_notification_id() == stored + 2  # the end, and its record


@pytest.mark.parametrize(("skew", "accepted"), [(-25, True), (25, True), (-31, False),
                                                 (31, False), (120, False)])
async def test_the_timestamp_window_is_small_and_symmetric(
        client: httpx.AsyncClient, clock: SettableClock, skew: int, accepted: bool) -> None:
    body, headers = signed(call("call.started", f"c-skew{skew}"), clock, skew=skew)
    r = await client.post("/api/intake/hotline/calls", content=body, headers=headers)
    assert (r.status_code == 200) is accepted, r.text


async def test_the_replay_record_holds_across_replicas(tmp_path: Path,
                                                       clock: SettableClock) -> None:
    """Two replicas on one store: the second refuses what the first accepted."""
    shared_store = tmp_path / "intake.sqlite"
    first = IntakeApplication(env=persistence_env(f"sqlite:///{shared_store}"), clock=clock,
                              keyring=MemoryKeyRing(), hash_secret=b"k" * 32)
    second = IntakeApplication(env=persistence_env(f"sqlite:///{shared_store}"),
                               clock=clock, keyring=MemoryKeyRing(), hash_secret=b"k" * 32)
    delivery = Delivery(digest="ab" * 32, signed_at=int(clock().timestamp()))
    trace = Trace.system("hotline-webhook").as_dict()
    first.call_started(call_id="c-50", caller="+84912345678", caller_raw="0912345678",
                       at=None, trace=trace, delivery=delivery)
    with pytest.raises(ReplayedDelivery):
        second.call_started(call_id="c-50", caller="+84912345678", caller_raw="0912345678",
                            at=None, trace=trace, delivery=delivery)
    with pytest.raises(ReplayedDelivery):
        second.call_ended(call_id="c-50", caller="+84912345678", caller_raw="0912345678",
                          at=None, recording_ref="r", trace=trace, delivery=delivery)
    first.close()
    second.close()
