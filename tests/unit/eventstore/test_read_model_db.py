"""The read models' private on-disk tables (``shared.eventstore.read_model_db``)."""

from __future__ import annotations

import threading

import pytest

from hotro.shared.eventstore.read_model_db import ReadModelDb

SCHEMA = "CREATE TABLE rows (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"


def test_a_batch_commits_everything_written_inside_it() -> None:
    db = ReadModelDb(SCHEMA)
    with db.batch():
        db.execute("INSERT INTO rows (id, name) VALUES (?, ?)", (1, "a"))
        with db.batch():  # a nested batch joins the outer transaction
            db.executemany("INSERT INTO rows (id, name) VALUES (?, ?)", [(2, "b"), (3, "c")])
    assert [tuple(r) for r in db.rows("SELECT id, name FROM rows ORDER BY id")] == [
        (1, "a"), (2, "b"), (3, "c")]
    assert db.scalar("SELECT COUNT(*) FROM rows") == 3


def test_a_batch_that_raises_leaves_nothing_behind() -> None:
    db = ReadModelDb(SCHEMA)
    db.execute("INSERT INTO rows (id, name) VALUES (1, 'kept')")
    with pytest.raises(RuntimeError), db.batch():
        db.execute("INSERT INTO rows (id, name) VALUES (2, 'lost')")
        raise RuntimeError("apply failed")
    assert [r["name"] for r in db.rows("SELECT name FROM rows")] == ["kept"]
    with db.batch():  # usable again afterwards
        db.execute("INSERT INTO rows (id, name) VALUES (3, 'next')")
    assert db.scalar("SELECT COUNT(*) FROM rows") == 2


def test_each_model_has_its_own_database_and_a_bounded_page_cache() -> None:
    first, second = ReadModelDb(SCHEMA, cache_kib=512), ReadModelDb(SCHEMA)
    first.execute("INSERT INTO rows (id, name) VALUES (1, 'only here')")
    assert second.scalar("SELECT COUNT(*) FROM rows") == 0
    assert first.scalar("PRAGMA cache_size") == -512


def test_writers_on_several_threads_are_serialised() -> None:
    db = ReadModelDb(SCHEMA)

    def write(start: int) -> None:
        for i in range(start, start + 200):
            with db.batch():
                db.execute("INSERT INTO rows (id, name) VALUES (?, ?)", (i, str(i)))

    threads = [threading.Thread(target=write, args=(n * 1000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.scalar("SELECT COUNT(*) FROM rows") == 800
    db.close()


INDEXED = """
CREATE TABLE cases (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, state TEXT NOT NULL);
CREATE UNIQUE INDEX cases_by_ref ON cases (ref);
CREATE INDEX cases_by_state ON cases (state, id);
"""


def _indexes(db: ReadModelDb) -> set[str]:
    return {r[0] for r in db.rows("SELECT name FROM sqlite_master WHERE type = 'index' "
                                  "AND name LIKE 'cases_%'")}


def test_a_bulk_load_builds_the_secondary_indexes_once_at_the_end() -> None:
    db = ReadModelDb(INDEXED)
    with db.bulk():
        # only the plain index is set aside: the unique one is a constraint
        assert _indexes(db) == {"cases_by_ref"}
        db.executemany("INSERT INTO cases (id, ref, state) VALUES (?, ?, ?)",
                       [(i, f"KN-{i}", "new" if i % 2 else "closed") for i in range(100)])
        with pytest.raises(Exception, match="UNIQUE"):
            db.execute("INSERT INTO cases (id, ref, state) VALUES (200, 'KN-1', 'new')")
    assert _indexes(db) == {"cases_by_ref", "cases_by_state"}
    plan = " ".join(r[3] for r in db.rows(
        "EXPLAIN QUERY PLAN SELECT id FROM cases WHERE state = 'new' ORDER BY id"))
    assert "cases_by_state" in plan
    assert db.scalar("SELECT COUNT(*) FROM cases WHERE state = 'new'") == 50


def test_a_bulk_load_that_raises_leaves_the_tables_and_indexes_as_they_were() -> None:
    db = ReadModelDb(INDEXED)
    db.execute("INSERT INTO cases (id, ref, state) VALUES (1, 'KN-1', 'new')")
    with pytest.raises(RuntimeError), db.bulk():
        db.execute("INSERT INTO cases (id, ref, state) VALUES (2, 'KN-2', 'new')")
        raise RuntimeError("apply failed")
    assert db.scalar("SELECT COUNT(*) FROM cases") == 1
    assert _indexes(db) == {"cases_by_ref", "cases_by_state"}
