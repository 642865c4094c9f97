"""Where the local system's NATS runs (``<data dir>/system.json``), and which NATS the
tools use: ``--nats`` > ``HOTRO_NATS_URL`` > the record."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hotro.cli_exit import ToolError
from hotro.cli_nats import find_nats
from hotro.local_nats import OPERATOR, password_file
from hotro.system_record import (
    RecordUnreadable,
    mark_stopped,
    read_record,
    record_path,
    write_running,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOTRO_NATS_URL", "HOTRO_NATS_USER", "HOTRO_NATS_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_hotro_up_records_its_nats_atomically_without_secrets(tmp_path: Path) -> None:
    path = write_running(tmp_path, "nats://provision:s3cret@127.0.0.1:4222,"
                                   "nats://127.0.0.1:4223", external=False)
    assert path == record_path(tmp_path) == tmp_path / "system.json"
    assert [p.name for p in tmp_path.iterdir()] == ["system.json"]  # no temporary left
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert "s3cret" not in path.read_text() and "provision" not in path.read_text()
    record = read_record(tmp_path)
    assert record is not None and record.running and record.pid == os.getpid()
    assert record.nats_urls == ("nats://127.0.0.1:4222", "nats://127.0.0.1:4223")
    assert record.nats_url == "nats://127.0.0.1:4222,nats://127.0.0.1:4223"
    assert record.process_alive() is True


def test_shutdown_marks_it_stopped_and_only_its_writer_may(tmp_path: Path) -> None:
    write_running(tmp_path, "nats://127.0.0.1:4222", external=False)
    assert not mark_stopped(tmp_path, pid=os.getpid() + 1)  # another `hotro up`'s record
    assert read_record(tmp_path).running  # type: ignore[union-attr]
    assert mark_stopped(tmp_path)
    record = read_record(tmp_path)
    assert record is not None and not record.running and record.stopped_at
    assert not mark_stopped(tmp_path / "elsewhere")


def test_no_record_and_a_broken_record(tmp_path: Path) -> None:
    assert read_record(tmp_path) is None
    record_path(tmp_path).write_text("{not json", encoding="utf-8")
    with pytest.raises(RecordUnreadable):
        read_record(tmp_path)
    record_path(tmp_path).write_text(json.dumps({"state": "running", "nats": {"urls": []}}))
    with pytest.raises(RecordUnreadable):
        read_record(tmp_path)
    with pytest.raises(ToolError, match="cannot tell where NATS runs"):
        find_nats(None, tmp_path)


def test_a_dead_writer_is_noticed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    write_running(tmp_path, "nats://127.0.0.1:4222", external=False, pid=proc.pid)
    assert read_record(tmp_path).process_alive() is False  # type: ignore[union-attr]


def test_flag_beats_environment_beats_record(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write_running(tmp_path, "nats://127.0.0.1:1111", external=False)
    target = find_nats(None, tmp_path)
    assert (target.url, target.source) == ("nats://127.0.0.1:1111",
                                           str(tmp_path / "system.json"))
    assert target.record is not None
    monkeypatch.setenv("HOTRO_NATS_URL", "nats://127.0.0.1:2222")
    target = find_nats(None, tmp_path)
    assert (target.url, target.source, target.record) == ("nats://127.0.0.1:2222",
                                                          "HOTRO_NATS_URL", None)
    target = find_nats("nats://127.0.0.1:3333", tmp_path)
    assert (target.url, target.source) == ("nats://127.0.0.1:3333", "--nats")


def test_the_operator_of_the_data_directory_unless_the_environment_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_running(tmp_path, "nats://127.0.0.1:1111", external=False)
    assert find_nats(None, tmp_path).credentials is None  # no password file: nobody
    secret = password_file(tmp_path, OPERATOR)
    secret.parent.mkdir()
    secret.write_text("pw\n")
    creds = find_nats(None, tmp_path).credentials
    assert creds is not None and creds.user == OPERATOR
    assert creds.password_file == str(secret.resolve())
    monkeypatch.setenv("HOTRO_NATS_USER", "auditor")
    monkeypatch.setenv("HOTRO_NATS_PASSWORD_FILE", "/run/secrets/auditor")
    creds = find_nats(None, tmp_path).credentials
    assert creds is not None and (creds.user, creds.password_file) == (
        "auditor", "/run/secrets/auditor")


def test_nothing_to_find_says_how_to_start_or_point(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as missing:
        find_nats(None, tmp_path)
    text = missing.value.render("audit")
    assert "no NATS given (no --nats, no HOTRO_NATS_URL)" in text
    assert f"`hotro up --data-dir {tmp_path}`" in text and "--nats nats://HOST:4222" in text
    write_running(tmp_path, "nats://127.0.0.1:1111", external=False)
    mark_stopped(tmp_path)
    with pytest.raises(ToolError, match="is stopped"):
        find_nats(None, tmp_path)
