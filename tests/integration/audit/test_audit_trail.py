"""Audit acceptance over a real nats-server and PostgreSQL: a scripted scenario through the
branches of step 2, then `hotro audit` (timeline, --as-of), `hotro replay` against the live
read models, seals + `hotro audit verify` clean, and tampering in the database reported
precisely."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest
from psycopg import sql

from hotro.audit.replay import replay, sla_rows_live
from hotro.audit.timeline import case_view
from hotro.cli import main as hotro
from hotro.natsbin import NatsServerProcess
from hotro.services.routing.application import ConcurrentChange
from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.workflow import Action
from hotro.services.sla.domain.clock import Clock
from hotro.shared.clock import VIETNAM_TZ as ICT
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.trace import Trace
from hotro.shared.seals import SEALS_STREAM, Seal, seal_subject
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.postgres import PG_BASE, PostgresSchemas
from tests.support.staff import auth
from tests.support.system import InProcessSystem, running_system
from tests.support.system import settled as system_settled
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres

CUSTOMER = {"name": "Nguyễn Thị Ánh", "phone": "0912 345 678",
            "email": "anh.nguyen@example.com", "address": "12 Hàng Bài, Hà Nội"}


def staff(actor: str, role: str) -> dict[str, Any]:
    return Trace(actor_kind="staff", actor_id=actor, actor_role=role,
                 correlation_id=str(uuid.uuid4())).as_dict()


class Script:
    def __init__(self, system: InProcessSystem, clock: SettableClock) -> None:
        self.system = system
        self.clock = clock
        self.routing = system.application("routing")
        self.sla = system.application("sla")

    def tick(self) -> None:
        """Keep the injected clock on wall time: every service's timestamps comparable."""
        self.clock.set(datetime.now(UTC))

    async def submit(self, **overrides: Any) -> uuid.UUID:
        self.tick()
        body: dict[str, Any] = {"kind": "complaint", "channel": "web", "customer": CUSTOMER,
                                "product": "dien-lanh", "category": "chat-luong-san-pham",
                                "description": "Tủ lạnh mới mua không lạnh."}
        body.update(overrides)
        async with self.system.client("intake") as client:
            r = await client.post("/api/complaints", json=body,
                                  headers={"Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 201, r.text
        return uuid.UUID(r.json()["id"])

    async def act(self, cid: uuid.UUID, action: Action, actor: str = "demo.support",
                  role: str = "support", actor_dept: str | None = None,
                  **args: Any) -> None:
        # routing's own consumers may save the case between our load and save; a staff
        # client gets 409 and reloads, and so does this script (bounded).
        for attempt in range(5):
            self.tick()
            try:
                await asyncio.to_thread(self.routing.act, cid, action, role=role,
                                        actor_department=actor_dept,
                                        trace=staff(actor, role), **args)
                return
            except ConcurrentChange:
                if attempt == 4:
                    raise

    async def state(self, cid: uuid.UUID, state: str) -> Case:
        def check() -> Case | None:
            case = self.routing._find(cid)
            return case if case is not None and case.state.value == state else None
        return await eventually(check, message=f"{cid} {state}")

    async def settled(self, cid: uuid.UUID) -> tuple[datetime, dict[str, Any], dict[str, Any]]:
        """Wait until everything stored is relayed, consumed and delivered; return the
        instant and what staff saw then."""
        await eventually(lambda: system_settled(self.system, TEST_PARTITIONS),
                         message="the system settled")
        await eventually(lambda: system_settled(self.system, TEST_PARTITIONS),
                         message="the system still settled")
        case = self.routing.get_case(cid)
        clocks = {c.kind: c.snapshot() for c in self.sla.clocks_of(cid)}
        instant = datetime.now(UTC)
        return instant, case_view(case), clocks



async def _last_seal(js: Any, service: str) -> Seal | None:
    from nats.js.errors import NotFoundError

    try:
        msg = await js.get_last_msg(SEALS_STREAM, seal_subject(service))
    except NotFoundError:
        return None
    return Seal.from_json(msg.data)


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The real command line (in a thread: it runs its own event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(hotro, list(argv))
    return code, capsys.readouterr().out


def _schema(pg: PostgresSchemas, service: str) -> str:
    return pg.url(service).split("schema=", 1)[1]


def _rows(pg: PostgresSchemas, service: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(PG_BASE) as conn:
        return conn.execute(sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {}.{} ORDER BY notification_id").format(
            sql.Identifier(_schema(pg, service)), sql.Identifier(f"{service}_events"))).fetchall()


async def test_timeline_time_travel_replay_and_tamper_evidence(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        capsys: pytest.CaptureFixture[str]) -> None:
    clock = SettableClock(datetime.now(UTC))
    stores = [f"--store={s}={pg_schemas.url(s)}" for s in ("intake", "routing", "sla",
                                                             "notify")]
    moments: list[tuple[datetime, dict[str, Any], dict[str, Any]]] = []
    async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                              partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                              clock=clock) as system:
        s = Script(system, clock)
        # A: information needed, then resolved by support, replied by email
        a = await s.submit()
        await s.state(a, "analysing")
        moments.append(await s.settled(a))
        due = (datetime.now(ICT) + timedelta(days=7)).date()
        await s.act(a, Action.REQUEST_INFO, items=["hoa-don"], due_date=due,
                    message="Xin bổ sung hoá đơn.")
        await s.state(a, "awaiting_customer_info")
        moments.append(await s.settled(a))
        s.tick()
        async with system.client("intake") as client:
            r = await client.post(f"/api/complaints/{a}/info", headers=auth("support"),
                                  json={"channel": "email", "items": ["hoa-don"],
                                        "content": "Hoá đơn đính kèm"})
            assert r.status_code == 202, r.text
        await s.state(a, "analysing")
        await s.act(a, Action.RESOLVE, resolution="Đổi máy mới cho khách.")
        await s.act(a, Action.REQUEST_REPLY, method="email",
                    content="Công ty sẽ đổi tủ lạnh mới.")
        await s.state(a, "closed")
        moments.append(await s.settled(a))
        # B: referred to a department that responds; replied by email
        b = await s.submit()
        await s.state(b, "analysing")
        await s.act(b, Action.REFER, department="ky-thuat-bao-hanh",
                    question="Lỗi máy nén?")
        await s.act(b, Action.RECORD_DEPARTMENT_RESPONSE, actor="demo.kythuat",
                    role="department", actor_dept="ky-thuat-bao-hanh",
                    result="Lỗi nhà sản xuất.")
        await s.act(b, Action.REQUEST_REPLY, method="email", content="Đổi máy.")
        await s.state(b, "closed")
        # C: filed late, reviewed and refused by a supervisor
        c = await s.submit(incident_date=(datetime.now(ICT).date()
                                          - timedelta(days=40)).isoformat())
        await s.state(c, "awaiting_filing_review")
        await s.act(c, Action.REFUSE_LATE_FILING, actor="demo.supervisor", role="supervisor")
        await s.state(c, "refused")
        await s.settled(c)
        ref_a = system.application("intake").get_request(a).reference
        ref_c = system.application("intake").get_request(c).reference

        # ---- replay: rebuilt read models equal the live in-memory ones ----
        apps = system.apps
        routing_live = {r["complaint_id"]: r for r in apps["routing"].state.queues.list()}
        assert not replay(system.application("routing"), routing_live).differences
        notify_live = {r["id"]: r for r in
                       apps["notify"].state.dispatch_log.entries(limit=10_000)}
        assert len(notify_live) >= 6
        assert not replay(system.application("notify"), notify_live).differences
        sla_live = sla_rows_live(apps["sla"].state.board)
        assert not replay(system.application("sla"), sla_live).differences

        # ---- seals cover every stored row of every service ----
        nc = await nats.connect(provisioned.url)
        js = nc.jetstream()
        try:
            for svc in ("intake", "routing", "sla", "notify"):
                top = system.application(svc).max_notification_id()

                async def sealed(svc: str = svc, top: int = top) -> bool:
                    last = await _last_seal(js, svc)
                    return last is not None and last.last >= top
                await eventually(sealed, message=f"{svc} sealed")
        finally:
            await nc.close()

    # ---- timeline: every event of the complaint, causal order, actors ----
    # the customer's name is shown: the data keys are read from NATS (without them the
    # command refuses rather than show the customer as erased: tests/unit/cli)
    code, out = await _cli(capsys, "audit", ref_a, "--json", f"--nats={provisioned.url}",
                           *stores)
    assert code == 0
    events = json.loads(out)["events"]
    assert f"customer={CUSTOMER['name']}" in events[0]["summary"]
    names = [f"{e['service']}:{e['aggregate']}.{e['event']}" for e in events]
    for expected in ("intake:Request.Received", "routing:Case.Opened",
                     "routing:Case.InfoRequested", "intake:Request.InfoProvided",
                     "routing:Case.ResolvedBySupport", "routing:Case.ReplyRequested",
                     "routing:Case.ReplySent", "routing:Case.Closed", "sla:Clock.Set",
                     "sla:Clock.Met", "notify:Dispatch.Requested", "notify:Dispatch.Sent"):
        assert expected in names, expected
    assert names.index("intake:Request.Received") < names.index("routing:Case.Opened") < \
        names.index("routing:Case.InfoRequested") < names.index("intake:Request.InfoProvided") \
        < names.index("routing:Case.ResolvedBySupport") < names.index("routing:Case.Closed")
    position = {e["event_id"]: i for i, e in enumerate(events)}
    for i, e in enumerate(events):
        assert e["actor_id"], e
        if e["causation_id"] in position:
            assert position[e["causation_id"]] < i, f"{names[i]} before its cause"
    staff_events = {e["event"]: e["actor_id"] for e in events if e["actor_kind"] == "staff"}
    assert staff_events["InfoRequested"] == "demo.support"
    assert staff_events["ResolvedBySupport"] == "demo.support"
    code, text = await _cli(capsys, "audit", ref_a, f"--nats={provisioned.url}", *stores)
    assert code == 0 and "+0700" in text and "Z)" in text and "demo.support" in text

    # ---- --as-of: the case and its clocks as they were at each chosen instant ----
    for instant, case_then, clocks_then in moments:
        code, out = await _cli(capsys, "audit", ref_a, "--as-of", instant.isoformat(), *stores)
        state = json.loads(out)
        assert code == 0
        assert json.loads(json.dumps(case_view_json(case_then))) == \
            {k: state["case"][k] for k in case_view_json(case_then)}
        assert {k: (v["status"], v["last_day"]) for k, v in state["clocks"].items()} == \
            {k: (v["status"], v["last_day"]) for k, v in clocks_then.items()}
    states = []
    for m in moments:
        _, out = await _cli(capsys, "audit", ref_a, "--as-of", m[0].isoformat(), *stores)
        states.append(json.loads(out)["case"]["state"])
    assert states == ["analysing", "awaiting_customer_info", "closed"]

    # ---- replay against the aggregates, and a clean verification ----
    code, out = await _cli(capsys, "replay", "all", *stores)
    assert code == 0, out
    code, out = await _cli(capsys, "audit", "verify", "--all", f"--nats={provisioned.url}", *stores)
    assert code == 0, out
    assert "verified: no finding" in out

    # ---- tampering directly in PostgreSQL ----
    routing_rows = _rows(pg_schemas, "routing")
    resolved = next(r for r in routing_rows if r[3].endswith("ResolvedBySupport"))
    notify_rows = _rows(pg_schemas, "notify")
    sent = next(r for r in notify_rows if r[3].endswith("Dispatch.Sent"))
    sla_rows = _rows(pg_schemas, "sla")
    clock_set = next(r for r in sla_rows if r[3].endswith("Clock.Set"))
    top_version = max(r[2] for r in sla_rows if r[1] == clock_set[1])
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        state = json.loads(bytes(resolved[4]))
        state["resolution"] = "Từ chối bảo hành."  # an edited payload
        conn.execute(sql.SQL("UPDATE {}.{} SET state = %s WHERE notification_id = %s").format(
            sql.Identifier(_schema(pg_schemas, "routing")), sql.Identifier("routing_events")),
            (json.dumps(state).encode(), resolved[0]))
        conn.execute(sql.SQL("DELETE FROM {}.{} WHERE notification_id = %s").format(
            sql.Identifier(_schema(pg_schemas, "notify")), sql.Identifier("notify_events")),
            (sent[0],))
        conn.execute(sql.SQL("INSERT INTO {}.{} (originator_id, originator_version, topic, "
                             "state) VALUES (%s, %s, %s, %s)").format(
            sql.Identifier(_schema(pg_schemas, "sla")), sql.Identifier("sla_events")),
            (clock_set[1], top_version + 1, clock_set[3], clock_set[4]))
    code, out = await _cli(capsys, "audit", "verify", "--all", "--json",
                     f"--nats={provisioned.url}", *stores)
    assert code == 1
    findings = json.loads(out)["findings"]
    by_kind = {(f["service"], f["kind"]): f for f in findings}
    edited = by_kind[("routing", "edited")]
    assert edited["notification_id"] == resolved[0]
    assert edited["aggregate"] == "Case" and edited["version"] == resolved[2]
    assert edited["aggregate_id"] == str(resolved[1])
    deleted = by_kind[("notify", "deleted")]
    assert deleted["notification_id"] == sent[0] and deleted["aggregate"] == "Dispatch"
    assert deleted["aggregate_id"] == str(sent[1]) and deleted["version"] == sent[2]
    assert ("notify", "not-stored") in by_kind  # published, no longer in the store
    duplicated = by_kind[("sla", "duplicated")]
    assert duplicated["aggregate_id"] == str(clock_set[1])
    assert duplicated["version"] == top_version + 1
    assert f"notification {clock_set[0]}" in duplicated["detail"]
    assert {f["service"] for f in findings} == {"routing", "notify", "sla"}
    # one complaint's verification names only the findings about it
    code, out = await _cli(capsys, "audit", "verify", ref_c, "--json",
                     f"--nats={provisioned.url}", *stores)
    assert {f["aggregate_id"] for f in json.loads(out)["findings"]} <= {
        None, str(Case.create_id(c)), *(str(Clock.create_id(c, k)) for k in
                                        ("reply", "first_contact"))}


def case_view_json(view: dict[str, Any]) -> dict[str, Any]:
    """The comparable part of a case view (JSON-normalised, no version counter)."""
    comparable: dict[str, Any] = json.loads(json.dumps(
        {k: v for k, v in view.items() if k != "version"}, default=str))
    return comparable
