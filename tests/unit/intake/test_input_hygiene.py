"""Input hygiene at the door: control characters in names and single-line fields → 422
naming the field; text trimmed and NFC; blank descriptions refused; a name with CR/LF/NUL
(which once broke the acknowledgement) never reaches the store."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import httpx
import pytest

from hotro.services.intake.application import IntakeApplication
from hotro.services.intake.hygiene import clean_multi_line, clean_single_line
from hotro.shared.clock import SettableClock
from hotro.shared.staff.signing import KeyRing
from tests.support.staff import auth

from .conftest import complaint, link_for
from .test_hotline_webhook import call, signed


def _field_errors(r: httpx.Response) -> dict[str, dict[str, Any]]:
    assert r.status_code == 422, r.text
    return {e["field"]: e for e in r.json()["errors"]}


@pytest.mark.parametrize("name", ["Trần Văn Bình\r\nBcc: victim@example.vn", "Bình\n",
                                  "Bình\x00", "Bình\tAn", "Bình\x1b[31m", "Bình\x85",
                                  "Bình\u2028An", "\x7fBình", "Bình\u202eAn",
                                  "\u2066Bình\u2069"])
async def test_a_name_with_control_characters_is_refused_at_the_door(
        client: httpx.AsyncClient, application: IntakeApplication, name: str) -> None:
    stored = application.max_notification_id()
    body = complaint(customer={"name": name, "phone": "0912345678"})
    errors = _field_errors(await client.post("/api/complaints", json=body))
    assert set(errors) == {"customer.name"}
    assert "control characters" in errors["customer.name"]["message_en"]
    assert "ký tự điều khiển" in errors["customer.name"]["message_vi"]
    assert application.max_notification_id() == stored  # nothing was stored


@pytest.mark.parametrize("field", ["address", "email", "phone"])
async def test_every_single_line_contact_field_refuses_line_breaks(
        client: httpx.AsyncClient, field: str) -> None:
    customer = {"name": "Bình", "phone": "0912345678", "email": "binh@example.vn",
                "address": "12 Lê Lợi, Huế"}
    customer[field] = customer[field] + "\r\nX-Injected: 1"
    errors = _field_errors(await client.post("/api/complaints",
                                             json=complaint(customer=customer)))
    assert f"customer.{field}" in errors


@pytest.mark.parametrize("field", ["product", "category", "order_ref", "call_id"])
async def test_codes_and_references_refuse_control_characters(
        client: httpx.AsyncClient, field: str) -> None:
    errors = _field_errors(await client.post(
        "/api/complaints", headers=auth("agent"),
        json=complaint(channel="hotline", **{field: "abc\x00def"})))
    assert field in errors


async def test_text_is_trimmed_and_nfc_and_multi_line_text_keeps_its_lines(
        client: httpx.AsyncClient, application: IntakeApplication) -> None:
    decomposed = unicodedata.normalize("NFD", "Trần Văn Bình")
    description = "  Tủ lạnh không lạnh.\r\n\tĐã thử cắm lại.\r\n  "
    r = await client.post("/api/complaints", json=complaint(
        customer={"name": f"  {decomposed}  ", "phone": " 0912345678 ",
                  "address": "  12 Lê Lợi  "},
        description=unicodedata.normalize("NFD", description), order_ref="  HD-1 "))
    assert r.status_code == 201, r.text
    request = application.get_request(application.find(r.json()["id"]).id)
    customer = application.customer_of(request)
    assert customer is not None
    assert customer["name"] == "Trần Văn Bình" and customer["address"] == "12 Lê Lợi"
    assert unicodedata.is_normalized("NFC", customer["name"])
    assert request.details["description"] == "Tủ lạnh không lạnh.\n\tĐã thử cắm lại."
    assert request.details["order_ref"] == "HD-1"


@pytest.mark.parametrize("description", ["", "   ", "\r\n\t \n", "\u3000"])
async def test_a_description_of_only_whitespace_is_refused(
        client: httpx.AsyncClient, description: str) -> None:
    errors = _field_errors(await client.post("/api/complaints",
                                             json=complaint(description=description)))
    assert errors["description"]["message_en"] == "must not be blank"


async def test_a_description_may_not_hide_control_characters(
        client: httpx.AsyncClient) -> None:
    errors = _field_errors(await client.post(
        "/api/complaints", json=complaint(description="Hỏng\x00 rồi\x1b")))
    assert "U+0000" in errors["description"]["message_en"]


async def test_information_and_its_items_follow_the_same_rules(
        client: httpx.AsyncClient, capability_keys: KeyRing, clock: SettableClock) -> None:
    created = (await client.post("/api/complaints", json=complaint())).json()
    link = link_for(capability_keys, clock, created["id"], created["reference"])
    url = f"/api/complaints/{created['reference']}/info"
    blank = _field_errors(await client.post(url, json={"content": " \n "}, headers=link))
    assert "content" in blank
    items = _field_errors(await client.post(url, json={"content": "ok",
                                                       "items": ["hoa-don\nx"]},
                                            headers=link))
    assert "items.0" in items


async def test_the_webhook_refuses_control_characters_in_its_fields(
        client: httpx.AsyncClient, clock: SettableClock) -> None:
    body, headers = signed(call("call.started", "c-1\r\n"), clock)
    errors = _field_errors(await client.post("/api/intake/hotline/calls", content=body,
                                             headers=headers))
    assert "call_id" in errors
    assert json.loads(body)["call_id"] == "c-1\r\n"


def test_the_cleaners_directly() -> None:
    assert clean_single_line("  Bình  ") == "Bình"
    assert clean_single_line("   ", required=False) is None
    with pytest.raises(ValueError, match=r"U\+000A"):
        clean_single_line("a\nb")
    assert clean_multi_line("a\r\nb\rc\u2028d") == "a\nb\nc\nd"
    with pytest.raises(ValueError, match=r"U\+0007"):
        clean_multi_line("ring\a")
    with pytest.raises(ValueError, match="blank"):
        clean_multi_line(" \t\n ")


async def test_blank_optional_fields_are_absent_and_long_ones_refused(
        client: httpx.AsyncClient, application: IntakeApplication) -> None:
    r = await client.post("/api/complaints", json=complaint(
        order_ref="", product="  ", category=None,
        customer={"name": "Bình", "phone": "0912345678", "email": " ", "address": ""}))
    assert r.status_code == 201, r.text
    request = application.get_request(application.find(r.json()["id"]).id)
    assert request.details["order_ref"] is None and request.details["product"] is None
    customer = application.customer_of(request)
    assert customer is not None and customer["email"] is None and customer["address"] is None
    errors = _field_errors(await client.post("/api/complaints", json=complaint(
        order_ref="x" * 65, customer={"name": "Bình", "phone": "0912345678",
                                      "address": "y" * 501})))
    assert errors["order_ref"]["type"] == "string_too_long"
    assert errors["customer.address"]["type"] == "string_too_long"
