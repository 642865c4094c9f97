"""Reports from the stores: SLA compliance, backlog ageing, step-2 branches; CSV, JSON and a
monthly compliance chart (SVG drawn with reportlab's graphics; PNG drawn with Pillow,
which reportlab already depends on — reportlab's own PNG renderer needs rlPyCairo).

* **Compliance** — a complaint counts once its reply clock is decided: *on time* (met
  before its due time), *late* (met after it, or breached), *pending* otherwise (still
  running/paused and not yet due; not in the percentage). Clocks stopped without a reply
  (refused, withdrawn, closed otherwise) are *not applicable*. Grouped by month of
  receipt (Hà Nội time), channel, product and department (the last department referred
  to, ``support`` when never referred).
* **Backlog ageing** — open cases by working days since receipt (``shared.calendar``).
* **Step-2 branches** — how each case went: needed the customer's information, resolved
  by support, referred to a department; and how it ended.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hotro.audit.stores import Stores
from hotro.audit.timeline import ICT
from hotro.shared.eventstore.log import read_log

AGEING_BUCKETS = ((0, 2, "0-2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, 10**6, ">10"))


@dataclass(frozen=True)
class CaseFacts:
    complaint_id: uuid.UUID
    reference: str
    kind: str
    month: str
    channel: str
    product: str
    department: str
    state: str
    received_at: datetime
    reply: str  # on_time | late | pending | not_applicable | none
    needed_information: bool
    resolved_by_support: bool
    referred: bool


def _cases(stores: Stores) -> Iterable[Any]:
    app = stores["routing"]
    for n in read_log(app.recorder, topics=["hotro.routing:Case.Opened"]):
        yield app.repository.get(n.originator_id)


def _reply_status(stores: Stores, complaint_id: uuid.UUID, now: datetime) -> str:
    from eventsourcing.application import AggregateNotFoundError

    from hotro.services.sla.domain.clock import Clock

    try:
        clock = stores["sla"].repository.get(Clock.create_id(complaint_id, "reply"))
    except AggregateNotFoundError:
        return "none"
    if clock.status == "met":
        return "on_time" if clock.on_time else "late"
    if clock.status == "breached":
        return "late"
    if clock.status == "stopped":
        return "not_applicable"
    return "late" if clock.status == "running" and now >= clock.due() else "pending"


def facts(stores: Stores, now: datetime) -> list[CaseFacts]:
    out = []
    for case in _cases(stores):
        local = case.received_at.astimezone(ICT)
        out.append(CaseFacts(
            complaint_id=case.complaint_id, reference=case.reference, kind=case.kind,
            month=local.strftime("%Y-%m"), channel=case.channel,
            product=case.product or "(none)",
            department=case.referrals[-1]["department"] if case.referrals else "support",
            state=case.state.value, received_at=case.received_at,
            reply=_reply_status(stores, case.complaint_id, now),
            needed_information=case.info_rounds > 0,
            resolved_by_support=case.resolution is not None, referred=bool(case.referrals)))
    return out


def compliance(cases: list[CaseFacts]) -> list[dict[str, Any]]:
    rows = []
    for dimension in ("month", "channel", "product", "department"):
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for c in cases:
            if c.kind == "complaint":
                groups[getattr(c, dimension)][c.reply] += 1
        for key in sorted(groups):
            n = groups[key]
            decided = n["on_time"] + n["late"]
            rows.append({"dimension": dimension, "key": key, "on_time": n["on_time"],
                         "late": n["late"], "pending": n["pending"],
                         "not_applicable": n["not_applicable"] + n["none"],
                         "compliance_pct": round(100.0 * n["on_time"] / decided, 1)
                         if decided else None})
    return rows


def backlog(cases: list[CaseFacts], now: datetime) -> list[dict[str, Any]]:
    from hotro.shared.calendar import load_calendar

    calendar = load_calendar()
    today = now.astimezone(ICT).date()
    counts: Counter[str] = Counter()
    oldest: dict[str, str] = {}
    for c in cases:
        if c.state in ("closed", "refused", "withdrawn"):
            continue
        age = calendar.working_days_between(c.received_at.astimezone(ICT).date(), today)
        label = next(lbl for lo, hi, lbl in AGEING_BUCKETS if lo <= age <= hi)
        counts[label] += 1
        oldest.setdefault(label, c.reference)
    return [{"working_days": label, "open_cases": counts[label],
             "example": oldest.get(label)} for _, _, label in AGEING_BUCKETS]


def branches(cases: list[CaseFacts]) -> list[dict[str, Any]]:
    counts: Counter[tuple[str, str]] = Counter()
    for c in cases:
        if c.needed_information:
            counts[("branch", "needed_customer_information")] += 1
        if c.referred:
            counts[("branch", "referred_to_department")] += 1
        if c.resolved_by_support and not c.referred:
            counts[("branch", "resolved_by_support")] += 1
        counts[("outcome", c.state)] += 1
    return [{"group": g, "key": k, "cases": n} for (g, k), n in sorted(counts.items())]


REPORTS = {"compliance": compliance, "branches": branches}


def build(stores: Stores, name: str, now: datetime) -> list[dict[str, Any]]:
    cases = facts(stores, now)
    if name == "backlog":
        return backlog(cases, now)
    return REPORTS[name](cases)


def write(rows: list[dict[str, Any]], path: Path | None, fmt: str) -> str:
    if fmt == "json":
        text = json.dumps(rows, ensure_ascii=False, indent=2)
        if path:
            path.write_text(text + "\n", encoding="utf-8")
        return text
    columns = list(rows[0]) if rows else ["empty"]
    if path is None:
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return str(path)


# ---- chart ------------------------------------------------------------------------------

def _bars(rows: list[dict[str, Any]]) -> list[tuple[str, float | None]]:
    return [(r["key"], r["compliance_pct"]) for r in rows if r["dimension"] == "month"]


def chart_svg(rows: list[dict[str, Any]], path: Path) -> Path:
    from reportlab.graphics import renderSVG
    from reportlab.graphics.shapes import Drawing, Line, Rect, String

    bars = _bars(rows)
    width, height, left, bottom, top = max(320, 60 + 50 * len(bars)), 260, 40, 40, 30
    d = Drawing(width, height)
    d.add(String(left, height - 18, "Tỷ lệ trả lời đúng hạn theo tháng (%)", fontSize=11))
    plot_h = height - bottom - top
    d.add(Line(left, bottom, width - 10, bottom))
    d.add(Line(left, bottom, left, bottom + plot_h))
    for tick in (0, 50, 100):
        y = bottom + plot_h * tick / 100
        d.add(String(left - 28, y - 3, str(tick), fontSize=8))
    for i, (month, pct) in enumerate(bars):
        x = left + 15 + i * 50
        h = plot_h * (pct or 0) / 100
        d.add(Rect(x, bottom, 30, h, fillColor=_colour(pct), strokeColor=None))
        d.add(String(x, bottom - 14, month, fontSize=8))
        d.add(String(x + 2, bottom + h + 3, "—" if pct is None else f"{pct:g}", fontSize=8))
    renderSVG.drawToFile(d, str(path))
    return path


def chart_png(rows: list[dict[str, Any]], path: Path) -> Path:
    from PIL import Image, ImageDraw

    bars = _bars(rows)
    width, height, left, bottom, top = max(320, 60 + 50 * len(bars)), 260, 40, 40, 30
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((left, 8), "Reply within deadline by month (%)", fill="black")
    plot_h = height - bottom - top
    base = height - bottom
    draw.line([(left, base), (width - 10, base)], fill="black")
    draw.line([(left, base), (left, base - plot_h)], fill="black")
    for tick in (0, 50, 100):
        draw.text((left - 28, base - plot_h * tick / 100 - 5), str(tick), fill="black")
    for i, (month, pct) in enumerate(bars):
        x = left + 15 + i * 50
        h = plot_h * (pct or 0) / 100
        r, g, b = (int(c * 255) for c in _colour(pct).rgb())
        draw.rectangle([(x, base - h), (x + 30, base)], fill=(r, g, b))
        draw.text((x - 4, base + 6), month, fill="black")
        draw.text((x + 2, base - h - 14), "-" if pct is None else f"{pct:g}", fill="black")
    img.save(path, format="PNG")
    return path


def _colour(pct: float | None) -> Any:
    from reportlab.lib import colors

    if pct is None:
        return colors.lightgrey
    return colors.green if pct >= 95 else colors.orange if pct >= 80 else colors.red
