"""One OpenAPI document for the public HTTP API: each service's document, merged.

Only the paths the gateway forwards (``/api/…``) are kept; each service's schemas are
renamed ``<service>.<Name>`` (two services may both have an ``ErrorBody``) and every
``$ref`` follows; operations are tagged with their service."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from hotro.services.console.upstream import ANONYMOUS, SERVICES, UpstreamError, Upstreams

REF_PREFIX = "#/components/schemas/"
METHODS = ("get", "post", "put", "patch", "delete")


async def fetch_documents(upstreams: Upstreams) -> dict[str, dict[str, Any]]:
    async def one(service: str) -> tuple[str, dict[str, Any] | None]:
        try:
            return service, await upstreams.get_json(service, "/openapi.json", ANONYMOUS)
        except UpstreamError:
            return service, None

    found = await asyncio.gather(*(one(s) for s in SERVICES))
    return {service: doc for service, doc in found if doc is not None}


def _renamed(node: Any, service: str) -> Any:
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                out[key] = f"{REF_PREFIX}{service}.{value[len(REF_PREFIX):]}"
            else:
                out[key] = _renamed(value, service)
        return out
    if isinstance(node, list):
        return [_renamed(item, service) for item in node]
    return node


def merge(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Hotro HTTP API", "version": "1",
                 "description": "Every service's public API, as the gateway serves it. "
                                "Staff: Authorization: Bearer <API token or hs1. assertion>; "
                                "customers: Bearer cap1.<link token>."},
        "paths": {}, "components": {"schemas": {}, "securitySchemes": {}},
        "tags": [{"name": s, "description": f"the {s} service"} for s in documents]}
    for service, document in documents.items():
        for path, item in (document.get("paths") or {}).items():
            if not path.startswith("/api/"):
                continue
            renamed = _renamed(item, service)
            for method in METHODS:
                operation = renamed.get(method)
                if isinstance(operation, dict):
                    operation["tags"] = [service, *[t for t in operation.get("tags", [])
                                                    if t != service]]
                    operation["operationId"] = f"{service}.{operation.get('operationId', '')}"
                    _gateway_answers(operation)
            merged["paths"].setdefault(path, {}).update(renamed)
        components = document.get("components") or {}
        for name, schema in (components.get("schemas") or {}).items():
            merged["components"]["schemas"][f"{service}.{name}"] = _renamed(schema, service)
        for name, scheme in (components.get("securitySchemes") or {}).items():
            merged["components"]["securitySchemes"].setdefault(name, scheme)
    merged["components"]["schemas"][GATEWAY_ERROR] = {
        "type": "object", "required": ["detail"], "title": "GatewayError",
        "description": "an answer of the gateway itself (the request never reached the "
                       "service, or the service did not answer)",
        "properties": {"detail": {"type": "string"}}}
    return merged


GATEWAY_ERROR = "gateway.GatewayError"
#: what the gateway answers itself (hotro/gateway.py), on every operation it forwards
GATEWAY_STATUSES = {
    "400": "bad path or header (control characters, not ASCII, not forwardable)",
    "408": "the request body did not arrive in time", "413": "the request body is too large",
    "431": "the request line and headers are too large",
    "502": "the service could not be reached", "503": "the service is unavailable",
    "504": "the service did not answer in time"}
#: the gateway refuses control characters in the path and in header values
NO_CONTROL = "^[^\\x00-\\x1f\\x7f]*$"
#: a path parameter is one path segment: no "/", and not "." or ".." (clients resolve
#: those, so the request would reach another path)
PATH_SEGMENT = "^(?!\\.\\.?$)[^/\\x00-\\x1f\\x7f]*$"


def _gateway_answers(operation: dict[str, Any]) -> None:
    """Document the gateway's own answers, and that it takes no control character in a
    path or header parameter (it refuses them with 400), a path parameter being one
    segment."""
    responses = operation.setdefault("responses", {})
    for status, why in GATEWAY_STATUSES.items():
        responses.setdefault(status, {"description": f"gateway: {why}", "content": {
            "application/json": {"schema": {"$ref": REF_PREFIX + GATEWAY_ERROR}}}})
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema") if isinstance(parameter, dict) else None
        if parameter.get("in") in ("path", "header") and isinstance(schema, dict) \
                and schema.get("type") == "string" and "pattern" not in schema:
            schema["pattern"] = PATH_SEGMENT if parameter.get("in") == "path" else NO_CONTROL


def operations(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows for the docs page: service, method, path, summary, parameters, body schema."""
    rows = []
    for path, item in sorted((document.get("paths") or {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping):
                continue
            body = (((operation.get("requestBody") or {}).get("content") or {})
                    .get("application/json", {}).get("schema", {}))
            rows.append({
                "service": (operation.get("tags") or ["?"])[0], "method": method.upper(),
                "path": path, "summary": operation.get("summary") or "",
                "description": operation.get("description") or "",
                "parameters": [f"{p.get('name')} ({p.get('in')})"
                               for p in operation.get("parameters", [])
                               if isinstance(p, Mapping)],
                "body": str(body.get("$ref", "")).removeprefix(REF_PREFIX),
                "responses": sorted(str(code) for code in operation.get("responses", {}))})
    return rows
