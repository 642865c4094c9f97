"""Every console route declares who may call it; pages are Vietnamese first with every
English string present; the API documentation merges the services' documents."""

from __future__ import annotations

from pathlib import Path

from hotro.services.console.i18n import EN, VI
from hotro.services.console.openapi import merge, operations
from hotro.shared.staff.http import PolicyKind, route_policies, undeclared
from tests.support.console import console_app, write_assertion_keys, write_console_users


def test_every_console_route_declares_its_policy(tmp_path: Path) -> None:
    users = write_console_users(tmp_path / "users.toml")
    keys = write_assertion_keys(tmp_path / "keys.toml")
    app = console_app(users, keys, {})
    assert undeclared(app) == []
    kinds = {route: policy.kind for route, policy in route_policies(app).items()
             if policy is not None}
    assert kinds[("GET", "/queue")] is PolicyKind.STAFF
    assert kinds[("POST", "/cases/{complaint_id}/act/{action}")] is PolicyKind.STAFF
    assert kinds[("GET", "/c/{token}")] is PolicyKind.CUSTOMER
    assert kinds[("*", "/static")] is PolicyKind.PUBLIC
    assert kinds[("POST", "/sign-in")] is PolicyKind.PUBLIC


def test_catalogues_have_the_same_keys() -> None:
    assert set(VI) == set(EN)


def test_openapi_merge_renames_schemas_and_keeps_public_paths() -> None:
    doc = {"paths": {"/api/x": {"get": {"operationId": "x", "responses": {"200": {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
        "/ops/relay/replay": {"post": {}}},
        "components": {"schemas": {"A": {"type": "object"}}}}
    merged = merge({"intake": doc, "routing": doc})
    assert set(merged["paths"]) == {"/api/x"}
    assert set(merged["components"]["schemas"]) == {"intake.A", "routing.A",
                                                    "gateway.GatewayError"}
    answers = merged["paths"]["/api/x"]["get"]["responses"]
    assert {"200", "400", "413", "431", "502", "503", "504"} <= set(answers)  # the gateway's
    rows = operations(merged)
    assert rows and rows[0]["method"] == "GET"
