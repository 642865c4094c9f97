"""``hotro deadline``, ``hotro calendar`` and ``hotro calendar-versions``: the working-day
calendar from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TextIO

from hotro.shared.calendar import (
    CalendarError,
    DeadlineKind,
    load_calendar,
    load_policy,
)
from hotro.shared.calendar.fingerprints import (
    compare,
    current_fingerprints,
    describe,
    read_recorded,
    write_recorded,
)

_KINDS = [kind.value for kind in DeadlineKind]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deadline = subparsers.add_parser(
        "deadline",
        help="deadline N working days after an event",
        description="Prints the last day (ISO date) on the first line, the instant the period "
        "ends (24:00 local, ISO with offset) on the second, then the explanation.",
    )
    deadline.add_argument(
        "--from", dest="event", required=True, type=_event, help="event date or aware datetime"
    )
    deadline.add_argument("--working-days", type=int, help="default: from the policy for --kind")
    deadline.add_argument("--kind", choices=_KINDS, help="deadline kind in the policy")
    deadline.add_argument("--product", help="product code (policy override)")
    deadline.add_argument("--category", help="category code (policy override)")
    deadline.add_argument("--policy", help="deadline policy TOML (default: packaged policy)")
    deadline.add_argument("--calendar-version", help="default: newest official version")
    deadline.set_defaults(func=run_deadline)

    calendar = subparsers.add_parser(
        "calendar", help="list a year's days off and working weekend days with sources"
    )
    calendar.add_argument("year", type=int)
    calendar.add_argument("--calendar-version", help="default: newest official version")
    calendar.set_defaults(func=run_calendar)

    versions = subparsers.add_parser(
        "calendar-versions",
        help="check (or --write) that no released calendar version's schedule changed",
        description="Compares each calendar version's schedule with the fingerprint recorded "
        "when it was released (shared/calendar/data/fingerprints.json). --write records new "
        "versions and never rewrites a recorded one.",
    )
    versions.add_argument("--write", action="store_true")
    versions.set_defaults(func=run_calendar_versions)


def run_deadline(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        if args.working_days is None:
            if args.kind is None:
                print("error: give --working-days or --kind", file=sys.stderr)
                return 2
            n, rule = load_policy(args.policy).resolve_working_days(
                args.kind, args.product, args.category
            )
        else:
            n, rule = args.working_days, f"{args.working_days} working days (--working-days)"
        result = load_calendar(args.calendar_version).add_working_days(args.event, n)
    except (CalendarError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.last_day.isoformat(), file=out)
    print(result.ends_at.isoformat(), file=out)
    print(f"Rule: {rule}", file=out)
    print(result.explain(), file=out)
    return 0


def run_calendar(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        calendar = load_calendar(args.calendar_version)
        days = calendar.special_days(args.year)
    except CalendarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Calendar {calendar.version} — {args.year}", file=out)
    if not calendar.covers(dt.date(args.year, 1, 1)):
        print("WARNING: not covered by an official schedule; provisional: the holidays of "
              "Labour Code art. 112, Tết and Giỗ Tổ from the lunar calendar, no swaps",
              file=out)
    for day in days:
        link = f" <{day.source_url}>" if day.source_url else ""
        print(
            f"{day.date.isoformat()} {day.date:%a} {day.kind:<15} {day.name_vi} / {day.name_en}"
            f" — {day.source}{link}",
            file=out,
        )
    return 0


def run_calendar_versions(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    recorded, current = read_recorded(), current_fingerprints()
    if args.write:
        try:
            found = write_recorded(recorded, current)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for version in found.unrecorded:
            print(f"recorded {version}", file=out)
        return 0
    found = compare(recorded, current)
    if found.changed or found.removed or found.unrecorded:
        print(describe(found), file=sys.stderr)
        return 1
    print(f"{len(current)} calendar versions, each as released", file=out)
    return 0


def _event(text: str) -> dt.date | dt.datetime:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotro")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
