"""Replies on time by month, channel, product and department for the supervisor's charts:
sla decides each case's reply (on time, late, open — the reply clock is sla's), routing
knows each case's channel, product and department; the console joins the two answers
(complaints only, the first reply clock, as ``hotro report compliance`` counts).

Both answers list every case, so the joined report is kept for ``TTL_S`` per console
process: a dashboard refreshed by several supervisors costs one join."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from fastapi import Request

from hotro.services.console.security import Viewer
from hotro.services.console.web import state_of

TTL_S = 10.0
GROUPS = ("month", "channel", "product", "department")


def rate(on_time: int, late: int) -> float | None:
    decided = on_time + late
    return round(100.0 * on_time / decided, 1) if decided else None


def grouped(outcomes: dict[str, str], cases: Iterable[list[Any]]
            ) -> dict[str, dict[str, dict[str, Any]]]:
    """{group: {key: {on_time, late, open, rate}}} for channel, product and department
    (``cases``: routing's [complaint id, kind, channel, product, department] rows)."""
    out: dict[str, dict[str, dict[str, Any]]] = {g: {} for g in GROUPS[1:]}
    for complaint_id, kind, channel, product, department in cases:
        status = outcomes.get(complaint_id)
        if kind != "complaint" or status is None:
            continue
        for group, key in (("channel", channel), ("product", product or "(none)"),
                           ("department", department or "support")):
            counts = out[group].setdefault(key, {"on_time": 0, "late": 0, "open": 0})
            counts[status] += 1
    for groups in out.values():
        for counts in groups.values():
            counts["rate"] = rate(counts["on_time"], counts["late"])
    return {g: dict(sorted(keys.items())) for g, keys in out.items()}


def by_month(months: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """sla's monthly rows with ``rate`` None (not 0) where nothing was decided yet."""
    return {m: {**c, "rate": rate(int(c.get("on_time", 0)), int(c.get("late", 0)))}
            for m, c in months.items()}


async def compliance_report(request: Request, viewer: Viewer) -> dict[str, Any] | None:
    """The four groups, or None when sla cannot say (the dashboard shows no charts)."""
    cache: dict[str, Any] = getattr(request.app.state, "compliance_cache", {})
    if cache and time.monotonic() - cache["at"] < TTL_S:
        return dict(cache["report"])
    upstreams = state_of(request).upstreams
    caller = viewer.caller
    months, outcomes, attributes = await asyncio.gather(
        upstreams.maybe("sla", "/api/reports/compliance", caller),
        upstreams.maybe("sla", "/api/reports/compliance/outcomes", caller),
        upstreams.maybe("routing", "/api/case-stats/attributes", caller))
    if not months:
        return None
    report: dict[str, Any] = {"month": by_month(months.get("month", {}))}
    if outcomes and attributes:
        report.update(await asyncio.to_thread(grouped, outcomes["outcomes"],
                                              attributes["cases"]))
    request.app.state.compliance_cache = {"at": time.monotonic(), "report": report}
    return report
