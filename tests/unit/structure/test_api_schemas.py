"""schemathesis against the OpenAPI of routing, sla and notify, in process (ASGI): no server
error and no response its schema does not document.

Each service runs as ``create_app`` builds it, its runtime started on a real nats-server
(so readiness, metrics and the relay are the real ones) and an in-memory store. Every
operation gets valid and invalid requests (schemathesis' positive and negative modes, a
bounded number of examples each) as the supervisor — the operator on ``/ops/…`` — and
every response goes through schemathesis' checks: not a server error, a documented status,
the documented content type, headers and body schema, invalid data refused, and the route
refusing a request without credentials.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi

from hotro.natsbin import NatsServerProcess
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.staff import auth
from tests.unit.notify.wire import acknowledged, dispatches, received
from tests.unit.structure.service_apps import service_app

log = logging.getLogger(__name__)

#: examples per operation and generation mode (keeps the three services under ~2 min)
EXAMPLES = 15
FUZZED = ("intake", "routing", "sla", "notify")
#: credentials are ours (the supervisor's, the operator's): schemathesis does not make
#: them up; what a route does without them is the route-policy tests' business
#: (tests/unit/structure/test_route_policies.py and each service's API tests)
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})


@dataclass
class Figures:
    operations: int = 0
    requests: int = 0
    #: operations without inputs: no invalid request to make
    no_negative: int = 0
    by_operation: defaultdict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter))
    #: schema-valid requests a route refused with its documented 422 (its own rule)
    refused_by_rule: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    #: over real HTTP: request heads above this many bytes may be cut off by the server
    #: (431 and the connection closed, before the client has finished sending)
    head_limit: int | None = None
    refused_head_too_large: int = 0
    #: invalid path parameters with dot segments ("../..") the HTTP client resolved: the
    #: request went to another path than the operation's, so it is not this operation's
    resolved_elsewhere: int = 0

    def __str__(self) -> str:
        return (f"{self.operations} operations, {self.requests} requests, statuses "
                f"{dict(sorted(self.statuses.items()))}, {len(self.server_errors)} server "
                f"errors, {len(self.violations)} schema violations, "
                f"{self.refused_head_too_large} cut off (head too large), "
                f"{self.resolved_elsewhere} sent elsewhere (dot segments); schema-valid but "
                f"refused by a route's own rule (422): {dict(self.refused_by_rule)}")


def _seed(service: str, app: FastAPI) -> dict[str, str]:
    """A few real cases (routing, sla) or deliveries (notify), so that part of the
    requests name something that exists: path parameter -> an existing id."""
    application = app.state.runtime.app
    ids = [uuid.uuid4() for _ in range(3)]
    if service == "intake":
        return {}  # its cases are made by the fuzzed POSTs themselves
    if service == "notify":
        for cid in ids:
            acknowledged(application, cid)
        return {"dispatch_id": str(dispatches(application)[0].id)}
    for cid in ids:
        application.handle(received(cid))
    return {"complaint_id": str(ids[0])}


def _fuzz(schema: Any, known: dict[str, str], figures: Figures) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        figures.operations += 1
        headers = auth("operator" if operation.path.startswith("/ops/") else "supervisor")
        existing = {name: value for name, value in known.items()
                    if f"{{{name}}}" in operation.path}
        runs: list[tuple[GenerationMode, dict[str, str]]] = [
            (GenerationMode.POSITIVE, {}), (GenerationMode.NEGATIVE, {})]
        if existing:
            runs.append((GenerationMode.POSITIVE, existing))
        for mode, path_parameters in runs:
            label = (f"{operation.method.upper()} {operation.path} ({mode.value}"
                     f"{', existing' if path_parameters else ''})")
            try:
                _examples(operation, mode, path_parameters, label, headers, figures)()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no inputs)
                figures.no_negative += 1


def _examples(operation: Any, mode: GenerationMode, path_parameters: dict[str, str],
              label: str, headers: dict[str, str], figures: Figures) -> Any:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode,
                                      path_parameters=path_parameters or None))
    def run(case: Any) -> None:
        try:
            response = case.call(headers=headers)
        except requests.ConnectionError:
            if figures.head_limit is None or _head_size(case) <= figures.head_limit:
                raise
            figures.refused_head_too_large += 1
            return
        sent = unquote(urlsplit(str(response.request.url)).path)
        if not sent.startswith(operation.path.split("{", 1)[0]):
            figures.resolved_elsewhere += 1
            return
        figures.requests += 1
        figures.statuses[response.status_code] += 1
        figures.by_operation[label][response.status_code] += 1
        if response.status_code >= 500:
            figures.server_errors.append(f"{label}: {response.status_code} "
                                         f"{response.text[:200]}")
        try:
            case.validate_response(response, headers=headers)
        except FailureGroup as found:  # note each failure, keep fuzzing
            for failure in found.exceptions:
                if isinstance(failure, RejectedPositiveData) and response.status_code == 422:
                    # valid by the schema, refused by the route's own rule (a position
                    # beyond the log, a date the calendar does not cover): documented 422
                    figures.refused_by_rule[label] += 1
                    continue
                figures.violations.append(f"{label}: {response.status_code} "
                                          f"{str(failure)[:600]} (sent: "
                                          f"{str(response.request.url)[:200]})")

    return run


def _head_size(case: Any) -> int:
    """At least the bytes of the request line and headers the case sends."""
    query = urlencode(case.query or {}, doseq=True)
    return len(quote(case.formatted_path)) + len(query) + sum(
        len(str(k)) + len(str(v)) for k, v in (case.headers or {}).items())


@pytest.mark.slow
@pytest.mark.parametrize("service", FUZZED)
async def test_no_server_error_and_no_undocumented_response(
        provisioned: NatsServerProcess, tmp_path: Path, service: str) -> None:
    extra = {"hotline_webhook_secret": "fuzz-webhook-secret"} if service == "intake" else {}
    app: FastAPI = service_app(service, tmp_path, nats_url=provisioned.url,
                               partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                               **extra)
    figures = Figures()

    def fuzz() -> None:
        try:
            schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
            _fuzz(schema, _seed(service, app), figures)
        finally:
            asgi.shutdown_lifespans()  # the runtime stops before the nats-server does

    await asyncio.to_thread(fuzz)
    log.warning("schemathesis %s: %s", service, figures)
    print(f"\nschemathesis {service}: {figures}")
    for label, statuses in sorted(figures.by_operation.items()):
        print(f"  {label}: {dict(sorted(statuses.items()))}")
    assert figures.server_errors == [], "\n".join(figures.server_errors[:20])
    assert figures.violations == [], "\n\n".join(figures.violations[:20])
    fuzzed = {label.rsplit(" (", 1)[0] for label in figures.by_operation}
    assert len(fuzzed) == figures.operations  # every operation was called
