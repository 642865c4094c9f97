"""Progress on stderr when it is a terminal, nothing when it is not."""

from __future__ import annotations

import io
import sys

import pytest

from hotro.cli import main as hotro
from hotro.cli_progress import Progress
from tests.support.monotonic import SettableMonotonic
from tests.unit.cli.conftest import DataDir


@pytest.fixture(autouse=True)
def a_terminal_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")  # CI may say "dumb"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_redrawn_in_place_and_cleared() -> None:
    stream, clock = FakeTerminal(), SettableMonotonic(0.0)
    with Progress(stream, clock=clock, interval_s=0.1, columns=60) as progress:
        progress("replay routing: rebuilding", 1000, 250_000)
        progress("replay routing: rebuilding", 2000, 250_000)  # within the interval: skipped
        clock.now = 0.5
        progress("replay routing: rebuilding", 125_000, 250_000)
        clock.now = 0.51
        progress("replay routing: rebuilding", 250_000, 250_000)  # the end is always drawn
        progress("export: complaints", 7)  # no total known
    text = stream.getvalue()
    draws = text.split("\r\x1b[2K")
    assert draws[1:] == ["replay routing: rebuilding: 1 000 / 250 000 (0%)",
                         "replay routing: rebuilding: 125 000 / 250 000 (50%)",
                         "replay routing: rebuilding: 250 000 / 250 000 (100%)",
                         ""]  # cleared at the end; the unthrottled "7" fell in the interval
    assert "2 000" not in text


def test_a_long_status_is_cut_to_the_terminal_width() -> None:
    stream = FakeTerminal()
    progress = Progress(stream, columns=30)
    progress("xuất dữ liệu: các khiếu nại của khách hàng", 3, 10)
    drawn = stream.getvalue().split("\r\x1b[2K")[1]
    assert len(drawn) == 30 and drawn.endswith("…")


def test_nothing_at_all_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    with Progress(pipe) as progress:
        progress("export: complaints", 1, 2)
    assert pipe.getvalue() == ""
    monkeypatch.setenv("HOTRO_PROGRESS", "0")
    terminal = FakeTerminal()
    with Progress(terminal) as progress:
        progress("export: complaints", 1, 2)
    assert terminal.getvalue() == ""
    monkeypatch.delenv("HOTRO_PROGRESS")
    monkeypatch.setenv("TERM", "dumb")
    assert not Progress(FakeTerminal()).enabled
    monkeypatch.setenv("TERM", "xterm-256color")
    assert Progress(FakeTerminal()).enabled
    assert Progress(io.StringIO(), enabled=True).enabled  # the explicit flag wins


def _run_with_stderr(stderr: io.StringIO, argv: list[str],
                     capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    real = sys.stderr
    sys.stderr = stderr
    try:
        code = hotro(argv)
    finally:
        sys.stderr = real
    return code, capsys.readouterr().out, stderr.getvalue()


@pytest.mark.parametrize("argv, expected", [
    (["replay", "all"], "replay routing: rebuilding case-queues:"),
    (["export", "--from", "2020-01-01", "--to", "2030-12-31", "--no-personal-data"],
     "export: complaints: 2 / 2 (100%)"),
    (["report", "compliance", "--now", "2026-04-01T00:00:00+07:00"],
     "report compliance: routing:"),
])
def test_long_commands_show_progress_on_a_terminal_only(
        argv: list[str], expected: str, data_dir: DataDir, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out_tty, err = _run_with_stderr(FakeTerminal(), [*argv, *data_dir.args()], capsys)
    assert code == 0 and expected in err, err
    after = err.rsplit("\r\x1b[2K", 1)[1]  # cleared before anything else is said
    assert after == "" or after.endswith(" events of 2 complaint(s) (personal data withheld)\n")
    code, out_pipe, err = _run_with_stderr(io.StringIO(), [*argv, *data_dir.args()], capsys)
    assert code == 0 and "\r" not in err and "\x1b" not in err
    assert out_tty == out_pipe  # stdout is the same either way


def test_no_progress_when_the_export_itself_goes_to_the_same_terminal(
        data_dir: DataDir, monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert hotro(["export", data_dir.reference, "--no-personal-data", *data_dir.args()]) == 0
    assert out.getvalue().count("\n") > 10 and "\r" not in err.getvalue()
