"""sla's HTTP API as its composition root builds it (in-memory store, runtime not started):
the clocks are for case staff — department members see only their department's cases —
and the public calendar refuses what it cannot answer with 422, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hotro.services.sla.application import SlaApplication
from hotro.shared.contracts import events
from tests.support.staff import DEPARTMENT, auth
from tests.unit.notify.wire import REFERENCE, envelope, received
from tests.unit.structure.service_apps import service_app


class Sla:
    def __init__(self, app: SlaApplication, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    def case(self, referred_to: str | None = None) -> uuid.UUID:
        complaint_id = uuid.uuid4()
        self.app.handle(received(complaint_id))
        if referred_to is not None:
            self.app.handle(envelope("routing", events.ReferredToDepartment(
                reference=REFERENCE, department=referred_to, question="?"), complaint_id))
        return complaint_id


@pytest.fixture
async def sla(tmp_path: Path) -> AsyncIterator[Sla]:
    http = service_app("sla", tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http),
                                 base_url="http://sla") as client:
        yield Sla(http.state.runtime.app, client)


async def test_clocks_are_for_case_staff_only(sla: Sla) -> None:
    cid = sla.case()
    for path in ("/api/clocks", "/api/clocks/overdue", f"/api/clocks/{cid}",
                 f"/api/clocks/batch/reply?ids={cid}"):
        assert (await sla.client.get(path)).status_code == 401, path
        assert (await sla.client.get(path, headers=auth("operator"))).status_code == 403, path
        assert (await sla.client.get(path, headers=auth("agent"))).status_code == 200, path
    cases = (await sla.client.get("/api/clocks", headers=auth("auditor"))).json()["cases"]
    assert [c["complaint_id"] for c in cases] == [str(cid)]


async def test_a_department_sees_only_the_cases_referred_to_it(sla: Sla) -> None:
    ours, theirs, nobodys = sla.case(DEPARTMENT), sla.case("giao-van"), sla.case()
    member = auth("department")
    listed = (await sla.client.get("/api/clocks", headers=member)).json()["cases"]
    assert [c["complaint_id"] for c in listed] == [str(ours)]
    assert (await sla.client.get(f"/api/clocks/{ours}", headers=member)).status_code == 200
    for other in (theirs, nobodys):
        refused = await sla.client.get(f"/api/clocks/{other}", headers=member)
        assert refused.status_code == 403
    batch = await sla.client.get("/api/clocks/batch/reply", headers=member,
                                 params={"ids": f"{ours},{theirs},{nobodys}"})
    assert set(batch.json()["clocks"]) == {str(ours)}
    everyone = await sla.client.get("/api/clocks/batch/reply", headers=auth("support"),
                                    params={"ids": f"{ours},{theirs},{nobodys}"})
    assert set(everyone.json()["clocks"]) == {str(ours), str(theirs), str(nobodys)}
    assert (await sla.client.get("/api/clocks/batch/reply", headers=member,
                                 params={"ids": "not-an-id"})).status_code == 422


@pytest.mark.parametrize("path", ["/api/calendar/99999", "/api/calendar/1899",
                                  "/api/calendar/2101", "/api/calendar/-5",
                                  "/api/calendar/deadline/1899-12-31/10",
                                  "/api/calendar/deadline/2026-02-30/10",
                                  "/api/calendar/deadline/99999-01-01/10",
                                  "/api/calendar/deadline/2026-03-02/0",
                                  "/api/calendar/deadline/2026-03-02/366"])
async def test_the_calendar_refuses_what_it_cannot_answer_with_422(sla: Sla, path: str) -> None:
    refused = await sla.client.get(path)
    assert refused.status_code == 422, path
    [problem] = refused.json()["detail"]
    assert problem["loc"][0] == "path" and problem["msg"]


async def test_the_calendar_is_public(sla: Sla) -> None:
    year = await sla.client.get("/api/calendar/2026")
    assert year.status_code == 200 and year.json()["covered"] is True
    old = await sla.client.get("/api/calendar/1900")
    assert old.status_code == 200 and old.json()["covered"] is False
    deadline = await sla.client.get("/api/calendar/deadline/2026-03-02/10")
    assert deadline.status_code == 200 and deadline.json()["last_day"] == "2026-03-16"
    assert deadline.json()["covered"] is True and deadline.json()["warnings"] == []


async def test_a_year_no_notice_covers_is_answered_provisionally_and_says_so(sla: Sla) -> None:
    year = (await sla.client.get("/api/calendar/2027")).json()
    assert year["covered"] is False
    tet = [day for day in year["days_off"] if day["date"] == "2027-02-06"]
    assert [(day["name_en"], day["official"]) for day in tet] == [("Lunar New Year (day 1)",
                                                                   False)]

    across_tet = (await sla.client.get("/api/calendar/deadline/2027-01-29/10")).json()
    assert across_tet["last_day"] == "2027-02-19"
    assert across_tet["covered"] is False and "provisional" in across_tet["warnings"][0]
