"""Possible duplicates across channels: the rule (pure) and the HTTP API (staff confirm a
merge or dismiss), on intake's real composition root with the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.domain import Request
from hotro.services.intake.domain.duplicates import (
    find_order_ref,
    normalise_order_ref,
    possible_duplicates,
    weeks_covering,
)
from hotro.shared.clock import SettableClock
from tests.support.staff import auth, staff_id

from .conftest import complaint

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _entry(request_id: str, days_before: float, product: str | None = "dien-lanh",
           order_key: str | None = None) -> dict[str, Any]:
    return {"request_id": request_id, "reference": f"KN-2026-{request_id}",
            "received_at": (AT - timedelta(days=days_before)).isoformat(),
            "product": product, "order_key": order_key}


def test_the_rule_links_same_product_or_order_within_the_window_once_each() -> None:
    found = possible_duplicates(
        {"email": [_entry("1", 3), _entry("2", 8), _entry("3", 1, product="gia-dung"),
                   _entry("4", 2, product=None, order_key="k")],
         "phone": [_entry("1", 3, order_key="k"), _entry("new", 0)]},
        request_id="new", product="dien-lanh", order_key="k", received_at=AT,
        window=timedelta(days=7))
    assert [(f["request_id"], f["matched_on"], f["contact"]) for f in found] == [
        ("1", ["order", "product"], ["email", "phone"]),  # both contacts, both matches
        ("4", ["order"], ["email"]),
    ]  # "2": too old; "3": another product, no order; "new": itself


def test_nothing_matches_without_a_product_or_order_or_with_the_window_off() -> None:
    entries = {"email": [_entry("1", 1, product=None)]}
    assert possible_duplicates(entries, request_id="n", product=None, order_key=None,
                               received_at=AT, window=timedelta(days=7)) == []
    assert possible_duplicates({"email": [_entry("1", 0)]}, request_id="n",
                               product="dien-lanh", order_key=None, received_at=AT,
                               window=timedelta(0)) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("Mã đơn hàng: DH-2026-1234, giao chậm", "DH-2026-1234"),
    ("don hang so 88812345 bi giao nham", "88812345"),
    ("hóa đơn #hd0099 ghi sai", "HD0099"),
    ("My order no. A12345 never came", "A12345"),
    ("đơn hàng của tôi bị giao chậm", None),  # no number
    ("đơn hàng\n\n  số   DH77777", "DH77777"),
    ("x" * 30_000 + " đơn hàng DH12345", None),  # past what is read
])
def test_order_numbers_are_found_in_text(text: str, expected: str | None) -> None:
    assert find_order_ref(text) == expected


def test_a_look_up_reads_only_the_weeks_its_window_covers() -> None:
    monday = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
    assert weeks_covering(monday, timedelta(days=7)) == ["2026-W46", "2026-W47"]
    assert weeks_covering(monday + timedelta(days=6), timedelta(days=0)) == ["2026-W47"]
    assert len(weeks_covering(monday, timedelta(days=365))) == 54  # Sun 16/11/2025 on


def test_order_numbers_compare_whatever_their_spelling() -> None:
    assert normalise_order_ref("dh-2026/1234") == normalise_order_ref("DH 2026 1234")


async def _file(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/api/complaints", json=complaint(**overrides), headers=auth("agent"))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _view(client: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    r = await client.get(f"/api/complaints/{reference}", headers=auth())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_the_same_customer_about_the_same_product_is_linked_then_merged(
        client: httpx.AsyncClient, application: IntakeApplication,
        clock: SettableClock) -> None:
    first = await _file(client, channel="counter")
    clock.advance(days=2)
    # by phone only (the hotline), the same product: the phone hash links them
    second = await _file(client, channel="hotline",
                         customer={"name": "Trần Văn Bình", "phone": "+84912345678"})
    view = await _view(client, second["reference"])
    [link] = view["possible_duplicates"]
    assert (link["reference"], link["matched_on"], link["contact"], link["status"]) == (
        first["reference"], ["product"], ["phone"], "possible")
    assert (await _view(client, first["reference"]))["possible_duplicates"] == []

    url = f"/api/complaints/{second['reference']}/duplicates/{first['reference']}"
    assert (await client.post(f"{url}/confirm", json={}, headers=auth("agent"))
            ).status_code == 403  # agents record; support and supervisors decide
    r = await client.post(f"{url}/confirm", json={"reason": "khách gửi hai lần"},
                          headers=auth("support"))
    assert r.status_code == 200, r.text
    assert r.json() == {"reference": second["reference"],
                        "other_reference": first["reference"], "status": "merged",
                        "merged_into": first["reference"]}
    # an event on both cases, with who and why
    [merged] = [e for e in application.events.get(second["id"])
                if isinstance(e, Request.DuplicateMerged)]  # type: ignore[attr-defined]
    assert merged.other_reference == first["reference"]
    assert merged.reason == "khách gửi hai lần" and merged.trace["actor_id"] == staff_id()
    [absorbed] = [e for e in application.events.get(first["id"])
                  if type(e).__name__ == "DuplicateAbsorbed"]
    assert absorbed.other_reference == second["reference"]  # type: ignore[attr-defined]
    assert (await _view(client, first["reference"]))["merged_from"] == [second["reference"]]
    assert (await _view(client, second["reference"]))["possible_duplicates"][0]["status"] \
        == "merged"
    # decided once
    assert (await client.post(f"{url}/dismiss", json={}, headers=auth("supervisor"))
            ).status_code == 409


async def test_a_dismissed_link_stays_marked_and_unknown_links_are_404(
        client: httpx.AsyncClient, application: IntakeApplication,
        clock: SettableClock) -> None:
    first = await _file(client, product="gia-dung", order_ref="DH-55501")
    clock.advance(days=1)
    second = await _file(client, product="dien-tu-nghe-nhin", order_ref="dh 55501",
                         customer={"name": "Bình", "email": "binh.tran@example.vn"})
    url = f"/api/complaints/{second['reference']}/duplicates/{first['reference']}"
    [link] = (await _view(client, second["reference"]))["possible_duplicates"]
    assert (link["matched_on"], link["contact"]) == (["order"], ["email"])
    r = await client.post(f"{url}/dismiss", json={"reason": "hai đơn khác nhau"},
                          headers=auth("supervisor"))
    assert r.status_code == 200 and r.json()["status"] == "dismissed", r.text
    assert [type(e).__name__ for e in application.events.get(second["id"])][-1] == \
        "DuplicateDismissed"
    assert (await _view(client, second["reference"]))["merged_into"] is None
    assert (await client.post(f"{url}/confirm", json={}, headers=auth())).status_code == 409
    # the link only goes from the later case to the earlier one
    back = f"/api/complaints/{first['reference']}/duplicates/{second['reference']}/confirm"
    assert (await client.post(back, json={}, headers=auth())).status_code == 404
    nowhere = f"/api/complaints/{second['reference']}/duplicates/KN-2026-999999/confirm"
    assert (await client.post(nowhere, json={}, headers=auth())).status_code == 404


async def test_another_customer_or_another_week_is_not_linked(
        client: httpx.AsyncClient, clock: SettableClock) -> None:
    await _file(client)
    other = await _file(client, customer={"name": "Lê Thị Hoa", "phone": "0987 654 321",
                                          "email": "hoa.le@example.vn"})
    assert (await _view(client, other["reference"]))["possible_duplicates"] == []
    clock.advance(days=8)  # the default window is 7 days
    late = await _file(client)
    assert (await _view(client, late["reference"]))["possible_duplicates"] == []


async def test_a_link_crosses_the_week_boundary_within_the_window(
        client: httpx.AsyncClient, clock: SettableClock) -> None:
    first = await _file(client)  # Tuesday 10/03/2026
    clock.advance(days=6)  # Monday of the next week
    second = await _file(client)
    [link] = (await _view(client, second["reference"]))["possible_duplicates"]
    assert (link["reference"], sorted(link["contact"])) == (first["reference"],
                                                            ["email", "phone"])
