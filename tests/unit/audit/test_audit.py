"""Audit tools on the four applications wired in-process (no NATS): timeline order, seals
against tampering in SQLite, replay, export, reports, sealing of personal data."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from hotro.audit import export, reports
from hotro.audit.replay import replay, routing_rows_rebuilt
from hotro.audit.timeline import render_text, resolve, timeline
from hotro.audit.verify import check_seals, check_shape
from hotro.services.routing.domain.workflow import Action
from hotro.shared.privacy.sealing import (
    CachedKeyRing,
    KeyDestroyed,
    MemoryKeyRing,
    reveal,
    seal,
    seal_with,
)
from hotro.shared.seals import Row, chain, genesis, make_seal, read_rows
from tests.unit.audit.world import World, due, world


def _scenario(w: World) -> uuid.UUID:
    cid = w.submit()
    w.advance(hours=1)
    w.act(cid, Action.REQUEST_INFO, items=["hoa-don"], due_date=due(w, 7), message="Xin")
    w.advance(hours=1)
    w.apps["intake"].provide_info(cid, channel="email", content="Đây", items=["hoa-don"],
                                  trace=w.staff("web", "customer"))
    w.pump.settle()
    w.advance(hours=1)
    w.act(cid, Action.REFER, department="ky-thuat-bao-hanh", question="Lỗi?")
    w.act(cid, Action.RECORD_DEPARTMENT_RESPONSE, actor="demo.kythuat", role="department",
          actor_dept="ky-thuat-bao-hanh", result="Lỗi nhà sản xuất")
    w.act(cid, Action.REQUEST_REPLY, method="email", content="Đổi máy mới.")
    return cid


def test_timeline_is_causal_complete_and_names_the_actors() -> None:
    w = world()
    cid = _scenario(w)
    entries = timeline(w.stores, cid)
    stored = sum(len(list(app.repository.event_store.get(i)))
                 for svc, app in w.apps.items()
                 for i in __import__("hotro.audit.timeline", fromlist=["x"])
                 .aggregate_ids(w.stores, cid)[svc])
    assert len(entries) == stored
    position = {e.event_id: i for i, e in enumerate(entries)}
    for i, e in enumerate(entries):
        assert e.actor_id
        if e.causation_id and uuid.UUID(e.causation_id) in position:
            assert position[uuid.UUID(e.causation_id)] < i
    names = [f"{e.aggregate}.{e.event}" for e in entries]
    # intake stamps wall time, routing the injected clock (March): causality still wins
    assert names.index("Request.Received") < names.index("Case.Opened")
    assert names.index("Case.ReplySent") < names.index("Case.Closed")
    assert names.index("Case.Closed") < names.index("Request.Closed")
    responded = next(e for e in entries if e.event == "DepartmentResponded")
    assert responded.actor_id == "demo.kythuat" and responded.actor_kind == "staff"
    text = "\n".join(render_text(resolve(w.stores, str(cid)), entries))
    assert "KN-2026-000001" in text and "+0700" in text


# ---- seals against tampering (SQLite) ---------------------------------------------------

def _sealed_world(tmp_path: Path) -> tuple[World, list[Row], list]:  # type: ignore[type-arg]
    w = world(tmp_path)
    _scenario(w)
    app = w.apps["routing"]
    rows = list(read_rows(app))
    half = len(rows) // 2
    first = make_seal("routing", 1, 0, genesis("routing"), rows[:half], w.clock())
    second = make_seal("routing", 2, first.last, bytes.fromhex(first.head), rows[half:],
                       w.clock())
    return w, rows, [first, second]


def _db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "routing.sqlite", isolation_level=None)


def test_clean_log_matches_its_seals(tmp_path: Path) -> None:
    w, rows, seals = _sealed_world(tmp_path)
    report = check_seals("routing", list(read_rows(w.apps["routing"])), seals)
    assert report.ok, report.findings
    assert chain(genesis("routing"), rows).hex() == seals[-1].head
    assert check_shape("routing", rows).ok


def test_an_edited_payload_is_named_by_notification_aggregate_and_version(
        tmp_path: Path) -> None:
    w, rows, seals = _sealed_world(tmp_path)
    target = next(r for r in rows if r.topic.endswith("DepartmentResponded"))
    state = json.loads(target.state)
    state["result"] = "Không lỗi"
    with _db(tmp_path) as db:
        db.execute("UPDATE stored_events SET state=? WHERE rowid=?",
                   (json.dumps(state).encode(), target.id))
    report = check_seals("routing", list(read_rows(w.apps["routing"])), seals)
    [finding] = report.findings
    assert (finding.kind, finding.notification_id, finding.aggregate_id, finding.version) == \
        ("edited", target.id, target.originator_id, target.version)
    assert finding.aggregate == "Case"


def test_a_deleted_event_is_reported_by_the_seal_and_by_the_version_gap(
        tmp_path: Path) -> None:
    w, rows, seals = _sealed_world(tmp_path)
    target = next(r for r in rows if r.topic.endswith("InfoRequested"))
    with _db(tmp_path) as db:
        db.execute("DELETE FROM stored_events WHERE rowid=?", (target.id,))
    now = list(read_rows(w.apps["routing"]))
    [deleted] = check_seals("routing", now, seals).findings
    assert (deleted.kind, deleted.notification_id, deleted.version) == \
        ("deleted", target.id, target.version)
    [gap] = check_shape("routing", now).findings
    assert gap.kind == "deleted" and f"v{target.version}" in gap.detail


def test_a_duplicated_event_is_reported_as_a_copy_of_the_sealed_one(tmp_path: Path) -> None:
    w, rows, seals = _sealed_world(tmp_path)
    target = next(r for r in rows if r.topic.endswith("ReferredToDepartment"))
    top = max(r.version for r in rows if r.originator_id == target.originator_id)
    with _db(tmp_path) as db:
        db.execute("INSERT INTO stored_events VALUES (?,?,?,?)",
                   (target.originator_id.hex, top + 1, target.topic, target.state))
    findings = check_seals("routing", list(read_rows(w.apps["routing"])), seals).findings
    [dup] = findings
    assert dup.kind == "duplicated" and dup.version == top + 1
    assert f"sealed notification {target.id}" in dup.detail


def test_two_swapped_events_are_reported_as_reordered(tmp_path: Path) -> None:
    w, rows, seals = _sealed_world(tmp_path)
    a, b = rows[3], rows[4]
    with _db(tmp_path) as db:
        db.execute("UPDATE stored_events SET state=? WHERE rowid=?", (b.state, a.id))
        db.execute("UPDATE stored_events SET state=? WHERE rowid=?", (a.state, b.id))
    findings = check_seals("routing", list(read_rows(w.apps["routing"])), seals).findings
    assert {(f.kind, f.notification_id) for f in findings} == {("reordered", a.id),
                                                               ("reordered", b.id)}
    assert f"sealed as notification {b.id}" in next(
        f.detail for f in findings if f.notification_id == a.id)
    assert check_shape("routing", list(read_rows(w.apps["routing"]))).ok  # only seals see it


def test_a_broken_seal_chain_is_a_finding(tmp_path: Path) -> None:
    w, _, seals = _sealed_world(tmp_path)
    report = check_seals("routing", list(read_rows(w.apps["routing"])), [seals[1]])
    assert [f.kind for f in report.findings][:1] == ["seal-chain"]


# ---- replay -----------------------------------------------------------------------------

def test_replay_rebuilds_every_read_model_identically_and_deterministically() -> None:
    w = world()
    _scenario(w)
    w.submit(incident_date=(w.clock().date().replace(year=2025)))
    for svc in ("intake", "routing", "sla", "notify"):
        first, second = replay(w.apps[svc]), replay(w.apps[svc])
        assert first.differences == [], (svc, first.differences)
        assert first.digest == second.digest and (first.rows or svc == "sla")


def test_replay_names_a_row_that_differs_from_the_live_model() -> None:
    w = world()
    cid = _scenario(w)
    _, rows = routing_rows_rebuilt(w.apps["routing"])
    live = {k: dict(v) for k, v in rows.items()}
    live[str(cid)]["state"] = "analysing"
    result = replay(w.apps["routing"], live)
    assert result.differences == [f"{cid}.state: rebuilt 'reply_due' != live 'analysing'"] \
        or result.differences[0].startswith(f"{cid}.state")


# ---- export and reports -----------------------------------------------------------------

def test_exports_csv_with_bom_jsonl_and_an_evidence_pack(tmp_path: Path) -> None:
    w = world()
    cid = _scenario(w)
    ref = resolve(w.stores, str(cid)).reference
    records = list(export.rows(w.stores, [(cid, ref)]))
    assert export.write_csv(iter(records), tmp_path / "x.csv") == len(records)
    raw = (tmp_path / "x.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "Lỗi".encode() in raw
    with (tmp_path / "x.jsonl").open("w", encoding="utf-8") as f:
        export.write_jsonl(records, f)
    lines = (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["reference"] == ref for line in lines)
    pdf = export.evidence_pack(w.stores, cid, tmp_path / "pack.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert [x["purpose"] for x in export.letters(w.stores, cid)][:2] == \
        ["acknowledgement", "info_request"]


def test_reports_and_the_monthly_chart(tmp_path: Path) -> None:
    w = world()
    _scenario(w)
    w.submit()  # still open
    now = w.clock()
    rows = reports.build(w.stores, "compliance", now)
    month = next(r for r in rows if r["dimension"] == "month")
    assert (month["key"], month["on_time"], month["pending"], month["compliance_pct"]) == \
        ("2026-03", 1, 1, 100.0)
    assert {r["dimension"] for r in rows} == {"month", "channel", "product", "department"}
    backlog = reports.build(w.stores, "backlog", now)
    assert sum(r["open_cases"] for r in backlog) == 1
    branches = {(r["group"], r["key"]): r["cases"]
                for r in reports.build(w.stores, "branches", now)}
    assert branches[("branch", "referred_to_department")] == 1
    assert branches[("branch", "needed_customer_information")] == 1
    svg = reports.chart_svg(rows, tmp_path / "c.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "2026-03" in svg
    assert reports.chart_png(rows, tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert reports.write(rows, tmp_path / "r.csv", "csv")
    assert (tmp_path / "r.csv").read_bytes().startswith(b"\xef\xbb\xbf")


# ---- personal data sealed with a per-complaint key --------------------------------------

def test_sealed_contact_is_readable_until_its_key_is_destroyed() -> None:
    keys = MemoryKeyRing()
    sealed = seal_with(keys, "c-1", {"name": "Nguyễn Thị Ánh", "phone": "+84912345678"})
    assert "Ánh" not in json.dumps(sealed) and "0912" not in json.dumps(sealed)
    assert reveal(sealed, keys) == {"name": "Nguyễn Thị Ánh", "phone": "+84912345678"}
    moved = {**sealed, "key_id": "c-2"}
    keys.create("c-2")
    assert reveal(moved, keys) is None  # the key id is bound to the ciphertext
    keys.destroy("c-1")
    assert reveal(sealed, keys) is None
    with pytest.raises(KeyDestroyed):
        keys.create("c-1")
    assert reveal({"name": "plain"}, None) == {"name": "plain"}


def test_cached_key_ring_forgets_a_destroyed_key_within_its_ttl() -> None:
    inner = MemoryKeyRing()
    now = [0.0]
    cached = CachedKeyRing(inner, ttl_s=10, monotonic=lambda: now[0])
    key = cached.create("c")
    sealed = seal({"name": "A"}, key, "c")
    inner.destroy("c")  # destroyed elsewhere (another process)
    assert reveal(sealed, cached) == {"name": "A"}
    now[0] = 11.0
    assert reveal(sealed, cached) is None
