"""Intake's HTTP API: validation answers (vi + en), channel rules, idempotency."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.staff import auth, staff_id

from .conftest import complaint


def _errors(r: httpx.Response) -> dict[str, dict[str, Any]]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"] == "Dữ liệu không hợp lệ / Invalid input"
    for e in body["errors"]:
        assert e["message_vi"] and e["message_en"], e
    return {e["field"]: e for e in body["errors"]}


async def test_field_level_reasons_in_vietnamese_and_english(client: httpx.AsyncClient) -> None:
    body = complaint(customer={"name": "", "phone": "12345", "email": "not-an-email"},
                     description="", channel="fax")
    errors = _errors(await client.post("/api/complaints", json=body))
    assert set(errors) >= {"customer.name", "customer.phone", "customer.email",
                           "description", "channel"}
    assert errors["customer.phone"]["message_vi"] == "số điện thoại không hợp lệ"
    assert errors["customer.phone"]["message_en"] == "invalid phone number"
    assert errors["customer.email"]["message_vi"] == "Địa chỉ email không hợp lệ"
    assert errors["description"]["message_en"] == "must not be blank"
    assert "counter" in errors["channel"]["message_vi"]


async def test_catalogue_codes_and_dates_are_checked(client: httpx.AsyncClient) -> None:
    body = complaint(product="may-bay", category="bi-mat", incident_date="2099-01-01")
    errors = _errors(await client.post("/api/complaints", json=body))
    assert errors["product"]["type"] == "unknown_code"
    assert "may-bay" in errors["product"]["message_en"]
    assert "danh mục" in errors["category"]["message_vi"]
    assert errors["incident_date"]["type"] == "future_date"
    bad_date = _errors(await client.post("/api/complaints",
                                         json=complaint(incident_date="13/02/2026")))
    assert "YYYY-MM-DD" in bad_date["incident_date"]["message_en"]


async def test_a_way_to_reach_the_customer_is_required_outside_the_counter(
        client: httpx.AsyncClient) -> None:
    body = complaint(customer={"name": "Bà Lan"})
    assert "customer" in _errors(await client.post("/api/complaints", json=body))
    counter = await client.post("/api/complaints", json={**body, "channel": "counter"},
                                headers=auth("agent"))
    assert counter.status_code == 201, counter.text


async def test_phone_numbers_are_stored_in_e164(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/complaints", json=complaint())
    assert r.status_code == 201, r.text
    view = (await client.get(f"/api/complaints/{r.json()['id']}", headers=auth())).json()
    assert view["reference"] == r.json()["reference"]


async def test_a_retried_post_with_the_same_idempotency_key_makes_one_case(
        client: httpx.AsyncClient) -> None:
    key = str(uuid.uuid4())
    first = await client.post("/api/complaints", json=complaint(),
                              headers={"Idempotency-Key": key})
    again = await client.post("/api/complaints", json=complaint(),
                              headers={"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["reference"] == again.json()["reference"]
    other = await client.post("/api/complaints", json=complaint())
    assert other.json()["reference"] != first.json()["reference"]


async def test_a_refund_complaint_by_email_or_web_is_recorded_and_told_to_come_to_the_counter(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/api/complaints", json=complaint(category="hoan-tien"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["required_channel"] == "counter"
    notice = body["notices"][0]
    assert notice["code"] == "wrong_channel"
    assert "hóa đơn gốc" in notice["message_vi"] and "original invoice" in notice["message_en"]
    stored = (await client.get(f"/api/complaints/{body['reference']}",
                               headers=auth())).json()
    assert stored["details"]["channel_rule"]["required_channel"] == "counter"

    at_counter = await client.post("/api/complaints", headers=auth("agent"),
                                   json=complaint(category="hoan-tien", channel="counter"))
    assert at_counter.json()["required_channel"] is None
    assert at_counter.json()["notices"] == []


async def test_unknown_request_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/complaints/KN-2026-999999", headers=auth())).status_code == 404


async def test_reading_a_request_needs_a_staff_token_but_submitting_does_not(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/api/complaints", json=complaint())  # the web form: no token
    assert r.status_code == 201, r.text
    ref = r.json()["reference"]
    anonymous = await client.get(f"/api/complaints/{ref}")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    forged = await client.get(f"/api/complaints/{ref}",
                              headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    department = await client.get(f"/api/complaints/{ref}", headers=auth("department"))
    assert department.status_code == 403, department.text
    assert "department" in department.json()["detail"]
    assert (await client.get(f"/api/complaints/{ref}", headers=auth("auditor"))).status_code \
        == 200
    assert (await client.get("/api/intake/mail-log")).status_code == 401


async def test_staff_entry_records_the_authenticated_user_not_a_claimed_one(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/api/complaints", json={**complaint(), "channel": "counter"},
                          headers={**auth("agent"), "X-Staff-Id": "someone-else"})
    assert r.status_code == 201, r.text
    view = (await client.get(f"/api/complaints/{r.json()['id']}", headers=auth())).json()
    assert view["details"]["taken_by"] == staff_id("agent")
