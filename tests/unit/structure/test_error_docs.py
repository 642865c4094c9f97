"""``document_errors``: every status the platform answers is in a route's OpenAPI with the
schema of its body (``ErrorDetail``, or the 422 shape of FastAPI or of the service)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from hotro.shared.runtime.openapi import document_errors, error_responses
from hotro.shared.staff.http import internal, public, staff
from hotro.shared.staff.roles import Role


class Note(BaseModel):
    text: str


class FieldProblems(BaseModel):
    errors: list[dict[str, str]]


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/things/{thing}", dependencies=[Depends(staff(Role.SUPPORT))],
             responses=error_responses(409))
    async def thing(thing: int) -> dict[str, int]:
        return {"thing": thing}

    @app.post("/api/notes", dependencies=[Depends(public("a test"))])
    async def note(body: Note) -> Note:
        return body

    @app.get("/healthz", dependencies=[Depends(internal())])
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    return app


def _responses(schema: dict[str, Any], path: str, method: str) -> dict[str, str | None]:
    found: dict[str, Any] = schema["paths"][path][method]["responses"]
    return {code: (r.get("content", {}).get("application/json", {}).get("schema", {})
                   .get("$ref", "").rsplit("/", 1)[-1] or None)
            for code, r in found.items()}


def test_the_platform_errors_are_documented_with_their_schema() -> None:
    app = _app()
    document_errors(app)
    schema = app.openapi()
    assert _responses(schema, "/api/things/{thing}", "get") == {
        "200": None, "401": "ErrorDetail", "403": "ErrorDetail", "404": "ErrorDetail",
        "409": "ErrorDetail", "413": "ErrorDetail", "422": "HTTPValidationError"}
    assert _responses(schema, "/api/notes", "post") == {
        "200": "Note", "400": "ErrorDetail", "408": "ErrorDetail", "413": "ErrorDetail",
        "422": "HTTPValidationError"}  # public: no 401/403
    assert _responses(schema, "/healthz", "get") == {
        "200": None, "404": "ErrorDetail", "413": "ErrorDetail"}
    components = schema["components"]["schemas"]
    assert components["ErrorDetail"]["required"] == ["detail"]
    assert {"HTTPValidationError", "ValidationError"} <= set(components)


def test_a_service_with_its_own_422_shape_documents_it() -> None:
    app = _app()
    document_errors(app, validation_error=FieldProblems)
    schema = app.openapi()
    for path, method in (("/api/things/{thing}", "get"), ("/api/notes", "post"),
                         ("/healthz", "get")):
        assert _responses(schema, path, method)["422"] == "FieldProblems", path
    assert schema["components"]["schemas"]["FieldProblems"]["required"] == ["errors"]
