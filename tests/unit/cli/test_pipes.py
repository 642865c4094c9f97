"""Output into a pipe whose reader went away (``hotro export … | head``) ends quietly:
exit 141, no BrokenPipe traceback — for every command that writes to stdout. Real
processes and real pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotro.cli_exit import EXIT_BROKEN_PIPE
from tests.unit.cli.conftest import DataDir, make_data_dir


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """Enough complaints that an export is far larger than a pipe's buffer (64 KiB)."""
    return make_data_dir(tmp_path_factory.mktemp("pipes") / "var", extra_complaints=30)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTRO_")}
    env["PYTHONPATH"] = str(Path(__file__).parents[3])
    return env


def _hotro(*argv: str) -> list[str]:
    return [sys.executable, "-m", "hotro.cli", *argv]


def _quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr and "Exception ignored" not in stderr, stderr


def test_export_piped_into_head_stops_quietly(big: DataDir) -> None:
    """Read one line, then close the pipe, as `head -1` does."""
    proc = subprocess.Popen(_hotro("export", "--from", "2020-01-01", "--to", "2030-12-31",
                                   "--no-personal-data", *big.args()),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first.startswith(b'{"reference": "KN-')
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE
    _quiet(stderr)


#: one of each kind of output (every command ends through the same ``cli_exit.run``; a
#: process costs ~1.5 s of imports, so not all of them)
COMMANDS = {
    "audit": ["audit", "{ref}", "--no-personal-data"],
    "audit-json": ["audit", "{ref}", "--json", "--no-personal-data"],
    "replay": ["replay", "all"],
    "report": ["report", "compliance", "--now", "2026-04-01T00:00:00+07:00"],
    "calendar": ["calendar", "2026"],
}


def test_every_command_writing_to_stdout_ends_quietly_on_a_closed_pipe(big: DataDir) -> None:
    """The pipe's reader is gone before the command writes its first byte."""
    running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    for name, argv in COMMANDS.items():
        read, write = os.pipe()
        os.close(read)  # nobody will ever read: the first write fails
        words = [w.format(ref=big.reference) for w in argv]
        if name != "calendar":
            words += big.args()
        proc = subprocess.Popen(_hotro(*words), stdout=write, stderr=subprocess.PIPE,
                                env=_env())
        os.close(write)
        running[name] = (proc, write)
    for name, (proc, _) in running.items():
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == EXIT_BROKEN_PIPE, (name, stderr.decode())
        _quiet(stderr.decode())
