from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hotro.cli_calendar import register


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hotro")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_deadline_prints_last_day_then_end_instant_then_explanation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _run(["deadline", "--from", "2026-02-13", "--working-days", "10"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == "2026-03-06"
    assert lines[1] == "2026-03-07T00:00:00+07:00"
    assert any("Civil Code 2015 art. 147" in line for line in lines[2:])


def test_deadline_takes_working_days_from_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(["deadline", "--from", "2026-02-13", "--kind", "filing"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[:2] == ["2026-03-03", "2026-03-04T00:00:00+07:00"]
    assert "filing: 7 working days" in lines[2]


def test_deadline_with_product_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "\n".join(
            [
                f'[defaults.{k}]\nworking_days = 5\nbasis = "b"'
                for k in ("filing", "reply", "first_contact", "department", "customer_info")
            ]
            + ['[[overrides]]\nproduct = "P1"\nkind = "reply"\nworking_days = 15\nbasis = "terms"']
        ),
        encoding="utf-8",
    )

    code = _run(
        [
            "deadline",
            "--from",
            "2026-02-13",
            "--kind",
            "reply",
            "--product",
            "P1",
            "--policy",
            str(policy),
        ]
    )

    # Mon 23/2–Fri 27/2 (1–5), 2–6/3 (6–10), 9–13/3 (11–15).
    assert code == 0
    assert capsys.readouterr().out.splitlines()[0] == "2026-03-13"


def test_deadline_accepts_an_aware_datetime(capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(["deadline", "--from", "2026-02-13T17:30:00+00:00", "--working-days", "1"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("2026-02-23\n")
    assert "Event on Saturday 2026-02-14" in out


def test_deadline_needs_a_count_or_a_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["deadline", "--from", "2026-02-13"]) == 2
    assert "give --working-days or --kind" in capsys.readouterr().err


def test_deadline_reports_errors_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["deadline", "--from", "2026-02-13T09:00:00", "--working-days", "1"]) == 2
    assert "naive datetime" in capsys.readouterr().err


def test_calendar_lists_days_off_and_working_weekends_with_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _run(["calendar", "2026"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == "Calendar vn-2026.2 — 2026"
    assert "2026-01-02 Fri swapped_off" in out
    assert "2026-01-10 Sat working_weekend" in out
    assert "Công văn 12729/VPCP-KGVX" in out
    assert "2026-11-24" not in out


def test_calendar_for_an_uncovered_year_warns(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["calendar", "2027"]) == 0
    assert "not covered by an official schedule" in capsys.readouterr().out
