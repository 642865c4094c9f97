"""A service's integrity check of one case (shared/runtime/integrity.py): the whole log
against the newest seal, and the case's own rows — an edited, deleted or reordered row is
found; rows after the seal are only the sealing lag."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hotro.shared.runtime.integrity import check_case, shape_findings
from hotro.shared.seals import Row, genesis, make_seal

CASE = uuid.uuid4()
OTHER = uuid.uuid4()


def _rows() -> list[Row]:
    return [Row(1, CASE, 1, "t:A.Created", b"a1"), Row(2, OTHER, 1, "t:B.Created", b"b1"),
            Row(3, CASE, 2, "t:A.Moved", b"a2"), Row(4, CASE, 3, "t:A.Moved", b"a3")]


def _seal(rows: list[Row]) -> object:
    return make_seal("intake", 1, 0, genesis("intake"), rows, datetime.now(UTC))


def test_an_untouched_log_is_intact_and_later_rows_are_lag() -> None:
    rows = _rows()
    report = check_case("intake", rows, _seal(rows[:3]), {CASE})  # type: ignore[arg-type]
    assert report["ok"] and report["chain_ok"]
    assert report["case_rows"] == 3 and report["case_rows_unsealed"] == 1
    assert report["findings"] == []


def test_an_edited_row_anywhere_breaks_the_chain() -> None:
    rows = _rows()
    seal = _seal(rows)
    edited = [*rows[:1], Row(2, OTHER, 1, "t:B.Created", b"B1"), *rows[2:]]
    report = check_case("intake", edited, seal, {CASE})  # type: ignore[arg-type]
    assert not report["ok"] and report["chain_ok"] is False
    assert [f["kind"] for f in report["findings"]] == ["altered"]  # not one of the case's rows
    own = [*rows[:2], Row(3, CASE, 2, "t:A.Moved", b"changed"), rows[3]]
    kinds = [f["kind"] for f in check_case("intake", own, seal,  # type: ignore[arg-type]
                                           {CASE})["findings"]]
    assert kinds == ["altered", "altered"]  # the chain, and the row its seal lists


def test_a_deleted_or_reordered_row_of_the_case() -> None:
    rows = _rows()
    assert [f["kind"] for f in shape_findings([rows[0], rows[3]])] == ["deleted"]
    swapped = [rows[0], Row(3, CASE, 3, "t:A.Moved", b"a3"), Row(4, CASE, 2, "t:A.Moved", b"a2")]
    assert [f["kind"] for f in shape_findings(swapped)] == ["reordered"]
    copied = [rows[0], Row(3, CASE, 2, "t:A.Moved", b"a1")]
    assert [f["kind"] for f in shape_findings(copied)] == ["duplicated"]


def test_no_seal_yet() -> None:
    report = check_case("sla", _rows(), None, {CASE})
    assert report["ok"] and report["sealed"] is False and report["chain_ok"] is None
    assert report["case_rows_unsealed"] == 3
