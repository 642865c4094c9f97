"""Idempotency keys are the caller's own and bound to the body: a reused key with another
body gets 422 (never someone else's reference), another caller's key names nothing of
theirs, and an HTTP client cannot pre-claim a customer's email."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

import httpx
from fastapi import FastAPI

from hotro.services.intake.adapters.inbound_mail import MailIntake
from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.services.intake.domain import request_id_for_idempotency_key
from hotro.shared.eventstore.trace import Trace
from tests.support.staff import auth

from .conftest import complaint


def _email(message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Nguyễn Văn An <an.nguyen@example.vn>"
    msg["To"] = "contact@vhv.vn"
    msg["Subject"] = "Khiếu nại: máy giặt bị hỏng"
    msg["Message-ID"] = message_id
    msg.set_content("Máy giặt mua ngày 02/11 đã bị hỏng.")
    return msg.as_bytes()


def _no_data_of(r: httpx.Response, *others: dict[str, Any]) -> None:
    for other in others:
        assert other["reference"] not in r.text and other["id"] not in r.text


async def test_the_same_key_and_body_answers_with_the_first_request(
        client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/api/complaints", json=complaint(), headers=key)
    # the same body, differently spelt: whitespace, key order, decomposed diacritics
    again_body = complaint(description="  Tủ lạnh không lạnh sau hai ngày sử dụng.\n")
    again_body["customer"] = {"email": "binh.tran@example.vn", "phone": "0912345678",
                              "name": "Tra\u0302\u0300n Văn Bình"}
    again = await client.post("/api/complaints", json=again_body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()


async def test_a_reused_key_with_another_body_is_refused_and_reveals_nothing(
        client: httpx.AsyncClient, application: IntakeApplication) -> None:
    key = {"Idempotency-Key": "key-1"}
    victim = await client.post("/api/complaints", json=complaint(), headers=key)
    assert victim.status_code == 201
    stored = application.max_notification_id()
    other = complaint(customer={"name": "Kẻ gian", "email": "attacker@example.org"},
                      description="Tôi muốn hủy khiếu nại này.")
    reused = await client.post("/api/complaints", json=other, headers=key)
    assert reused.status_code == 422, reused.text
    [error] = reused.json()["errors"]
    assert error["field"] == "Idempotency-Key" and error["type"] == "key_reused"
    assert "another request" in error["message_en"]
    _no_data_of(reused, victim.json())
    assert application.max_notification_id() == stored  # nothing stored


async def test_keys_are_scoped_to_their_caller(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "shared-key"}
    body = complaint(channel="counter")
    agent = await client.post("/api/complaints", json=body, headers={**key, **auth("agent")})
    support = await client.post("/api/complaints", json=body,
                                headers={**key, **auth("support")})
    anonymous = await client.post("/api/complaints", json=complaint(), headers=key)
    assert {agent.status_code, support.status_code, anonymous.status_code} == {201}
    ids = {r.json()["id"] for r in (agent, support, anonymous)}
    assert len(ids) == 3  # one key, three callers: three requests, none sees another's
    repeated = await client.post("/api/complaints", json=body,
                                 headers={**key, **auth("agent")})
    assert repeated.status_code == 200 and repeated.json()["id"] == agent.json()["id"]


async def test_an_http_key_cannot_hijack_a_customers_email(
        client: httpx.AsyncClient, intake_http: FastAPI,
        application: IntakeApplication) -> None:
    mail: MailIntake = intake_http.state.mail
    # the attacker pre-claims the Message-ID the customer's email will carry
    claim = await client.post("/api/complaints", headers={"Idempotency-Key":
                                                          "email:<victim-1@example.vn>"},
                              json=complaint(customer={"name": "Kẻ gian",
                                                       "email": "attacker@example.org"}))
    assert claim.status_code == 201
    outcome = mail.handle(_email("<victim-1@example.vn>"), "an.nguyen@example.vn",
                          ["contact@vhv.vn"])
    assert outcome.action == "created" and outcome.request_id is not None
    assert str(outcome.request_id) != claim.json()["id"]
    victim = application.get_request(outcome.request_id)
    assert application.customer_of(victim)["email"] == "an.nguyen@example.vn"  # type: ignore[index]
    # ...and the other way round: the email first, then an HTTP key naming it
    mail.handle(_email("<victim-2@example.vn>"), "an.nguyen@example.vn", ["contact@vhv.vn"])
    email_case = application.request_for_message("<victim-2@example.vn>")
    late = await client.post("/api/complaints", headers={"Idempotency-Key":
                                                         "email:<victim-2@example.vn>"},
                             json=complaint())
    assert late.status_code == 201 and late.json()["id"] != str(email_case)


async def test_keys_stored_before_scoping_keep_answering_their_own_caller(
        client: httpx.AsyncClient, application: IntakeApplication) -> None:
    """A request stored with the old, global derivation of its key (here: written as the
    old code did) is found again by its own caller's retry, and by no one else."""
    body = complaint(channel="counter")
    legacy = application.receive(
        NewRequest(kind="complaint", channel="counter",
                   customer={"name": "Trần Văn Bình", "phone": "+84912345678",
                             "email": "binh.tran@example.vn"},
                   description=body["description"], product=body["product"],
                   category=body["category"], taken_by="test.agent"),
        Trace(actor_kind="staff", actor_id="test.agent", actor_role="agent",
              correlation_id=str(uuid.uuid4())).as_dict(),
        idempotency_key="old-key")
    assert legacy.request_id == request_id_for_idempotency_key("old-key")

    retry = await client.post("/api/complaints", json=body,
                              headers={"Idempotency-Key": "old-key", **auth("agent")})
    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == str(legacy.request_id)
    changed = await client.post("/api/complaints",
                                json={**body, "description": "Khác hẳn."},
                                headers={"Idempotency-Key": "old-key", **auth("agent")})
    assert changed.status_code == 422
    _no_data_of(changed, retry.json())
    stranger = await client.post("/api/complaints", json=body,
                                 headers={"Idempotency-Key": "old-key", **auth("support")})
    assert stranger.status_code == 201 and stranger.json()["id"] != str(legacy.request_id)


async def test_a_malformed_key_is_refused_naming_the_header(
        client: httpx.AsyncClient) -> None:
    for bad in ("has space", "x" * 201, "vi\u1ec7t"):
        r = await client.post("/api/complaints", json=complaint(),
                              headers=[(b"Idempotency-Key", bad.encode("utf-8"))])
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["errors"][0]["field"] == "Idempotency-Key"
