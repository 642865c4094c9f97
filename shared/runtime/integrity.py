"""One service's integrity as its own process can check it, for one case (the console's
auditor view). ``hotro audit verify`` reads every seal and the whole event stream, which
only the operator's tools may; a service may read its **newest** seal only. So, per
service, on demand:

1. **the log against the newest seal**: the hash chain over every stored row up to the
   seal's last row must end in the seal's head — a row edited, deleted, inserted or moved
   anywhere in the sealed part breaks it (which row: ``hotro audit verify``);
2. **the case's own rows** (its aggregates: those whose first event names the case, and
   the case's own id): each aggregate's versions 1..n without a gap, in log order, no
   copied state; the rows the newest seal lists are compared one by one;
3. rows stored after the newest seal are the sealing lag: counted, not a finding.

Mounted on every service as ``GET /api/integrity/cases/{complaint_id}`` (auditors and
supervisors) by ``host.build_http_app``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Depends

from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.seals import SEALS_STREAM, Row, Seal, chain, genesis, read_rows, seal_subject
from hotro.shared.staff.http import staff
from hotro.shared.staff.roles import Role

#: the auditor and supervisor see it in the console (operators read no case at all: they
#: run ``hotro audit verify`` over everything)
INTEGRITY_READERS = (Role.AUDITOR, Role.SUPERVISOR)


def case_aggregates(app: ServiceApplication, rows: list[Row],
                    complaint_id: uuid.UUID) -> set[uuid.UUID]:
    """The case's id and every aggregate whose creating event names it (every service's
    first event of a case-related aggregate carries ``complaint_id``)."""
    found = {complaint_id}
    for row in rows:
        if row.version != 1 or row.originator_id in found:
            continue
        try:
            event = app.mapper.to_domain_event(_stored(row))
        except Exception:  # an altered row may not decode: the chain check reports it
            continue
        if getattr(event, "complaint_id", None) == complaint_id:
            found.add(row.originator_id)
    return found


def _stored(row: Row) -> Any:
    from eventsourcing.persistence import StoredEvent

    return StoredEvent(originator_id=row.originator_id, originator_version=row.version,
                       topic=row.topic, state=row.state)


def shape_findings(rows: list[Row]) -> list[dict[str, Any]]:
    """Per aggregate: versions 1..n without a gap and in log order; no copied state."""
    findings: list[dict[str, Any]] = []
    by_aggregate: dict[uuid.UUID, list[Row]] = defaultdict(list)
    first_with_state: dict[str, Row] = {}
    for row in sorted(rows, key=lambda r: r.id):
        by_aggregate[row.originator_id].append(row)
        seen = first_with_state.setdefault(row.state_sha256, row)
        if seen is not row:
            findings.append(_finding("duplicated", row, f"same stored state as "
                                                        f"notification {seen.id}"))
    for aggregate_rows in by_aggregate.values():  # each in log order
        expected = 1
        for row in sorted(aggregate_rows, key=lambda r: r.version):
            if row.version > expected:
                findings.append(_finding("deleted", row, f"v{expected}–v{row.version - 1} "
                                                         "of this aggregate is missing"))
            expected = row.version + 1
        for before, row in pairwise(aggregate_rows):
            if row.version < before.version:
                findings.append(_finding("reordered", row, f"v{row.version} stored after "
                                                           f"v{before.version}"))
    return findings


def _finding(kind: str, row: Row, detail: str) -> dict[str, Any]:
    return {"kind": kind, "notification_id": row.id, "aggregate_id": str(row.originator_id),
            "version": row.version, "detail": detail}


def check_case(service: str, rows: list[Row], seal: Seal | None,
               aggregates: set[uuid.UUID]) -> dict[str, Any]:
    """The report (pure: the rows as stored, the newest seal, the case's aggregates)."""
    findings: list[dict[str, Any]] = []
    sealed_upto = seal.last if seal is not None else 0
    chain_ok: bool | None = None
    if seal is not None:
        head = chain(genesis(service), (r for r in rows if r.id <= seal.last))
        chain_ok = head.hex() == seal.head
        if not chain_ok:
            findings.append({"kind": "altered", "notification_id": None,
                             "aggregate_id": None, "version": None,
                             "detail": f"the stored log up to notification {seal.last} no "
                                       f"longer matches seal {seal.number} (hotro audit "
                                       "verify says which row)"})
        stored = {r.id: r for r in rows}
        for sealed in seal.rows:
            if sealed.originator_id not in aggregates:
                continue
            row = stored.get(sealed.id)
            if row is None or (row.originator_id, row.version, row.state_sha256) != \
                    (sealed.originator_id, sealed.version, sealed.state_sha256):
                findings.append({"kind": "altered", "notification_id": sealed.id,
                                 "aggregate_id": str(sealed.originator_id),
                                 "version": sealed.version,
                                 "detail": "differs from the row its seal lists"})
    own = [r for r in rows if r.originator_id in aggregates]
    findings += shape_findings(own)
    return {"service": service, "ok": not findings, "sealed": seal is not None,
            "chain_ok": chain_ok, "seal_number": seal.number if seal else None,
            "sealed_upto": sealed_upto, "sealed_at": seal.sealed_at if seal else None,
            "log_rows": len(rows), "case_rows": len(own),
            "case_rows_unsealed": sum(1 for r in own if r.id > sealed_upto),
            "findings": findings}


async def newest_seal(js: Any, service: str) -> Seal | None:
    from nats.js.errors import NotFoundError

    if js is None:
        return None
    try:
        msg = await js.get_last_msg(SEALS_STREAM, seal_subject(service))
    except NotFoundError:
        return None
    return Seal.from_json(msg.data)


def build_integrity_router(app: ServiceApplication, js: Callable[[], Any]) -> APIRouter:
    """``js``: the process's JetStream context once connected (None before)."""
    router = APIRouter(tags=["audit"])
    one_at_a_time = asyncio.Lock()  # a whole-log read: never two at once per process

    @router.get("/api/integrity/cases/{complaint_id}",
                dependencies=[Depends(staff(*INTEGRITY_READERS))])
    async def case_integrity(complaint_id: uuid.UUID) -> dict[str, Any]:
        """This service's log checked against its newest seal (the whole sealed log) and
        the case's own rows (versions, order, the seal's entries). Reads the whole log:
        for an auditor's look at one case, not for polling."""
        async with one_at_a_time:
            seal = await newest_seal(js(), app.name)

            def rows_and_aggregates() -> tuple[list[Row], set[uuid.UUID]]:
                rows = list(read_rows(app))
                return rows, case_aggregates(app, rows, complaint_id)

            rows, aggregates = await asyncio.to_thread(rows_and_aggregates)
        return {"complaint_id": str(complaint_id),
                **check_case(app.name, rows, seal, aggregates)}

    return router
