from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from hotro.shared.clock import SettableClock
from hotro.shared.staff import capabilities
from hotro.shared.staff.assertions import issue_assertion
from hotro.shared.staff.capabilities import CapabilityClaims
from hotro.shared.staff.http import (
    ANY_CASE_ROLE,
    Authenticator,
    Policy,
    PolicyKind,
    Principal,
    customer_capability,
    install_authenticator,
    internal,
    mark_endpoint,
    operator,
    public,
    route_policies,
    staff,
    undeclared,
)
from hotro.shared.staff.roles import Role
from hotro.shared.staff.signing import KeyRing, new_keyring
from hotro.shared.staff.users import Directory, StaffUser
from tests.unit.staff.builders import T0

TOKENS = {"support": "tok-support-" + "s" * 20, "kythuat": "tok-kythuat-" + "k" * 20,
          "ops": "tok-ops-" + "o" * 20, "gone": "tok-gone-" + "g" * 20}
CID = str(uuid.UUID(int=7))
REF = "KN-2026-000007"
SID = "session-" + "x" * 35


def _users() -> list[StaffUser]:
    return [
        StaffUser(id="nv.lan", name="Lan", role=Role.SUPPORT, token=TOKENS["support"]),
        StaffUser(id="kt.duc", name="Đức", role=Role.DEPARTMENT,
                  department="ky-thuat-bao-hanh", token=TOKENS["kythuat"]),
        StaffUser(id="ops", name="Ops", role=Role.OPERATOR, token=TOKENS["ops"]),
        StaffUser(id="gone", name="Gone", role=Role.SUPPORT, token=TOKENS["gone"],
                  disabled=True),
    ]


# --- the route inspector --------------------------------------------------------------------


def _auditor(user: Annotated[Principal, Depends(staff(Role.AUDITOR))]) -> Principal:
    return user  # a service's own dependency wrapping a policy counts


def _declared_app() -> FastAPI:
    app = FastAPI()
    cases = APIRouter(prefix="/api/cases", dependencies=[Depends(staff(*ANY_CASE_ROLE))])

    @cases.get("")
    def queue() -> list[str]:
        return []

    @cases.post("/{complaint_id}/close", dependencies=[Depends(staff(Role.SUPERVISOR))])
    def close(complaint_id: str) -> None:
        return None

    app.include_router(cases)
    inner = APIRouter(dependencies=[Depends(operator())])

    @inner.post("/reload")
    def reload() -> None:
        return None

    outer = APIRouter(prefix="/api/triage")
    outer.include_router(inner)
    app.include_router(outer, prefix="/v2")

    @app.get("/api/audit")
    def audit(user: Annotated[Principal, Depends(_auditor)]) -> str:
        return user.id

    @app.get("/api/calendar/{year}", dependencies=[Depends(public("the official calendar"))])
    def calendar(year: int) -> int:
        return year

    @app.get("/metrics", dependencies=[Depends(internal())])
    def metrics() -> str:
        return ""

    @app.post("/ops/relay/replay", dependencies=[Depends(operator())])
    def replay() -> None:
        return None

    @app.get("/api/complaints/{complaint_id}/status")
    def status(cap: Annotated[CapabilityClaims, Depends(
            customer_capability(match_path_param="complaint_id"))]) -> str:
        return cap.ref

    @app.post("/api/complaints/{complaint_id}/info")
    def forgotten(complaint_id: str) -> None:  # no policy: the inspector must say so
        return None

    return app


def test_the_inspector_reports_every_route_and_its_policy() -> None:
    policies = route_policies(_declared_app())
    assert policies[("GET", "/api/cases")] == Policy(PolicyKind.STAFF,
                                                    roles=frozenset(ANY_CASE_ROLE))
    both = policies[("POST", "/api/cases/{complaint_id}/close")]
    assert both is not None and both.kind is PolicyKind.ALL
    assert {p.kind for p in both.parts} == {PolicyKind.STAFF}
    assert str(both) == ("staff(agent, auditor, department, supervisor, support) + "
                         "staff(supervisor)")
    audit = policies[("GET", "/api/audit")]
    assert audit == Policy(PolicyKind.STAFF, roles=frozenset({Role.AUDITOR}))
    assert policies[("GET", "/api/calendar/{year}")] == Policy(
        PolicyKind.PUBLIC, reason="the official calendar")
    assert policies[("GET", "/metrics")] == Policy(PolicyKind.INTERNAL)
    assert policies[("POST", "/v2/api/triage/reload")] == Policy(  # nested routers
        PolicyKind.OPERATOR, roles=frozenset({Role.OPERATOR}))
    assert policies[("POST", "/ops/relay/replay")] == Policy(
        PolicyKind.OPERATOR, roles=frozenset({Role.OPERATOR}))
    customer = policies[("GET", "/api/complaints/{complaint_id}/status")]
    assert customer is not None and customer.kind is PolicyKind.CUSTOMER
    for docs in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        found = policies[("GET", docs)]
        assert found is not None and found.kind is PolicyKind.PUBLIC


def test_a_route_without_a_policy_is_reported() -> None:
    app = _declared_app()
    assert route_policies(app)[("POST", "/api/complaints/{complaint_id}/info")] is None
    assert undeclared(app) == [("POST", "/api/complaints/{complaint_id}/info")]
    assert ("GET", "/docs") in undeclared(app, docs_public=False)


def test_the_inspector_looks_into_mounted_apps_and_plain_routes() -> None:
    inner = FastAPI(openapi_url=None)

    @inner.get("/ping")
    def ping() -> str:
        return "pong"

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def bare(_: Request) -> PlainTextResponse:
        return PlainTextResponse("?")

    outer = Starlette(routes=[
        Route("/healthz", mark_endpoint(Policy(PolicyKind.INTERNAL))(health)),
        Route("/bare", bare, methods=["POST"]),
        Mount("/inner", app=inner),
    ])
    policies = route_policies(outer)
    assert policies[("GET", "/healthz")] == Policy(PolicyKind.INTERNAL)
    assert policies[("POST", "/bare")] is None
    assert policies[("GET", "/inner/ping")] is None
    assert undeclared(outer) == [("GET", "/inner/ping"), ("POST", "/bare")]


def test_policies_must_say_who() -> None:
    with pytest.raises(ValueError):
        staff()
    with pytest.raises(ValueError):
        public(" ")


# --- authentication through the dependencies -------------------------------------------------


class Generations:
    def __init__(self) -> None:
        self.current: dict[str, int] = {CID: 2}

    def __call__(self, complaint_id: str) -> int | None:
        return self.current.get(complaint_id)


class World:
    def __init__(self, client: httpx.AsyncClient, assertion_keys: KeyRing,
                 capability_keys: KeyRing, clock: SettableClock, generations: Generations,
                 users: list[StaffUser]) -> None:
        self.client = client
        self.assertion_keys = assertion_keys
        self.capability_keys = capability_keys
        self.clock = clock
        self.generations = generations
        self.users = users

    def assertion(self, user_id: str = "nv.lan", role: Role = Role.SUPPORT,
                  department: str | None = None, keys: KeyRing | None = None) -> str:
        return issue_assertion(user_id=user_id, role=role, department=department,
                               session_id=SID, keys=keys or self.assertion_keys,
                               now=self.clock())

    def capability(self, generation: int = 2, complaint_id: str = CID,
                   reference: str = REF, keys: KeyRing | None = None) -> str:
        return capabilities.issue(complaint_id=complaint_id, reference=reference,
                                  generation=generation, keys=keys or self.capability_keys,
                                  now=self.clock())

    async def get(self, path: str, bearer: str | None = None,
                  **headers: str) -> httpx.Response:
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        return await self.client.get(path, headers=headers)


@pytest.fixture
async def world(assertion_keys: KeyRing, capability_keys: KeyRing, clock: SettableClock
                ) -> AsyncIterator[World]:
    users = _users()
    generations = Generations()
    app = FastAPI()

    @app.get("/api/cases")
    def cases(user: Annotated[Principal, Depends(staff(Role.SUPPORT, Role.DEPARTMENT))]
              ) -> dict[str, str | None]:
        return {"id": user.id, "role": user.role.value, "department": user.department,
                "credential": user.credential, "session": user.session_id}

    @app.post("/ops/relay/replay", dependencies=[Depends(operator())])
    def replay() -> str:
        return "replayed"

    @app.get("/metrics", dependencies=[Depends(internal())])
    def metrics() -> str:
        return "metrics"

    @app.get("/api/complaints/{complaint_id}/status")
    def status(cap: Annotated[CapabilityClaims, Depends(
            customer_capability(match_path_param="complaint_id"))]) -> str:
        return cap.ref

    def directory() -> Directory:
        return Directory(users, clock=clock)  # the list the tests edit (World.users)

    install_authenticator(app, Authenticator(
        directory, assertion_keys=assertion_keys, capability_keys=capability_keys,
        capability_generation=generations, clock=clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://routing") as client:
        yield World(client, assertion_keys, capability_keys, clock, generations, users)


async def test_an_api_token_authenticates(world: World) -> None:
    r = await world.get("/api/cases", TOKENS["support"])
    assert r.status_code == 200
    assert r.json() == {"id": "nv.lan", "role": "support", "department": None,
                        "credential": "api_token", "session": None}


async def test_an_assertion_authenticates_with_the_directorys_rights(world: World) -> None:
    r = await world.get("/api/cases", world.assertion("kt.duc", Role.DEPARTMENT,
                                                      "ky-thuat-bao-hanh"))
    assert r.status_code == 200
    assert r.json() == {"id": "kt.duc", "role": "department",
                        "department": "ky-thuat-bao-hanh", "credential": "assertion",
                        "session": SID}


@pytest.mark.parametrize("bearer", [None, "", "unknown-token-" + "u" * 20, TOKENS["gone"],
                                    "hs1.garbage.garbage", "cap1.looks.like-a-link"])
async def test_missing_unknown_and_disabled_credentials_get_401(world: World,
                                                              bearer: str | None) -> None:
    r = await world.get("/api/cases", bearer)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


async def test_a_tampered_assertion_gets_401(world: World) -> None:
    prefix, body, mac = world.assertion().split(".")
    r = await world.get("/api/cases", f"{prefix}.{body}.{mac[:-2]}AA")
    assert r.status_code == 401


async def test_an_assertion_of_another_keyring_gets_401(world: World) -> None:
    from hotro.shared.staff import assertions

    foreign = new_keyring(assertions.PURPOSE, T0)
    r = await world.get("/api/cases", world.assertion(keys=foreign))
    assert r.status_code == 401 and "UnknownKey" in r.json()["detail"]


async def test_an_expired_assertion_gets_401(world: World) -> None:
    token = world.assertion()
    world.clock.advance(seconds=300 + 31)
    assert (await world.get("/api/cases", token)).status_code == 401


async def test_a_demoted_user_loses_rights_at_once(world: World) -> None:
    token = world.assertion()
    assert (await world.get("/api/cases", token)).status_code == 200
    world.users[0] = world.users[0].model_copy(update={"role": Role.AUDITOR})
    r = await world.get("/api/cases", token)
    assert r.status_code == 401 and "out of date" in r.json()["detail"]


async def test_a_moved_department_member_loses_rights_at_once(world: World) -> None:
    token = world.assertion("kt.duc", Role.DEPARTMENT, "ky-thuat-bao-hanh")
    world.users[1] = world.users[1].model_copy(update={"department": "giao-van"})
    assert (await world.get("/api/cases", token)).status_code == 401


async def test_a_disabled_or_deleted_user_loses_rights_at_once(world: World) -> None:
    token = world.assertion()
    world.users[0] = world.users[0].model_copy(update={"disabled": True})
    assert (await world.get("/api/cases", token)).status_code == 401
    del world.users[0]
    assert (await world.get("/api/cases", token)).status_code == 401


async def test_an_assertion_claiming_another_role_is_refused(world: World) -> None:
    # minted (by a buggy or compromised console) with a role the user does not have
    r = await world.get("/api/cases", world.assertion("ops", Role.SUPPORT))
    assert r.status_code == 401


async def test_a_role_outside_the_policy_gets_403(world: World) -> None:
    r = await world.get("/api/cases", TOKENS["ops"])
    assert r.status_code == 403 and "operator" in r.json()["detail"]
    r = await world.client.post("/ops/relay/replay",
                                headers={"Authorization": f"Bearer {TOKENS['support']}"})
    assert r.status_code == 403
    r = await world.client.post("/ops/relay/replay",
                                headers={"Authorization": f"Bearer {TOKENS['ops']}"})
    assert r.status_code == 200


async def test_internal_endpoints_refuse_what_came_through_a_proxy(world: World) -> None:
    assert (await world.get("/metrics")).status_code == 200
    assert (await world.get("/metrics", via="1.1 hotro-gateway")).status_code == 404
    assert (await world.get("/metrics", **{"x-forwarded-for": "203.0.113.9"})
            ).status_code == 404


async def test_the_customer_link_reads_its_own_case_only(world: World) -> None:
    token = world.capability()
    assert (await world.get(f"/api/complaints/{CID}/status", token)).json() == REF
    assert (await world.get(f"/api/complaints/{REF}/status", token)).json() == REF
    other = str(uuid.UUID(int=8))
    world.generations.current[other] = 0
    r = await world.get(f"/api/complaints/{other}/status", token)
    assert r.status_code == 403


@pytest.mark.parametrize("bearer", [None, REF, CID, TOKENS["support"]])
async def test_a_reference_or_a_staff_token_is_no_customer_link(world: World,
                                                                bearer: str | None) -> None:
    assert (await world.get(f"/api/complaints/{CID}/status", bearer)).status_code == 401


async def test_a_revoked_expired_or_foreign_link_gets_401(world: World) -> None:
    old = world.capability(generation=1)
    assert (await world.get(f"/api/complaints/{CID}/status", old)).status_code == 401
    current = world.capability()
    world.generations.current[CID] = 3  # revoked: the generation moved on
    assert (await world.get(f"/api/complaints/{CID}/status", current)).status_code == 401
    world.generations.current[CID] = 2
    world.clock.advance(days=181)
    assert (await world.get(f"/api/complaints/{CID}/status", current)).status_code == 401
    world.clock.advance(days=-181)
    foreign = world.capability(keys=new_keyring(capabilities.PURPOSE, T0))
    assert (await world.get(f"/api/complaints/{CID}/status", foreign)).status_code == 401


async def test_an_assertion_is_no_customer_link_and_a_link_no_assertion(world: World
                                                                       ) -> None:
    assert (await world.get(f"/api/complaints/{CID}/status",
                            world.assertion())).status_code == 401
    assert (await world.get("/api/cases", world.capability())).status_code == 401


async def test_without_an_authenticator_nothing_gets_through() -> None:
    app = FastAPI()

    @app.get("/api/cases", dependencies=[Depends(staff(Role.SUPPORT))])
    def cases() -> str:
        return "cases"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://x") as client:
        r = await client.get("/api/cases", headers={"Authorization": f"Bearer {TOKENS['support']}"})
        assert r.status_code == 500


def test_the_authenticator_refuses_mixed_up_keyrings(assertion_keys: KeyRing,
                                                    capability_keys: KeyRing) -> None:
    directory = Directory(_users())
    with pytest.raises(ValueError, match="purpose"):
        Authenticator(directory, assertion_keys=capability_keys)
    with pytest.raises(ValueError, match="purpose"):
        Authenticator(directory, capability_keys=assertion_keys,
                      capability_generation=Generations())
    with pytest.raises(ValueError, match="generation"):
        Authenticator(directory, capability_keys=capability_keys)
    twin = KeyRing(purpose=capabilities.PURPOSE, current=assertion_keys.current,
                   keys=assertion_keys.keys)
    with pytest.raises(ValueError, match="share a secret"):
        Authenticator(directory, assertion_keys=assertion_keys, capability_keys=twin,
                      capability_generation=Generations())


async def test_assertions_are_refused_where_no_assertion_keys_are_configured(
        clock: SettableClock, assertion_keys: KeyRing) -> None:
    app = FastAPI()

    @app.get("/api/cases", dependencies=[Depends(staff(Role.SUPPORT))])
    def cases() -> str:
        return "cases"

    install_authenticator(app, Authenticator(Directory(_users(), clock=clock), clock=clock))
    token = issue_assertion(user_id="nv.lan", role=Role.SUPPORT, department=None,
                            session_id=SID, keys=assertion_keys, now=clock())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://x") as client:
        r = await client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        r = await client.get("/api/cases",
                             headers={"Authorization": f"Bearer {TOKENS['support']}"})
        assert r.status_code == 200


def test_token_expiry_reaches_the_dependency(clock: SettableClock) -> None:
    user = StaffUser(id="bot", name="Bot", role=Role.SUPPORT, token="b" * 20,
                     token_expires=clock() + timedelta(minutes=5))
    auth = Authenticator(Directory([user], clock=clock), clock=clock)
    assert auth.staff("b" * 20).id == "bot"
    clock.advance(minutes=5)
    with pytest.raises(Exception, match="expired"):
        auth.staff("b" * 20)
