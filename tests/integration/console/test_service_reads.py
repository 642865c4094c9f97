"""The read endpoints the console added to the services: routing's paged queue and
counts, sla's batch of clocks, intake's batch of names and its search — each with its
policy (who may call it)."""

from __future__ import annotations

import httpx

from tests.integration.console.conftest import ConsoleSystem
from tests.support.staff import auth
from tests.support.waiting import eventually


def _complaint(i: int) -> dict[str, object]:
    return {"kind": "complaint", "channel": "web", "product": "dien-lanh",
            "customer": {"name": f"Khách {i}", "phone": f"09123450{i:02d}"},
            "description": f"Yêu cầu {i}"}


async def test_queue_names_clocks_and_search(console_system: ConsoleSystem) -> None:
    system = console_system.system
    intake, routing, sla = (system.client(s) for s in ("intake", "routing", "sla"))
    ids = []
    for i in range(3):
        r = await intake.post("/api/complaints", json=_complaint(i))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    async def all_queued() -> dict[str, object] | None:
        r = await routing.get("/api/case-queue", params={"limit": 2}, headers=auth("agent"))
        return r.json() if r.status_code == 200 and r.json()["total"] == 3 else None

    page = await eventually(all_queued, timeout=30)
    assert len(page["rows"]) == 2  # type: ignore[arg-type]
    second = (await routing.get("/api/case-queue", params={"limit": 2, "offset": 2},
                                headers=auth("agent"))).json()
    assert len(second["rows"]) == 1
    only = (await routing.get("/api/case-queue", params={"ids": ids[0]},
                              headers=auth("support"))).json()
    assert [r["complaint_id"] for r in only["rows"]] == [ids[0]]
    mine = (await routing.get("/api/case-queue", params={"actor": "test.agent"},
                              headers=auth("agent"))).json()
    assert mine["total"] == 0  # web-form cases nobody on staff has touched yet
    department = (await routing.get("/api/case-queue", headers=auth("department"))).json()
    assert department["total"] == 0  # nothing referred to its department
    assert (await routing.get("/api/case-queue")).status_code == 401
    stats = await routing.get("/api/case-stats", headers=auth("supervisor"))
    assert stats.status_code == 200 and sum(stats.json()["backlog"].values()) == 3
    assert (await routing.get("/api/case-stats", headers=auth("agent"))).status_code == 403

    async def clocks() -> dict[str, object] | None:
        r = await sla.get("/api/clocks/batch/reply", params={"ids": ",".join(ids)},
                          headers=auth("agent"))
        return r.json()["clocks"] if r.status_code == 200 and \
            len(r.json()["clocks"]) == 3 else None

    found = await eventually(clocks, timeout=30)
    assert all(c["kind"] == "reply" and c["explanation"]  # type: ignore[index]
               for c in found.values())
    hidden = await sla.get("/api/clocks/batch/reply", params={"ids": ids[0]},
                           headers=auth("department"))
    assert hidden.status_code == 200 and hidden.json()["clocks"] == {}  # not referred
    report = await sla.get("/api/reports/compliance", headers=auth("supervisor"))
    assert report.status_code == 200
    assert sum(m["open"] for m in report.json()["month"].values()) == 3
    assert (await sla.get("/api/reports/compliance", headers=auth("agent"))).status_code \
        == 403

    names = await intake.get("/api/intake/customers", params={"ids": ",".join(ids)},
                             headers=auth("agent"))
    assert names.status_code == 200
    assert {v["name"] for v in names.json()["customers"].values()} == \
        {"Khách 0", "Khách 1", "Khách 2"}
    assert (await intake.get("/api/intake/customers", params={"ids": ids[0]},
                             headers=auth("department"))).status_code == 403
    search = await intake.get("/api/intake/search", params={"q": "0912345001"},
                              headers=auth("agent"))
    assert [m["id"] for m in search.json()["matches"]] == [ids[1]]
    assert (await intake.get("/api/intake/search", params={"q": "x"})).status_code == 401


async def test_console_queue_shows_names_and_finds_by_phone(console_system: ConsoleSystem
                                                            ) -> None:
    from tests.support.console import signed_in

    intake = console_system.system.client("intake")
    r = await intake.post("/api/complaints", json=_complaint(7))
    reference = r.json()["reference"]
    agent = await signed_in(console_system.console, "agent")

    async def listed() -> str | None:
        page = await agent.get("/queue")
        return page.text if reference in page.text else None

    page = await eventually(listed, timeout=30)
    assert "Khách 7" in page and "ngày làm việc" in page
    found = await agent.get("/queue", params={"q": "0912345007"})
    assert found.status_code == 200 and reference in found.text
    assert isinstance(agent, httpx.AsyncClient)
