"""Error responses as documented: every status a route can answer is in its OpenAPI
``responses``, with the schema of the body it sends.

* 422 is FastAPI's ``HTTPValidationError`` (``{"detail": [{"loc", "msg", "type"}…]}``),
  also for the refusals a route makes itself: raise ``invalid(("query", "year"), "…")``
  rather than ``HTTPException(422, "…")``;
* every other error is ``ErrorDetail`` (``{"detail": "…"}``), what ``HTTPException`` sends.

Routes declare the errors of their own logic (``error_responses(404, 409)``);
``document_errors(app)`` adds what the platform answers on every route — 401/403 where
the route's policy needs a credential, 404 for a path with parameters and for internal
routes, 413 (``RequestLimits``: any request may declare a body too large), 400 and 408
where a route reads a body (one FastAPI cannot decode; one that arrives too slowly) — and
gives every 4xx its schema. With ``unavailable``, every route also documents 503 with
``Retry-After`` (the runtime answers it when the customers' data keys cannot be reached,
``KeyRingUnavailable``). A schema-checking fuzzer
(schemathesis) then finds no status that is not documented.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import (
    validation_error_definition,
    validation_error_response_definition,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hotro.shared.staff.http import Policy, PolicyKind, route_policies

REF = "#/components/schemas/"
ERROR_DETAIL = "ErrorDetail"
VALIDATION_ERROR = "HTTPValidationError"

DESCRIPTIONS: dict[int, str] = {
    400: "the request cannot be read",
    401: "missing, unknown, expired or refused credential",
    403: "the caller's role or case may not do this",
    404: "no such resource (or not reachable this way)",
    408: "the request body did not arrive in time",
    409: "not possible in the current state",
    413: "the request body is too large",
    422: "invalid arguments",
}
#: what a client is told to wait when the data-key store is unavailable (503)
KEY_RING_RETRY_AFTER_S = 5
#: … and when the service's event store is (a database restarting, connections cut)
STORE_RETRY_AFTER_S = 2
UNAVAILABLE: dict[str, Any] = {
    "description": "temporarily unavailable: the customers' data keys or the service's "
                   "event store cannot be reached (the body says which and why); nothing "
                   "was recorded; retry after Retry-After seconds",
    "headers": {"Retry-After": {"description": "seconds to wait before retrying",
                                "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": REF + ERROR_DETAIL}}},
}
_NEEDS_CREDENTIAL = frozenset({PolicyKind.STAFF, PolicyKind.OPERATOR, PolicyKind.CUSTOMER})
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ErrorDetail(BaseModel):
    """The body of every error but 422: what ``HTTPException`` sends, and for a refusal
    of the domain (``Refused``) its code and values, for a client's own words."""

    detail: str = Field(description="why, in a sentence")
    code: str | None = Field(default=None, description="what kind of refusal (e.g. "
                             "``illegal_transition``), where the service names one")
    params: dict[str, str] = Field(default_factory=dict,
                                   description="the refusal's values (e.g. ``state``)")


class Refused(HTTPException):
    """An ``HTTPException`` that also carries a refusal's ``code`` and ``params``
    (rendered by ``refused_response``): ``raise Refused(409, str(exc), exc.code,
    exc.params)``."""

    def __init__(self, status_code: int, detail: str, code: str,
                 params: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, detail)
        self.code = code
        self.params = dict(params or {})


async def refused_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse({"detail": exc.detail, "code": exc.code, "params": exc.params},
                        status_code=exc.status_code)


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route for the errors its own logic answers; descriptions by
    ``_<code>="…"`` override the defaults. The schemas are filled in by
    ``document_errors``."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"description": descriptions.get(f"_{code}", DESCRIPTIONS[code])}
        if code != 422:
            out[code]["model"] = ErrorDetail
    return out


def invalid(location: Iterable[str | int], message: str, value: Any = None, *,
            code: str | None = None, params: Mapping[str, str] | None = None
            ) -> RequestValidationError:
    """A 422 in FastAPI's own shape, for a refusal the route's logic makes (a value
    outside what the data covers…): ``raise invalid(("path", "year"), "…")``. A refusal
    with a ``code`` carries it and its ``params`` in the problem's ``ctx``."""
    problem: dict[str, Any] = {"type": "value_error", "loc": tuple(location),
                               "msg": message, "input": value}
    if code is not None:
        problem["ctx"] = {"code": code, **(params or {})}
    return RequestValidationError([problem])


def document_errors(app: FastAPI, *, validation_error: type[BaseModel] | None = None,
                    unavailable: bool = False) -> None:
    """Make ``app``'s OpenAPI document every error a route can answer (see above).
    ``validation_error``: the body of every 422 of a service that answers validation
    errors in its own shape (its ``RequestValidationError`` handler), instead of FastAPI's
    ``HTTPValidationError``. ``unavailable``: every route documents the runtime's 503."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        if validation_error is not None:
            _own_validation_errors(schema, validation_error)
        _complete(schema, route_policies(app), unavailable=unavailable)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _own_validation_errors(schema: dict[str, Any], model: type[BaseModel]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    own = model.model_json_schema(ref_template=REF + "{model}")
    components.update(own.pop("$defs", {}))
    components[model.__name__] = own
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method in _METHODS:
                response = operation.setdefault("responses", {}).setdefault(
                    "422", {"description": DESCRIPTIONS[422]})
                response["content"] = {
                    "application/json": {"schema": {"$ref": REF + model.__name__}}}


def _kinds(policy: Policy | None) -> set[PolicyKind]:
    if policy is None:
        return set()
    if policy.kind is PolicyKind.ALL:
        return {kind for part in policy.parts for kind in _kinds(part)}
    return {policy.kind}


def _complete(schema: dict[str, Any], policies: dict[tuple[str, str], Policy | None], *,
              unavailable: bool = False) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    used: set[str] = set()
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            kinds = _kinds(policies.get((method.upper(), path)))
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted = {413}
            if kinds & _NEEDS_CREDENTIAL:
                wanted |= {401, 403}
            if "{" in path or PolicyKind.INTERNAL in kinds:
                wanted.add(404)
            if "requestBody" in operation:
                wanted |= {400, 408}  # an unreadable body (not UTF-8…); one too slow
            if operation.get("parameters") or "requestBody" in operation:
                wanted.add(422)
            for code in sorted(wanted):
                responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
            if unavailable and "503" not in responses:  # a route's own 503 stays as it is
                responses["503"] = UNAVAILABLE
                used.add(ERROR_DETAIL)
            for status, response in responses.items():
                if not status.startswith("4"):
                    continue
                name = VALIDATION_ERROR if status == "422" else ERROR_DETAIL
                content = response.setdefault("content", {})
                if "application/json" not in content:
                    content["application/json"] = {"schema": {"$ref": REF + name}}
                ref = content["application/json"].get("schema", {}).get("$ref", "")
                if ref.startswith(REF):
                    used.add(ref[len(REF):])
    if ERROR_DETAIL in used:
        components.setdefault(ERROR_DETAIL, ErrorDetail.model_json_schema())
    if VALIDATION_ERROR in used:
        components.setdefault(VALIDATION_ERROR, validation_error_response_definition)
        components.setdefault("ValidationError", validation_error_definition)
