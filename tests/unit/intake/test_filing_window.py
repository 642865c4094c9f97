"""Step 1's filing window through the HTTP API, with the real working-day calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from hotro.services.intake.domain import filing_window_check
from hotro.shared.calendar import load_calendar, parse_policy
from hotro.shared.clock import VIETNAM_TZ, SettableClock
from tests.support.staff import auth

from .conftest import AppFactory, complaint

FRIDAY_BEFORE_TET_2026 = "2026-02-13"


async def test_incident_on_the_friday_before_tet_filed_after_the_window_is_late(
        client: httpx.AsyncClient, clock: SettableClock) -> None:
    # 7 working days after Fri 13/02/2026 skip the weekend and Tết (16-20/02): the last day
    # to file is Tue 03/03/2026, until 24:00 Hanoi time.
    clock.set(datetime(2026, 3, 4, 8, 30, tzinfo=VIETNAM_TZ))
    r = await client.post("/api/complaints",
                          json=complaint(incident_date=FRIDAY_BEFORE_TET_2026))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["filed_late"] is True
    assert body["filing_deadline"] == "2026-03-03"
    assert [n["code"] for n in body["notices"]] == ["filed_late"]
    assert "03/03/2026" in body["notices"][0]["message_vi"]

    stored = (await client.get(f"/api/complaints/{body['reference']}",
                               headers=auth())).json()
    assert stored["filed_late"] is True and stored["filing_deadline"] == "2026-03-03"


async def test_the_last_minute_of_the_last_day_is_still_in_time(
        client: httpx.AsyncClient, clock: SettableClock) -> None:
    clock.set(datetime(2026, 3, 3, 23, 59, tzinfo=VIETNAM_TZ))
    r = await client.post("/api/complaints",
                          json=complaint(incident_date=FRIDAY_BEFORE_TET_2026))
    assert r.status_code == 201, r.text
    assert r.json()["filed_late"] is False
    assert r.json()["filing_deadline"] == "2026-03-03"
    assert r.json()["notices"] == []
    clock.set(datetime(2026, 3, 3, 17, 0, tzinfo=UTC))  # 00:00 on 04/03 in Vietnam
    late = await client.post("/api/complaints",
                             json=complaint(incident_date=FRIDAY_BEFORE_TET_2026))
    assert late.json()["filed_late"] is True


async def test_advice_has_no_filing_window(client: httpx.AsyncClient,
                                           clock: SettableClock) -> None:
    clock.set(datetime(2026, 6, 1, 9, 0, tzinfo=VIETNAM_TZ))
    r = await client.post("/api/complaints", json=complaint(kind="advice",
                                                            category="tu-van-dich-vu"))
    assert r.status_code == 201, r.text
    assert r.json()["reference"].startswith("TV-2026-")
    assert r.json()["filed_late"] is False and r.json()["filing_deadline"] is None


@pytest.mark.parametrize(("product", "category", "deadline"), [
    ("tra-gop", "thanh-toan", date(2026, 3, 20)),          # product override: 20 days
    ("dien-lanh", "bao-hanh-sua-chua", date(2026, 3, 10)),  # category override: 12 days
    ("dien-lanh", "thanh-toan", date(2026, 3, 3)),          # default: 7 days
])
def test_product_then_category_overrides_decide_the_window(
        product: str, category: str, deadline: date) -> None:
    policy = parse_policy("""
[[overrides]]
product = "tra-gop"
kind = "filing"
working_days = 20
basis = "instalment terms"

[[overrides]]
category = "bao-hanh-sua-chua"
kind = "filing"
working_days = 12
basis = "warranty policy"
""", origin="test")
    check = filing_window_check(load_calendar(), policy)
    last_day, late = check(product, category, date(2026, 2, 13),
                           datetime(2026, 3, 4, 9, 0, tzinfo=VIETNAM_TZ))
    assert last_day == deadline
    assert late is (deadline < date(2026, 3, 4))


async def test_a_custom_policy_file_is_used_by_the_service(
        make_app: AppFactory, clock: SettableClock, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    policy = tmp_path / "policy.toml"
    policy.write_text('[[overrides]]\nproduct = "dien-lanh"\nkind = "filing"\n'
                      'working_days = 30\nbasis = "test"\n', encoding="utf-8")
    app = make_app(deadline_policy_file=str(policy))
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=VIETNAM_TZ))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://intake") as c:
        r = await c.post("/api/complaints", json=complaint(incident_date="2026-02-13"))
    assert r.json()["filed_late"] is False
    assert r.json()["filing_deadline"] == "2026-04-03"


async def test_references_are_numbered_by_the_year_in_vietnam(
        client: httpx.AsyncClient, clock: SettableClock) -> None:
    """The service's clock runs in UTC: seven hours into 2027 in Hà Nội it is still 2026
    there. A complaint received then is the new year's."""
    clock.set(datetime(2026, 12, 31, 16, 59, tzinfo=UTC))  # 23:59 on 31/12 in Vietnam
    old_year = await client.post("/api/complaints", json=complaint())
    clock.set(datetime(2026, 12, 31, 17, 30, tzinfo=UTC))  # 00:30 on 01/01/2027
    new_year = await client.post("/api/complaints", json=complaint())

    assert old_year.json()["reference"].startswith("KN-2026-")
    assert new_year.json()["reference"] == "KN-2027-000001"
