"""How a command ends: refusals and interrupts as exit codes and messages, not tracebacks."""

from __future__ import annotations

import pytest

from hotro.cli_exit import EXIT_INTERRUPTED, EXIT_UNAVAILABLE, ToolError, run


def test_a_refusal_prints_its_reason_and_its_fixes(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> int:
        raise ToolError("cannot open the data keys: NATS is away",
                        ["start it: `hotro up`", "or add --no-personal-data"])

    assert run("audit", body) == EXIT_UNAVAILABLE
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("hotro audit: cannot open the data keys: NATS is away\n"
                   "  start it: `hotro up`\n  or add --no-personal-data\n")


def test_context_keeps_the_cause_and_adds_fixes() -> None:
    inner = ToolError("cannot reach NATS at nats://x (from --nats)", ["check it"], code=3)
    outer = inner.with_context("cannot erase", ["nothing was erased"])
    assert outer.message == "cannot erase: cannot reach NATS at nats://x (from --nats)"
    assert outer.hints == ["check it", "nothing was erased"] and outer.code == 3


def test_ctrl_c_is_an_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> int:
        raise KeyboardInterrupt

    assert run("export", body) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "hotro export: interrupted\n"


def test_a_bug_still_shows_its_traceback() -> None:
    def body() -> int:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        run("audit", body)
