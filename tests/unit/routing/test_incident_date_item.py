"""An email complaint without an incident date: routing's first information request
proposes asking for it (``ngay-su-co``); with a date, or on other channels, nothing
changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from hotro.services.routing.application.incident_date import INCIDENT_DATE_ITEM
from tests.unit.routing.app_builders import CATALOGUE, Feeder, routing_app


def _triage(**overrides: Any) -> dict[str, Any]:
    app = routing_app()
    complaint_id = Feeder(app).received(**overrides)
    triage: dict[str, Any] = app.get_case(complaint_id).triage or {}
    return triage


def test_the_item_is_in_the_catalogue() -> None:
    assert INCIDENT_DATE_ITEM in CATALOGUE.checklist_codes


def test_an_email_complaint_without_a_date_is_asked_for_it_first() -> None:
    triage = _triage(channel="email", product=None, category=None)
    assert triage["checklist"][0] == INCIDENT_DATE_ITEM
    assert triage["outcome"] == "request_info"
    assert "ngày xảy ra" in triage["explanation"]


def test_the_rules_checklist_is_kept_after_the_date() -> None:
    # the fridge rule refers to Kỹ thuật with its own documents to gather first
    triage = _triage(channel="email")
    assert triage["outcome"] == "refer"
    assert triage["checklist"] == [INCIDENT_DATE_ITEM, "hoa-don", "phieu-bao-hanh",
                                   "anh-san-pham"]


def test_nothing_changes_with_a_date_on_another_channel_or_for_advice() -> None:
    for overrides in ({"channel": "email", "incident_date": date(2025, 1, 2)},
                      {"channel": "web"},
                      {"channel": "email", "kind": "advice", "category": "tu-van-dich-vu"}):
        assert INCIDENT_DATE_ITEM not in _triage(**overrides)["checklist"], overrides
