"""The staff HTTP API over an in-memory routing application: who may do what, clear
errors with no event stored, queues, triage reloading, configuration refused at start."""

from __future__ import annotations

import shutil
import stat
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hotro.services.routing.adapters.attachments import DepartmentFiles
from hotro.services.routing.api import build_router
from hotro.services.routing.application import RoutingApplication
from hotro.services.routing.domain.catalogue import ConfigError
from hotro.services.routing.main import create_app
from hotro.services.routing.settings import CONFIG_DIR, RoutingSettings
from hotro.services.routing.views import CaseQueues
from hotro.shared.clock import SettableClock
from hotro.shared.contracts import events as wire
from hotro.shared.runtime.openapi import Refused, refused_response
from hotro.shared.runtime.operator_actions import operator_actions
from hotro.shared.staff.http import Authenticator, install_authenticator
from hotro.shared.staff.roles import Role
from hotro.shared.staff.users import (
    Directory,
    StaffUser,
    UsersFileError,
    load_directory,
    write_demo_users,
)
from tests.unit.routing.app_builders import Feeder, routing_app, stored_event_names
from tests.unit.routing.builders import day

USERS = {
    "support": StaffUser(id="nv.lan", name="Lan", role=Role.SUPPORT, token="s" * 20),
    "agent": StaffUser(id="hl.minh", name="Minh", role=Role.AGENT, token="a" * 20),
    "kythuat": StaffUser(id="kt.duc", name="Đức", role=Role.DEPARTMENT,
                         department="ky-thuat-bao-hanh", token="k" * 20),
    "giaovan": StaffUser(id="gv.hoa", name="Hòa", role=Role.DEPARTMENT,
                         department="giao-van", token="g" * 20),
    "supervisor": StaffUser(id="gs.ha", name="Hà", role=Role.SUPERVISOR, token="v" * 20),
    "auditor": StaffUser(id="ks.bao", name="Bảo", role=Role.AUDITOR, token="u" * 20),
    "operator": StaffUser(id="vh.khoa", name="Khoa", role=Role.OPERATOR, token="o" * 20),
}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {USERS[who].token}"}


class Api:
    def __init__(self, app: RoutingApplication, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.feed = Feeder(app)

    async def act(self, who: str, cid: uuid.UUID, action: str,
                  body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(f"/api/cases/{cid}/actions/{action}", json=body,
                                      headers=auth(who))


@pytest.fixture
def triage_file(tmp_path: Path) -> Path:
    path = tmp_path / "triage.toml"
    shutil.copy(CONFIG_DIR / "triage.toml", path)
    return path


@pytest.fixture
async def api(triage_file: Path, tmp_path: Path) -> AsyncIterator[Api]:
    app = routing_app(triage_file=triage_file)
    http = FastAPI()
    http.include_router(build_router(app, CaseQueues(app), triage_file=triage_file,
                                     files=DepartmentFiles(tmp_path / "department-files")))
    install_authenticator(http, Authenticator(Directory(USERS.values())))
    http.add_exception_handler(Refused, refused_response)  # as the service's host does
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http),
                                 base_url="http://routing") as client:
        yield Api(app, client)


async def test_every_request_needs_a_known_token(api: Api) -> None:
    cid = api.feed.received()
    assert (await api.client.get("/api/cases")).status_code == 401
    response = await api.client.get(f"/api/cases/{cid}",
                                    headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown, expired or disabled token"}
    assert response.headers["www-authenticate"] == "Bearer"
    # operators run the system: they read no case
    assert (await api.client.get(f"/api/cases/{cid}", headers=auth("operator"))
            ).status_code == 403
    assert (await api.client.get("/api/cases", headers=auth("operator"))).status_code == 403


async def test_actions_record_the_actor_and_errors_store_nothing(api: Api) -> None:
    cid = api.feed.received()
    response = await api.act("support", cid, "refer",
                             {"department": "ky-thuat-bao-hanh", "question": "Máy nén?",
                              "internal_due": day(5).isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "referred_to_department"
    assert body["timeline"][-1]["actor_id"] == "nv.lan"
    assert body["timeline"][-1]["actor_role"] == "support"
    before = stored_event_names(api.app)

    illegal = await api.act("support", cid, "resolve", {"resolution": "x"})
    assert illegal.status_code == 409
    assert "cannot resolve a case that is referred_to_department" in illegal.json()["detail"]
    missing = await api.act("support", uuid.uuid4(), "resolve", {"resolution": "x"})
    assert missing.status_code == 404
    bad = await api.act("support", cid, "add_note", {"txt": "typo"})
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"text", "txt"}
    auditor = await api.act("auditor", cid, "add_note", {"text": "x"})
    assert auditor.status_code == 403
    assert auditor.json()["detail"].startswith("role 'auditor' may not call this")
    agent = await api.act("agent", cid, "force_close", {"reason": "x"})
    assert agent.status_code == 403
    assert agent.json()["detail"].startswith("role 'agent' may not call this")
    assert stored_event_names(api.app) == before


async def test_refusals_carry_a_code_and_values_a_client_can_say_in_its_own_words(
        api: Api) -> None:
    cid = api.feed.received()
    referred = await api.act("support", cid, "refer",
                             {"department": "ky-thuat-bao-hanh", "question": "Máy nén?"})
    assert referred.status_code == 200, referred.text
    illegal = await api.act("support", cid, "resolve", {"resolution": "x"})
    assert illegal.status_code == 409
    assert illegal.json()["code"] == "illegal_transition"
    assert illegal.json()["params"] == {"state": "referred_to_department",
                                        "action": "resolve"}
    assert illegal.json()["detail"].startswith("cannot resolve a case")
    other = await api.act("giaovan", cid, "record_department_response",
                          {"result": "x"})
    assert other.status_code == 403
    assert other.json()["code"] == "referred_elsewhere"
    past = await api.act("support", cid, "add_note", {"text": "   "})
    assert past.status_code == 422
    problem = past.json()["detail"][0]
    assert problem["loc"] == ["body", "text"]
    assert problem["ctx"] == {"code": "blank", "field": "text"}


async def test_due_dates_are_bounded(api: Api) -> None:
    cid = api.feed.received()
    far = await api.act("support", cid, "request_info",
                        {"items": ["hoa-don"], "due_date": day(400).isoformat()})
    assert far.status_code == 422
    assert far.json()["detail"][0]["loc"] == ["body", "due_date"]
    far = await api.act("support", cid, "refer",
                        {"department": "giao-van", "question": "?",
                         "internal_due": "9999-12-31"})
    assert far.status_code == 422
    assert far.json()["detail"][0]["loc"] == ["body", "internal_due"]
    ancient = await api.act("support", cid, "record_reply_sent",
                            {"method": "phone", "summary": "đã gọi",
                             "at": "0001-01-01T00:00:00+00:00"})
    assert ancient.status_code == 422
    assert ancient.json()["detail"][0]["loc"] == ["body", "at"]
    assert (await api.client.get("/api/departments/" + "x" * 65 + "/queue",
                                 headers=auth("support"))).status_code == 422


async def test_how_far_ahead_a_due_date_may_be_counts_from_today_in_vietnam(api: Api) -> None:
    clock = api.app.clock
    assert isinstance(clock, SettableClock)
    cid = api.feed.received()
    clock.set(datetime(2026, 12, 31, 17, 30, tzinfo=UTC))  # 00:30 on 01/01/2027 in Vietnam

    # 366 days after 01/01/2027 (in UTC it is still 31/12/2026, which would refuse it)
    edge = await api.act("support", cid, "request_info",
                         {"items": ["hoa-don"], "due_date": "2028-01-02"})
    assert edge.status_code == 200, edge.text
    beyond = await api.act("support", cid, "refer",
                           {"department": "giao-van", "question": "?",
                            "internal_due": "2028-01-03"})
    assert beyond.status_code == 422
    assert "after 2027-01-01" in beyond.json()["detail"][0]["msg"]


async def test_a_department_sees_its_referrals_answers_and_can_neither_reply_nor_close(
        api: Api) -> None:
    ours = api.feed.received()
    other = api.feed.received()
    await api.act("support", ours, "refer", {"department": "ky-thuat-bao-hanh",
                                             "question": "Có lỗi nhà sản xuất?"})
    await api.act("support", other, "refer", {"department": "giao-van", "question": "?"})

    queue = await api.client.get("/api/cases", headers=auth("kythuat"))
    assert [r["complaint_id"] for r in queue.json()] == [str(ours)]
    dept_queue = await api.client.get("/api/departments/ky-thuat-bao-hanh/queue",
                                      headers=auth("kythuat"))
    assert [r["complaint_id"] for r in dept_queue.json()] == [str(ours)]
    foreign = await api.client.get("/api/departments/giao-van/queue",
                                   headers=auth("kythuat"))
    assert foreign.status_code == 403
    assert (foreign.json()["code"], foreign.json()["params"]) == (
        "not_your_department", {"department": "giao-van"})
    never = await api.client.get(f"/api/cases/{other}", headers=auth("kythuat"))
    assert never.status_code == 403
    assert (never.json()["code"], never.json()["params"]) == (
        "never_referred_here", {"department": "ky-thuat-bao-hanh"})
    assert (await api.act("kythuat", other, "record_department_response",
                          {"result": "x"})).status_code == 403

    answered = await api.act("kythuat", ours, "record_department_response",
                             {"result": "Lỗi nhà sản xuất, đổi máy"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["allowed_actions"] == ["add_note"]
    assert answered.json()["timeline"][-1]["actor_kind"] == "department"
    before = stored_event_names(api.app)
    for action, body in (("request_reply", {"method": "email", "content": "Kính gửi"}),
                         ("record_reply_sent", {"method": "phone", "summary": "đã gọi"}),
                         ("close", {"reason": "xong"}), ("force_close", {"reason": "xong"})):
        refused = await api.act("kythuat", ours, action, body)
        assert refused.status_code == 403, action
        assert "role 'department' may not" in refused.json()["detail"]
    assert stored_event_names(api.app) == before
    # answered: it leaves the department's waiting queue but stays visible to it
    assert (await api.client.get("/api/departments/ky-thuat-bao-hanh/queue",
                                 headers=auth("kythuat"))).json() == []
    everything = await api.client.get("/api/departments/ky-thuat-bao-hanh/queue",
                                      params={"everything": "true"}, headers=auth("support"))
    assert [r["state"] for r in everything.json()] == ["department_responded"]


async def test_queue_filters_and_overdue_first(api: Api) -> None:
    web = api.feed.received()
    hotline = api.feed.received(channel="hotline")
    api.feed.deadline(hotline, "reply", day(10), breached=True)
    rows = (await api.client.get("/api/cases", headers=auth("auditor"))).json()
    assert [r["complaint_id"] for r in rows] == [str(hotline), str(web)]
    assert rows[0]["sla_status"] == "breached"
    assert rows[0]["deadlines"]["reply"]["last_day"] == day(10).isoformat()
    only_web = await api.client.get("/api/cases", params={"channel": "web", "state":
                                                          "analysing"}, headers=auth("agent"))
    assert [r["complaint_id"] for r in only_web.json()] == [str(web)]
    bad = await api.client.get("/api/cases", params={"sla": "late"}, headers=auth("agent"))
    assert bad.status_code == 422
    detail = (await api.client.get(f"/api/cases/{hotline}", headers=auth("agent"))).json()
    assert detail["sla_status"] == "breached"
    assert "request_info" in detail["allowed_actions"]


async def test_triage_reload_applies_new_rules_and_refuses_a_bad_file(
        api: Api, triage_file: Path) -> None:
    original = triage_file.read_text(encoding="utf-8")
    triage_file.write_text(original.replace('id = "bao-hanh-dien-tu"', 'id = "bao-hanh-v2"'),
                           encoding="utf-8")
    for who in ("support", "supervisor"):
        assert (await api.client.post("/ops/triage/reload", headers=auth(who))
                ).status_code == 403
    assert (await api.client.post("/ops/triage/reload")).status_code == 401
    # never through a proxy (the gateway adds Via), even for the operator
    proxied = await api.client.post("/ops/triage/reload",
                                    headers={**auth("operator"), "Via": "1.1 hotro-gateway"})
    assert proxied.status_code == 404
    assert operator_actions(api.app) == []
    reloaded = await api.client.post("/ops/triage/reload", headers=auth("operator"))
    assert reloaded.status_code == 200, reloaded.text
    assert "bao-hanh-v2" in [r["id"] for r in reloaded.json()["rules"]]
    cid = api.feed.received()
    assert api.app.get_case(cid).triage["rule_id"] == "bao-hanh-v2"  # type: ignore[index]

    triage_file.write_text(original.replace('department = "giao-van"',
                                            'department = "phong-ma"', 1), encoding="utf-8")
    refused = await api.client.post("/ops/triage/reload", headers=auth("operator"))
    assert refused.status_code == 409
    assert "rule #6 'giao-hang': unknown department 'phong-ma'" in refused.json()["detail"]
    cid = api.feed.received()
    assert api.app.get_case(cid).triage["rule_id"] == "bao-hanh-v2"  # type: ignore[index]
    # who did what, when, with which outcome: in routing's own store
    done, failed = operator_actions(api.app)
    assert (done.operator_id, done.operator_role, done.action) == (
        "vh.khoa", "operator", "triage.reload")
    assert done.arguments["file"] == str(triage_file) and done.outcome == "done"
    assert done.at == api.app.clock().isoformat()
    assert failed.outcome.startswith("refused: ") and "phong-ma" in failed.outcome
    # internal: nothing of it goes on the wire
    assert not [e for e in api.app.envelopes() if "Operator" in e.event_type]


async def test_openapi_documents_each_action_with_its_body(tmp_path: Path) -> None:
    schema = create_app(_settings(tmp_path)).openapi()
    paths = schema["paths"]
    refer = paths["/api/cases/{complaint_id}/actions/refer"]["post"]
    assert refer["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/Referral")
    assert {"401", "403", "404", "408", "409", "413", "422"} <= set(refer["responses"])

    def schema_of(operation: dict[str, Any], code: str) -> str:
        ref: str = operation["responses"][code]["content"]["application/json"]["schema"][
            "$ref"]
        return ref.rsplit("/", 1)[1]

    assert schema_of(refer, "409") == "ErrorDetail"
    assert schema_of(refer, "422") == "HTTPValidationError"
    assert schema["components"]["schemas"]["ErrorDetail"]["required"] == ["detail"]
    assert "/api/departments/{code}/queue" in paths
    assert "/api/triage/reload" not in paths
    reload = paths["/ops/triage/reload"]["post"]
    assert {"401", "403", "404", "409"} <= set(reload["responses"])


def _settings(tmp_path: Path, **extra: Any) -> RoutingSettings:
    return RoutingSettings(nats_url="nats://127.0.0.1:1", store_url="memory:",
                           allow_memory_store=True, data_dir=str(tmp_path), **extra)


def test_a_bad_triage_file_is_refused_at_start_naming_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "triage.toml"
    bad.write_text((CONFIG_DIR / "triage.toml").read_text(encoding="utf-8").replace(
        'checklist = ["ma-don-hang"]', 'checklist = ["ma-don-hang", "so-do-nha"]', 1),
        encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        create_app(_settings(tmp_path, triage_file=str(bad)))
    assert "rule #6 'giao-hang': unknown checklist item 'so-do-nha'" in str(refused.value)
    assert str(bad) in str(refused.value)


def test_a_users_file_naming_an_unknown_department_is_refused_at_start(
        tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    users.write_text('[[users]]\nid = "x"\nname = "X"\nrole = "department"\n'
                     'department = "phong-ma"\ntoken = "' + "t" * 20 + '"\n', encoding="utf-8")
    with pytest.raises(UsersFileError, match="user 'x': unknown department 'phong-ma'"):
        create_app(_settings(tmp_path, users_file=str(users)))


def test_demo_users_one_per_role_with_working_tokens(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "users.toml"
    tokens = write_demo_users(path)
    assert set(tokens) == {r.value for r in Role}
    directory = load_directory(str(path))
    for role, token in tokens.items():
        user = directory.authenticate(token)
        assert user is not None and user.role.value == role
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert write_demo_users(path) != tokens  # fresh tokens every time


async def test_a_late_filing_is_decided_by_a_supervisor_over_http(api: Api) -> None:
    cid = api.feed.received(filed_late=True, filing_deadline=day(-3))
    shown = await api.client.get(f"/api/cases/{cid}", headers=auth("supervisor"))
    assert shown.json()["state"] == "awaiting_filing_review"
    assert set(shown.json()["allowed_actions"]) >= {"accept_late_filing",
                                                    "refuse_late_filing"}
    queue = await api.client.get("/api/case-queue", params={"state": "awaiting_filing_review"},
                                 headers=auth("supervisor"))
    assert [r["complaint_id"] for r in queue.json()["rows"]] == [str(cid)]
    before = stored_event_names(api.app)
    support = await api.act("support", cid, "accept_late_filing", {"waiver_reason": "ốm"})
    assert support.status_code == 403
    blank = await api.act("supervisor", cid, "accept_late_filing", {"waiver_reason": "  "})
    assert blank.status_code == 422
    assert stored_event_names(api.app) == before  # refused requests store nothing
    accepted = await api.act("supervisor", cid, "accept_late_filing",
                             {"waiver_reason": "khách nằm viện"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "analysing"
    assert accepted.json()["filing_review"]["reason"] == "khách nằm viện"
    again = await api.act("supervisor", cid, "refuse_late_filing", {})
    assert again.status_code == 409


async def test_follow_ups_are_listed_until_reopened_or_dismissed(api: Api) -> None:
    cids = [api.feed.received() for _ in range(2)]
    for cid in cids:
        closed = await api.act("supervisor", cid, "force_close", {"reason": "đã gọi"})
        assert closed.status_code == 200
        api.feed.send("intake", wire.InfoProvided(reference="r", channel="email",
                                                  content="Máy lại hỏng"), cid)

    async def listed() -> set[str]:
        r = await api.client.get("/api/case-queue", params={"follow_up": "true"},
                                 headers=auth("supervisor"))
        return {row["complaint_id"] for row in r.json()["rows"]}

    assert await listed() == {str(c) for c in cids}
    assert (await api.act("supervisor", cids[0], "reopen", {"reason": "lỗi tái diễn"})
            ).status_code == 200
    dismissed = await api.act("supervisor", cids[1], "dismiss_follow_up",
                              {"reason": "khách chỉ cảm ơn"})
    assert dismissed.status_code == 200 and not dismissed.json()["follow_up_pending"]
    assert await listed() == set()
