"""Information for a case is recorded once per Idempotency-Key: a client that lost the
answer (a timeout while the database was slow) retries with the same key and the
information is not added twice — in the 10,000-complaint chaos run, without keys, five
complaints got their information twice. The key is the caller's (staff member, or the
case's link) and bound to the information: the same key with other content is refused."""

from __future__ import annotations

import uuid

import httpx

from hotro.services.intake.application import IntakeApplication
from hotro.shared.clock import SettableClock
from hotro.shared.staff.signing import KeyRing
from tests.support.staff import auth

from .conftest import complaint, link_for

INVOICE = {"channel": "counter", "items": ["hoa-don"], "content": "Hóa đơn số 0042"}


async def _case(client: httpx.AsyncClient) -> dict[str, str]:
    created = await client.post("/api/complaints", json=complaint())
    assert created.status_code == 201, created.text
    body: dict[str, str] = created.json()
    return body


def _info_count(application: IntakeApplication, request_id: str) -> int:
    return len(application.get_request(uuid.UUID(request_id)).info)


async def test_a_retry_with_the_same_key_records_the_information_once(
        client: httpx.AsyncClient, application: IntakeApplication) -> None:
    case = await _case(client)
    url = f"/api/complaints/{case['id']}/info"
    headers = {**auth("support"), "Idempotency-Key": "info-retry-1"}

    first = await client.post(url, json=INVOICE, headers=headers)
    again = await client.post(url, json={**INVOICE, "content": " Hóa đơn số 0042 "},
                              headers=headers)

    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json() == first.json()
    assert _info_count(application, case["id"]) == 1


async def test_the_same_key_with_other_information_is_refused(
        client: httpx.AsyncClient, application: IntakeApplication) -> None:
    case = await _case(client)
    url = f"/api/complaints/{case['id']}/info"
    headers = {**auth("support"), "Idempotency-Key": "info-reused"}
    assert (await client.post(url, json=INVOICE, headers=headers)).status_code == 202

    other = await client.post(url, json={**INVOICE, "content": "Phiếu bảo hành"},
                              headers=headers)

    assert other.status_code == 422, other.text
    assert "Idempotency-Key" in other.text
    assert _info_count(application, case["id"]) == 1


async def test_keys_are_the_callers_own_and_no_key_means_new_information(
        client: httpx.AsyncClient, application: IntakeApplication,
        capability_keys: KeyRing, clock: SettableClock) -> None:
    case = await _case(client)
    url = f"/api/complaints/{case['id']}/info"
    key = {"Idempotency-Key": "same-words"}
    link = link_for(capability_keys, clock, case["id"], case["reference"])
    web = {"content": INVOICE["content"], "items": INVOICE["items"]}

    by_staff = await client.post(url, json=INVOICE, headers={**auth("support"), **key})
    by_other_staff = await client.post(url, json=INVOICE, headers={**auth("agent"), **key})
    by_customer = await client.post(url, json=web, headers={**link, **key})
    unkeyed = await client.post(url, json=INVOICE, headers=auth("support"))

    assert [r.status_code for r in (by_staff, by_other_staff, by_customer, unkeyed)] == \
        [202, 202, 202, 202]
    assert _info_count(application, case["id"]) == 4
