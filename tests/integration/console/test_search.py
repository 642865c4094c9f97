"""Staff find a case by the customer's email, phone or name (accents optional) through
intake's blind index; an erased customer can no longer be found; the console's queue
search goes through it."""

from __future__ import annotations

import uuid

from tests.integration.console.conftest import ConsoleSystem
from tests.support.console import signed_in
from tests.support.staff import auth
from tests.support.waiting import eventually

CUSTOMERS = (
    {"name": "Nguyễn Thị Thuỷ", "phone": "0912345101", "email": "Thuy.Nguyen@Example.vn"},
    {"name": "Trần Văn Đức", "phone": "0912345102", "email": "duc@example.vn"},
    {"name": "Nguyễn Văn An", "phone": "0912345103"},
)


async def _receive(console_system: ConsoleSystem) -> list[dict[str, str]]:
    intake = console_system.system.client("intake")
    received = []
    for i, customer in enumerate(CUSTOMERS):
        r = await intake.post("/api/complaints", json={
            "kind": "complaint", "channel": "web", "product": "dien-lanh",
            "customer": customer, "description": f"Máy lạnh hỏng {i}"})
        assert r.status_code == 201, r.text
        received.append(r.json())
    return received


async def test_search_by_email_phone_and_name(console_system: ConsoleSystem) -> None:
    received = await _receive(console_system)
    ids = [r["id"] for r in received]
    intake = console_system.system.client("intake")

    async def found(q: str) -> list[str]:
        r = await intake.get("/api/intake/search", params={"q": q}, headers=auth("support"))
        assert r.status_code == 200, r.text
        return [m["id"] for m in r.json()["matches"]]

    assert await found("thuy.nguyen@example.vn") == [ids[0]]  # case-insensitive
    assert await found("  DUC@example.vn ") == [ids[1]]
    assert await found("nobody@example.vn") == []
    assert await found("+84912345103") == [ids[2]]
    assert await found("nguyen thi thuy") == [ids[0]]  # without diacritics
    assert await found("THUỶ nguyễn") == [ids[0]]  # any order and case
    assert await found("Nguyễn") == [ids[2], ids[0]]  # newest first
    assert await found("tran van duc") == [ids[1]]  # đ is d
    assert await found("nguyen duc") == []  # every word must match one customer
    assert await found("thu") == []  # whole words only: no prefix leaks
    assert await found(received[1]["reference"]) == [ids[1]]
    assert (await intake.get("/api/intake/search", params={"q": "an"},
                             headers=auth("department"))).status_code == 403

    # Erasure (what ``hotro erase`` records after destroying the key): gone from search.
    app = console_system.system.application("intake")
    app.record_erasure(uuid.UUID(ids[0]), reason="customer's request",
                       requested_by="test.dpo", fields=["customer"],
                       trace={"actor_kind": "staff", "actor_id": "test.dpo",
                              "actor_role": "data-protection",
                              "correlation_id": str(uuid.uuid4())})
    assert await found("thuy.nguyen@example.vn") == []
    assert await found("0912345101") == []
    assert await found("nguyen") == [ids[2]]


async def test_console_queue_search_by_name_and_email(console_system: ConsoleSystem
                                                      ) -> None:
    received = await _receive(console_system)
    support = await signed_in(console_system.console, "support")

    async def queued() -> str | None:
        page = await support.get("/queue", params={"q": "nguyen van an"})
        return page.text if received[2]["reference"] in page.text else None

    page = await eventually(queued, timeout=30)
    assert received[0]["reference"] not in page and received[1]["reference"] not in page
    by_email = await support.get("/queue", params={"q": "duc@example.vn"})
    assert by_email.status_code == 200
    assert received[1]["reference"] in by_email.text
    assert received[0]["reference"] not in by_email.text
    missing = await support.get("/queue", params={"q": "Lê Văn Không"})
    assert missing.status_code == 200
    assert all(r["reference"] not in missing.text for r in received)
