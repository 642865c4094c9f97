"""Every route of intake's app declares who may call it, and the sensitive ones declare
the right policy."""

from __future__ import annotations

from fastapi import FastAPI

from hotro.shared.staff.http import Policy, PolicyKind, route_policies, undeclared
from hotro.shared.staff.roles import Role

from .conftest import AppFactory

#: the runtime's own routes (shared/runtime/host.py): declared there, not by intake
HOST_ROUTES = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
               ("POST", "/ops/relay/replay")}
READERS = frozenset({Role.AGENT, Role.SUPPORT, Role.SUPERVISOR, Role.AUDITOR})
CONTACT_STAFF = frozenset({Role.AGENT, Role.SUPPORT, Role.SUPERVISOR})
DECIDERS = frozenset({Role.SUPPORT, Role.SUPERVISOR})


def test_every_route_of_intake_declares_a_policy(intake_http: FastAPI) -> None:
    assert [r for r in undeclared(intake_http) if r not in HOST_ROUTES] == []


def test_the_sensitive_routes_declare_the_expected_policy(intake_http: FastAPI) -> None:
    policies = route_policies(intake_http)

    def policy(method: str, path: str) -> Policy:
        found = policies[(method, path)]
        assert found is not None, (method, path)
        return found

    # a customer's case: their link (for that case) or staff acting for them — never anyone
    info = policy("POST", "/api/complaints/{id_or_reference}/info")
    assert info.kind is PolicyKind.CUSTOMER and info.roles == CONTACT_STAFF
    assert "id_or_reference" in info.reason
    assert policy("GET", "/api/customer/case").kind is PolicyKind.CUSTOMER
    assert policy("POST", "/api/customer/case/info").kind is PolicyKind.CUSTOMER
    # personal data and the case's links: staff of these roles only
    assert policy("GET", "/api/complaints/{id_or_reference}") == Policy(
        PolicyKind.STAFF, roles=READERS)
    assert policy("POST", "/api/complaints/{id_or_reference}/capabilities/revoke") == Policy(
        PolicyKind.STAFF, roles=CONTACT_STAFF)
    # deciding whether two requests are one matter: support and supervisors
    for what in ("confirm", "dismiss"):
        assert policy("POST", f"/api/complaints/{{id_or_reference}}/duplicates/{{other}}/{what}"
                      ) == Policy(PolicyKind.STAFF, roles=DECIDERS), what
    for path in ("/api/intake/hotline/drafts", "/api/intake/quarantine",
                 "/api/intake/mail-log"):
        assert policy("GET", path) == Policy(PolicyKind.STAFF, roles=READERS), path
    # public, each with its reason: the web form, and the webhook (its signature guards it)
    form = policy("POST", "/api/complaints")
    assert form.kind is PolicyKind.PUBLIC and "web form" in form.reason
    webhook = policy("POST", "/api/intake/hotline/calls")
    assert webhook.kind is PolicyKind.PUBLIC and "signature" in webhook.reason
    # nothing else of intake's own is public
    public = {route for route, p in policies.items()
              if p is not None and p.kind is PolicyKind.PUBLIC
              and p.reason != "API documentation"}
    assert public == {("POST", "/api/complaints"), ("POST", "/api/intake/hotline/calls")}


async def test_an_undeclared_route_would_be_reported(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/api/intake/forgotten")
    async def forgotten() -> str:
        return "oops"

    assert ("GET", "/api/intake/forgotten") in undeclared(app)
