"""Without the data keys the command line refuses instead of lying: `hotro audit`,
`export` and `erase` never show "erased" for a customer who was not erased. Driven through
``hotro.cli.main`` against stores written by the real applications, no NATS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from hotro.audit.keys import WITHHELD
from hotro.cli import main as hotro
from hotro.cli_exit import EXIT_UNAVAILABLE, EXIT_USAGE
from hotro.cli_text import graphemes, width
from hotro.natsbin import free_port
from hotro.shared.eventstore.log import read_events
from hotro.shared.privacy.sealing import ERASED
from hotro.system_record import mark_stopped, write_running
from tests.unit.cli.conftest import INFO, DataDir

Capture = pytest.CaptureFixture[str]


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = hotro(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- hotro audit ------------------------------------------------------------------------

def test_audit_without_the_data_keys_refuses_and_says_how_to_fix_it(
        data_dir: DataDir, capsys: Capture) -> None:
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, "audit", data_dir.reference, *extra, *data_dir.args())
        assert code == EXIT_UNAVAILABLE
        assert out == ""  # nothing printed as if it were the answer
        assert ERASED not in err
        assert "cannot open the data keys" in err and "not erased" in err
        assert f"{data_dir.path / 'system.json'} does not exist" in err
        assert f"hotro up --data-dir {data_dir.path}" in err
        assert "--no-personal-data" in err and "HOTRO_NATS_URL" in err


def test_no_personal_data_prints_the_timeline_marked_withheld(
        data_dir: DataDir, capsys: Capture) -> None:
    code, out, err = run(capsys, "audit", data_dir.reference, "--no-personal-data",
                         *data_dir.args())
    assert code == 0, err
    received = next(line for line in out.splitlines() if "Request.Received" in line)
    assert f"customer={WITHHELD}" in received
    assert ERASED not in out and "Nguyễn" not in out
    code, out, _ = run(capsys, "audit", data_dir.reference, "--json", "--no-personal-data",
                       *data_dir.args())
    assert code == 0
    summaries = [e["summary"] for e in json.loads(out)["events"]]
    assert f"customer={WITHHELD}" in summaries[0] and not any(ERASED in s for s in summaries)


def test_a_recorded_erasure_shows_as_erased_without_any_key(
        data_dir: DataDir, capsys: Capture) -> None:
    """The store itself says the customer was erased: that is the truth, NATS or not."""
    for extra in ([], ["--no-personal-data"]):
        code, out, err = run(capsys, "audit", data_dir.erased_reference, *extra,
                             *data_dir.args())
        assert code == 0, err
        received = next(line for line in out.splitlines() if "Request.Received" in line)
        assert f"customer={ERASED}" in received
        assert "Request.Erased" in out and WITHHELD not in received


def test_an_unreachable_nats_is_named_with_where_its_address_came_from(
        data_dir: DataDir, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("HOTRO_NATS_URL", f"nats://127.0.0.1:{port}")
    started = time.monotonic()
    code, out, err = run(capsys, "audit", data_dir.reference, *data_dir.args())
    assert time.monotonic() - started < 10  # not nats-py's two minutes of reconnecting
    assert code == EXIT_UNAVAILABLE and out == ""
    assert f"cannot reach NATS at nats://127.0.0.1:{port} (from HOTRO_NATS_URL)" in err
    # a flag wins over the environment
    flag = free_port()
    code, _, err = run(capsys, "audit", data_dir.reference, "--nats",
                       f"nats://127.0.0.1:{flag}", *data_dir.args())
    assert code == EXIT_UNAVAILABLE and f"127.0.0.1:{flag} (from --nats)" in err


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stopped_or_vanished_local_system_is_said_so(
        data_dir: DataDir, capsys: Capture) -> None:
    port = free_port()
    write_running(data_dir.path, f"nats://127.0.0.1:{port}", external=False,
                  pid=_dead_pid())
    code, _, err = run(capsys, "audit", data_dir.reference, *data_dir.args())
    assert code == EXIT_UNAVAILABLE
    assert f"cannot reach NATS at nats://127.0.0.1:{port} (from " \
           f"{data_dir.path / 'system.json'})" in err
    assert "is no longer running" in err and f"hotro up --data-dir {data_dir.path}" in err

    write_running(data_dir.path, f"nats://127.0.0.1:{port}", external=False)
    assert mark_stopped(data_dir.path)
    code, _, err = run(capsys, "audit", data_dir.reference, *data_dir.args())
    assert code == EXIT_UNAVAILABLE
    assert f"the local system in {data_dir.path} is stopped" in err


def test_an_unknown_reference_or_a_missing_store_is_not_a_traceback(
        data_dir: DataDir, capsys: Capture, tmp_path: Path) -> None:
    code, _, err = run(capsys, "audit", "KN-2026-999999", *data_dir.args())
    assert code == EXIT_USAGE and "no complaint 'KN-2026-999999'" in err
    code, _, err = run(capsys, "audit", "KN-2026-000001", "--data-dir", str(tmp_path / "x"))
    assert code == EXIT_UNAVAILABLE
    assert f"no store at {tmp_path / 'x' / 'intake.sqlite'}" in err and "--data-dir" in err


# ---- text output: whole letters, aligned columns ----------------------------------------

def test_the_text_timeline_cuts_vietnamese_on_letters_and_keeps_columns(
        data_dir: DataDir, capsys: Capture) -> None:
    code, out, _ = run(capsys, "audit", data_dir.reference, "--no-personal-data",
                       *data_dir.args())
    assert code == 0
    lines = out.splitlines()[1:]
    for line in lines:
        assert unicodedata.is_normalized("NFC", line), line
        assert not any(unicodedata.combining(ch) for ch in line), line
    provided = next(line for line in lines if "Request.InfoProvided" in line)
    content = provided.split("content=", 1)[1]
    assert content.endswith("…") and width(content) <= 80
    source = list(graphemes(unicodedata.normalize("NFC", " ".join(INFO.split()))))
    kept = list(graphemes(content[:-1]))
    assert kept == source[:len(kept)] and len(kept) > 60

    def summary_column(line: str) -> int:  # display column where the summary starts
        found = re.search(r"[a-z_]+=", line)
        assert found is not None, line
        return width(line[:found.start()])

    assert len({summary_column(line) for line in lines if "=" in line}) == 1


# ---- hotro export -----------------------------------------------------------------------

def test_export_refuses_without_keys_and_writes_no_file(
        data_dir: DataDir, capsys: Capture, tmp_path: Path) -> None:
    out_file, pdf = tmp_path / "x.jsonl", tmp_path / "pack.pdf"
    for extra in (["--out", str(out_file)], ["--format", "csv", "--out", str(out_file)],
                  ["--evidence", str(pdf)], []):
        code, out, err = run(capsys, "export", data_dir.reference, *extra, *data_dir.args())
        assert code == EXIT_UNAVAILABLE and out == "", extra
        assert "cannot open the data keys" in err
        assert not out_file.exists() and not pdf.exists()
    code, _, err = run(capsys, "export", "--from", "2020-01-01", "--to", "2030-12-31",
                       *data_dir.args())
    assert code == EXIT_UNAVAILABLE and "--no-personal-data" in err


def test_export_without_personal_data_marks_it_withheld(
        data_dir: DataDir, capsys: Capture, tmp_path: Path) -> None:
    code, out, err = run(capsys, "export", "--from", "2020-01-01", "--to", "2030-12-31",
                         "--no-personal-data", *data_dir.args())
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    received = {r["reference"]: r["summary"] for r in rows if r["event"] == "Received"
                and r["aggregate"] == "Request"}
    assert f"customer={WITHHELD}" in received[data_dir.reference]
    assert f"customer={ERASED}" in received[data_dir.erased_reference]
    assert "personal data withheld" in err
    csv_path = tmp_path / "x.csv"
    code, _, _ = run(capsys, "export", data_dir.reference, "--format", "csv", "--out",
                     str(csv_path), "--no-personal-data", *data_dir.args())
    assert code == 0 and WITHHELD in csv_path.read_text(encoding="utf-8-sig")
    pdf = tmp_path / "pack.pdf"
    code, out, _ = run(capsys, "export", data_dir.reference, "--evidence", str(pdf),
                       "--no-personal-data", *data_dir.args())
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF")


# ---- hotro erase ------------------------------------------------------------------------

def test_erase_without_nats_refuses_and_records_nothing(
        data_dir: DataDir, capsys: Capture) -> None:
    code, out, err = run(capsys, "erase", data_dir.reference, "--reason", "thử", "--by",
                         "dpo", *data_dir.args())
    assert code == EXIT_UNAVAILABLE and out == ""
    assert "cannot erase" in err and "nothing was erased" in err
    assert f"hotro up --data-dir {data_dir.path}" in err
    from hotro.audit.stores import open_stores, store_urls

    with open_stores(store_urls((), data_dir.path), services=("intake",)) as stores:
        erased = [e for e in read_events(stores["intake"],
                                         topics=["hotro.intake:Request.Erased"])
                  if e.originator_id == data_dir.complaint_id]
    assert erased == []


def test_compact_refuses_while_the_local_system_runs(
        data_dir: DataDir, capsys: Capture) -> None:
    write_running(data_dir.path, "nats://127.0.0.1:4222", external=False)  # this process
    code, out, err = run(capsys, "compact", *data_dir.args())
    assert code == EXIT_UNAVAILABLE and out == ""
    assert f"is running (`hotro up`, pid {os.getpid()})" in err and "stop it first" in err
    assert mark_stopped(data_dir.path)
    code, out, err = run(capsys, "compact", *data_dir.args())
    assert code == 0, err
    assert "intake: " in out and "vacuumed" in out
