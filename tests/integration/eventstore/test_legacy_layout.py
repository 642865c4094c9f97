"""Stores written before the `hotro.` namespace (module paths `services.*` in stored
events and snapshots) still load: every aggregate, the reference counter from its
snapshot, and the next complaint continues the same reference sequence.

The fixture stores were written by commit 6f15910 (the old layout) with
`tests/fixtures/legacy_layout/make_legacy_stores.py.txt`."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path

from hotro.services.intake.domain import ReferenceCounter
from tests.unit.audit.world import world

LEGACY = Path(__file__).parents[2] / "fixtures" / "legacy_layout"


def _aggregate_ids(path: Path) -> set[uuid.UUID]:
    with sqlite3.connect(path) as db:
        return {uuid.UUID(row[0]) for row in
                db.execute("SELECT DISTINCT originator_id FROM stored_events")}


def test_every_aggregate_of_the_old_layout_loads(tmp_path: Path) -> None:
    for name in ("intake", "routing", "sla", "notify"):
        shutil.copy(LEGACY / f"{name}.sqlite", tmp_path / f"{name}.sqlite")
    old_text = (LEGACY / "intake.sqlite").read_bytes()
    assert b"services.intake.domain:ReferenceCounter" in old_text  # the fixture is old

    w = world(tmp_path)
    loaded = 0
    for name, app in w.apps.items():
        ids = _aggregate_ids(tmp_path / f"{name}.sqlite")
        assert ids, name
        for aggregate_id in ids:
            aggregate = app.repository.get(aggregate_id)
            assert aggregate.id == aggregate_id
            loaded += 1
    assert loaded > 400


def test_the_reference_counter_resumes_from_its_old_snapshot(tmp_path: Path) -> None:
    for name in ("intake", "routing", "sla", "notify"):
        shutil.copy(LEGACY / f"{name}.sqlite", tmp_path / f"{name}.sqlite")
    with sqlite3.connect(tmp_path / "intake.sqlite") as db:
        snapshots = db.execute("SELECT originator_id, originator_version FROM stored_snapshots"
                               ).fetchall()
    assert len(snapshots) == 1
    w = world(tmp_path)
    counter_id = uuid.UUID(snapshots[0][0])
    counter = w.apps["intake"].repository.get(counter_id)
    assert isinstance(counter, ReferenceCounter)
    assert counter.last == 102

    w.submit(description="Yêu cầu sau khi chuyển mã nguồn")
    assert w.apps["intake"].repository.get(counter_id).current() == f"KN-{counter.year}-000103"
