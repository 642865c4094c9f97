"""What one stranger may file through the public form: so many requests per email address
or phone number (the form must not become a way to send someone acknowledgement after
acknowledgement) and per client address; staff and the system's own tools are not
counted, and a retry of a request already filed is answered, not refused."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.staff import auth

from .conftest import AppFactory, complaint


def _from(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 40000)),
                             base_url="http://intake")


def _filed(n: int, **customer: str) -> dict[str, Any]:
    return complaint(customer={"name": f"Khách {n}", **customer},
                     description=f"Yêu cầu số {n}: tủ lạnh không lạnh")


async def _post(client: httpx.AsyncClient, body: dict[str, Any], *, forwarded: str | None,
                key: str | None = None, **headers: str) -> httpx.Response:
    sent = {"Idempotency-Key": key or str(uuid.uuid4()), **headers}
    if forwarded:
        sent["X-Forwarded-For"] = forwarded
    return await client.post("/api/complaints", json=body, headers=sent)


def _refused(r: httpx.Response, limit: str) -> None:
    assert r.status_code == 429, r.text
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    detail = r.json()["detail"]
    assert detail["code"] == f"too_many_per_{limit}"
    assert "0422111997" in detail["message_vi"] and "retry" in detail["message_en"]


async def test_one_email_or_phone_files_at_most_its_limit(make_app: AppFactory) -> None:
    app = make_app(public_per_contact=2)
    async with _from(app) as client:  # the gateway (trusted) forwarding for a stranger
        for n in range(2):
            r = await _post(client, _filed(n, email="victim@example.vn"),
                            forwarded="198.51.100.7")
            assert r.status_code == 201, r.text
        _refused(await _post(client, _filed(2, email="Victim@Example.vn"),
                             forwarded="198.51.100.7"), "contact")
        # from elsewhere too: the limit is the victim's, not the sender's
        _refused(await _post(client, _filed(3, email="victim@example.vn"),
                             forwarded="203.0.113.9"), "contact")
        for n in range(2):
            r = await _post(client, _filed(10 + n, phone="0912 000 111"),
                            forwarded="198.51.100.7")
            assert r.status_code == 201, r.text
        _refused(await _post(client, _filed(12, phone="+84912000111",
                                             email="other@example.vn"),
                             forwarded="198.51.100.7"), "contact")
        r = await _post(client, _filed(13, email="someone.else@example.vn"),
                        forwarded="198.51.100.7")
        assert r.status_code == 201, r.text


async def test_one_address_files_at_most_its_limit(make_app: AppFactory) -> None:
    app = make_app(public_per_address=3)
    async with _from(app) as gateway, _from(app, "192.0.2.44") as stranger:
        for n in range(3):
            r = await _post(gateway, _filed(n, email=f"k{n}@example.vn"),
                            forwarded="198.51.100.7")
            assert r.status_code == 201, r.text
        _refused(await _post(gateway, _filed(3, email="k3@example.vn"),
                             forwarded="10.0.0.1, 198.51.100.7"), "address")
        r = await _post(gateway, _filed(4, email="k4@example.vn"), forwarded="198.51.100.8")
        assert r.status_code == 201, r.text
        # a peer we do not trust is counted by its own address, whatever it claims
        for n in range(3):
            r = await _post(stranger, _filed(20 + n, email=f"s{n}@example.vn"),
                            forwarded=f"198.51.100.{50 + n}")
            assert r.status_code == 201, r.text
        _refused(await _post(stranger, _filed(23, email="s3@example.vn"),
                             forwarded="198.51.100.99"), "address")


async def test_staff_and_the_systems_own_tools_are_not_counted(make_app: AppFactory
                                                               ) -> None:
    app = make_app(public_per_contact=1, public_per_address=1)
    async with _from(app) as client:
        for n in range(3):
            r = await _post(client, _filed(n, email="same@example.vn") | {"channel": "counter"},
                            forwarded="198.51.100.7", **auth("agent"))
            assert r.status_code == 201, r.text
            r = await _post(client, _filed(10 + n, email="same@example.vn"), forwarded=None)
            assert r.status_code == 201, r.text  # a local tool: trusted, forwarding nobody


async def test_a_retry_of_a_request_already_filed_is_answered(make_app: AppFactory) -> None:
    app = make_app(public_per_contact=1)
    async with _from(app) as client:
        body = _filed(1, email="once@example.vn")
        first = await _post(client, body, forwarded="198.51.100.7", key="retry-1")
        assert first.status_code == 201, first.text
        again = await _post(client, body, forwarded="198.51.100.7", key="retry-1")
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        _refused(await _post(client, _filed(2, email="once@example.vn"),
                             forwarded="198.51.100.7", key="retry-2"), "contact")


async def test_the_limit_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    answers = spec["paths"]["/api/complaints"]["post"]["responses"]
    assert "Retry-After" in answers["429"]["headers"]


async def test_requests_at_the_same_moment_cannot_all_pass_the_check(make_app: AppFactory
                                                                     ) -> None:
    app = make_app(public_per_contact=2)
    async with _from(app) as client:
        answers = await asyncio.gather(*(
            _post(client, _filed(n, email="burst@example.vn"), forwarded="198.51.100.7")
            for n in range(10)))
    assert sorted(r.status_code for r in answers) == [201, 201] + [429] * 8
