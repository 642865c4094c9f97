"""Every route of every service declares who may call it (shared/staff/http.py), the key
routes declare the right policy, and the public gateway forwards nothing internal.

A route without a policy fails this test: add ``public(reason)``, ``staff(*roles)``,
``operator()``, ``customer_capability(…)`` or ``internal()`` to it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hotro.gateway import ROUTES, build_gateway
from hotro.services.routing.api import roles_for
from hotro.services.routing.domain.workflow import Action
from hotro.shared.staff.http import (
    CUSTOMER_CONTACT_STAFF,
    PERSONAL_DATA_READERS,
    Policy,
    PolicyKind,
    route_policies,
    undeclared,
)
from hotro.shared.staff.roles import CASE_ROLES, Role
from tests.unit.structure.service_apps import SERVICES, service_app

#: what the runtime (shared/runtime/host.py) adds to every service
RUNTIME_INTERNAL = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
RELAY_REPLAY = ("POST", "/ops/relay/replay")
DOCS = "API documentation"
#: the only routes of routing, sla and notify anyone may call (besides their docs)
PUBLIC = {
    "routing": set(),
    "sla": {("GET", "/api/calendar/{year}"),
            ("GET", "/api/calendar/deadline/{start}/{working_days}")},
    "notify": set(),
}
Policies = dict[tuple[str, str], Policy | None]


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    data = tmp_path_factory.mktemp("route-policies")
    return {service: service_app(service, data) for service in SERVICES}


@pytest.fixture(scope="module")
def policies(apps: dict[str, FastAPI]) -> dict[str, Policies]:
    return {service: route_policies(app) for service, app in apps.items()}


def kinds(policy: Policy | None) -> set[PolicyKind]:
    if policy is None:
        return set()
    if policy.kind is PolicyKind.ALL:
        return {k for part in policy.parts for k in kinds(part)}
    return {policy.kind}


def roles(policy: Policy | None) -> set[Role]:
    if policy is None:
        return set()
    if policy.kind is PolicyKind.ALL:
        return {r for part in policy.parts for r in roles(part)}
    return set(policy.roles)


def all_routes(policies: dict[str, Policies]) -> Iterator[tuple[str, str, str, Policy | None]]:
    for service, found in policies.items():
        for (method, path), policy in sorted(found.items()):
            yield service, method, path, policy


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_declares_who_may_call_it(apps: dict[str, FastAPI], service: str) -> None:
    assert undeclared(apps[service]) == [], \
        f"{service}: routes without a policy (shared/staff/http.py)"


def test_an_undeclared_route_would_be_reported(tmp_path: Path) -> None:
    app = service_app("sla", tmp_path)

    @app.get("/api/forgotten")
    async def forgotten() -> str:
        return "oops"

    assert undeclared(app) == [("GET", "/api/forgotten")]


def test_health_readiness_and_metrics_are_internal_everywhere(
        policies: dict[str, Policies]) -> None:
    for service, found in policies.items():
        for route in RUNTIME_INTERNAL:
            assert found[route] == Policy(PolicyKind.INTERNAL), (service, route)


def test_ops_routes_are_for_operators_on_the_own_listener_only(
        policies: dict[str, Policies]) -> None:
    ops = [(s, m, p, pol) for s, m, p, pol in all_routes(policies) if p.startswith("/ops/")]
    assert {(s, m, p) for s, m, p, _ in ops} >= {
        *((s, *RELAY_REPLAY) for s in SERVICES), ("routing", "POST", "/ops/triage/reload")}
    for service, method, path, policy in ops:
        assert kinds(policy) == {PolicyKind.OPERATOR, PolicyKind.INTERNAL}, (service, path)
        assert roles(policy) == {Role.OPERATOR}, (service, method, path)
    # and operators read no case data: their role appears nowhere else but the triage rules
    elsewhere = {(s, m, p) for s, m, p, pol in all_routes(policies)
                 if Role.OPERATOR in roles(pol) and not p.startswith("/ops/")}
    assert elsewhere == {("routing", "GET", "/api/triage")}


def test_sla_clocks_are_for_case_staff_and_the_calendar_is_public(
        policies: dict[str, Policies]) -> None:
    sla = policies["sla"]
    clocks = {route: p for route, p in sla.items() if route[1].startswith("/api/clocks")}
    assert set(clocks) >= {("GET", "/api/clocks"), ("GET", "/api/clocks/overdue"),
                           ("GET", "/api/clocks/{complaint_id}"),
                           ("GET", "/api/clocks/batch/{kind}")}
    for route, policy in clocks.items():
        assert policy == Policy(PolicyKind.STAFF, roles=frozenset(CASE_ROLES)), route
    for route in PUBLIC["sla"]:
        policy = sla[route]
        assert policy is not None and policy.kind is PolicyKind.PUBLIC
        assert "calendar" in policy.reason


def test_routing_case_routes_admit_the_roles_of_their_action(
        policies: dict[str, Policies]) -> None:
    routing = policies["routing"]
    prefix = "/api/cases/{complaint_id}/actions/"
    actions = {path[len(prefix):]: policy for (method, path), policy in routing.items()
               if path.startswith(prefix)}
    assert len(actions) >= 14
    for name, policy in actions.items():
        # one policy per action route: exactly the roles that may take the action
        assert policy == Policy(PolicyKind.STAFF, roles=frozenset(roles_for(Action(name)))), \
            name
        assert Role.AUDITOR not in roles(policy) and Role.OPERATOR not in roles(policy)
    # a department's files: uploaded by whoever may record its answer, read as the case
    assert routing[("POST", "/api/cases/{complaint_id}/attachments")] == Policy(
        PolicyKind.STAFF, roles=frozenset({Role.DEPARTMENT, Role.SUPERVISOR}))
    for route in (("GET", "/api/cases"), ("GET", "/api/cases/{complaint_id}"),
                  ("GET", "/api/cases/{complaint_id}/attachments/{sha256}"),
                  ("GET", "/api/departments/{code}/queue"), ("GET", "/api/case-queue")):
        assert routing[route] == Policy(PolicyKind.STAFF, roles=frozenset(CASE_ROLES)), route
    assert routing[("GET", "/api/case-stats")] == Policy(
        PolicyKind.STAFF, roles=frozenset({Role.SUPERVISOR, Role.AUDITOR}))


def test_notify_routes_keep_personal_data_to_its_readers(
        policies: dict[str, Policies]) -> None:
    notify = policies["notify"]
    readers = Policy(PolicyKind.STAFF, roles=frozenset(PERSONAL_DATA_READERS))
    writers = Policy(PolicyKind.STAFF, roles=frozenset(CUSTOMER_CONTACT_STAFF))
    assert notify[("GET", "/api/deliveries")] == readers
    assert notify[("GET", "/api/deliveries/{dispatch_id}")] == readers
    assert notify[("GET", "/api/letters/{dispatch_id}.pdf")] == readers
    assert notify[("POST", "/api/deliveries/{dispatch_id}/outcome")] == writers
    assert notify[("POST", "/api/deliveries/{dispatch_id}/tracking")] == writers
    assert Role.DEPARTMENT not in roles(readers)


@pytest.mark.parametrize("service", ("routing", "sla", "notify"))
def test_nothing_else_is_public(policies: dict[str, Policies], service: str) -> None:
    public = {route for route, p in policies[service].items()
              if p is not None and p.kind is PolicyKind.PUBLIC and p.reason != DOCS}
    assert public == PUBLIC[service]


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_the_gateway_forwards_only_the_public_prefixes(
        policies: dict[str, Policies]) -> None:
    forwarded: list[tuple[str, str]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        forwarded.append((request.url.host, request.url.path))
        return httpx.Response(200, json={})

    hosts = {s: f"http://{s}.internal" for s in (*SERVICES, "console")}
    gateway = build_gateway(hosts, transport=httpx.MockTransport(upstream))
    public_prefixes = tuple(prefix for prefix, _ in ROUTES)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                 base_url="http://gateway") as client:
        for service, method, path, policy in all_routes(policies):
            if method not in ("GET", "POST"):
                continue
            for outside in (_sample(path), f"/services/{service}{_sample(path)}"):
                forwarded.clear()
                answer = await client.request(method, outside)
                reached = [p for host, p in forwarded if host == f"{service}.internal"]
                internal = kinds(policy) & {PolicyKind.INTERNAL, PolicyKind.OPERATOR} \
                    or path.startswith("/ops/")
                if internal:
                    assert not reached and answer.status_code == 404, (service, outside)
                if reached and not outside.startswith("/services/"):
                    assert outside.startswith(public_prefixes), (service, outside)
                if reached and outside.startswith("/services/"):
                    assert policy is not None and policy.reason == DOCS, (service, outside)
        # the public prefixes are the API's, never the ops or runtime paths
        assert all(p.startswith("/api/") for p in public_prefixes)
