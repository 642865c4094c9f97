"""`hotro audit | replay | export | report | erase | compact`: the auditor's commands.

Stores: ``--store service=url`` (repeatable), else ``HOTRO_<SERVICE>_STORE_URL``, else the
``hotro up`` layout ``<data dir>/<service>.sqlite``. NATS (seals, stream, data keys):
``--nats``, else ``HOTRO_NATS_URL``, else where the ``hotro up`` of the data directory
recorded its NATS (``<data dir>/system.json``); as the operator (``hotro.cli_nats``).

They tell the truth (docs/audit.md, "The command line"): personal data they cannot open
is never shown as erased — without the data keys ``audit`` and ``export`` refuse (exit 3,
saying what is missing and how to fix it) unless ``--no-personal-data`` asks for output
without it, marked withheld; long work shows progress on a terminal (stderr)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hotro.cli_exit import EXIT_USAGE, ToolError
from hotro.settings import ToolSettings

SERVICES = ("intake", "routing", "sla", "notify")


def _common(p: argparse.ArgumentParser, nats: bool = False, personal: bool = False) -> None:
    p.add_argument("--store", action="append", default=[], metavar="SERVICE=URL",
                   help="store URL of a service (repeatable)")
    tools = ToolSettings()
    p.add_argument("--data-dir", default=tools.data_dir,
                   help="the `hotro up` data directory: its stores, and where its NATS runs "
                        f"(default {tools.data_dir}; HOTRO_DATA_DIR)")
    if nats:
        p.add_argument("--nats", default=None,
                       help="NATS URL (seals, event stream, data keys); default "
                            "HOTRO_NATS_URL, else the one `hotro up` recorded in the data "
                            "directory")
    if personal:
        p.add_argument("--no-personal-data", action="store_true",
                       help="do not open the data keys: print without personal data, "
                            "marked [không hiển thị / withheld]")


@contextmanager
def _stores(args: argparse.Namespace, services: tuple[str, ...] = SERVICES) -> Iterator[Any]:
    from hotro.audit.stores import StoreMissing, open_stores, store_urls

    try:
        urls = store_urls(args.store, args.data_dir)
    except ValueError as exc:
        raise ToolError(str(exc), code=EXIT_USAGE) from None
    try:
        stores = open_stores(urls, services=services)
    except StoreMissing as exc:
        raise ToolError(str(exc), [
            f"is {args.data_dir} the data directory of `hotro up`? give --data-dir DIR "
            "(or HOTRO_DATA_DIR), or each store: --store SERVICE=URL "
            "(or HOTRO_<SERVICE>_STORE_URL)"]) from None
    with stores:
        yield stores


def _resolve(stores: Any, ref: str) -> Any:
    from hotro.audit.timeline import ComplaintNotFound, resolve

    try:
        return resolve(stores, ref)
    except ComplaintNotFound as exc:
        raise ToolError(str(exc), ["give a reference (KN-…, TV-…) or a complaint id held by "
                                   "this system's intake store"], code=EXIT_USAGE) from None


def _progress(streams_to_stdout: bool = False) -> Any:
    """Progress on stderr if it is a terminal — unless the output itself goes to that
    terminal line by line (``hotro export`` without ``--out``): the two would mix."""
    from hotro.cli_progress import Progress, is_terminal

    progress = Progress(sys.stderr)
    if streams_to_stdout and is_terminal(sys.stdout):
        progress.enabled = False
    return progress


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _nats(args: argparse.Namespace) -> Any:
    from hotro.cli_nats import find_nats

    return find_nats(getattr(args, "nats", None), args.data_dir)


_NO_KEYS = "cannot open the data keys"
_NO_KEYS_WHY = ("without them the customer's personal data cannot be shown — it is not "
                "erased, it is unavailable — so nothing was printed")


def _open_keys(args: argparse.Namespace, stores: Any, complaint_ids: list[uuid.UUID]) -> Any:
    """The data keys of these complaints, or a refusal: never "erased" for a key that
    could not be read. ``--no-personal-data``: no key is read; only the erasures intake
    recorded show as erased, everything else as withheld."""
    from hotro.audit import keys
    from hotro.cli_nats import run_js

    erased = [c for c in complaint_ids if keys.erasure_recorded(stores, c)]
    if args.no_personal_data:
        return keys.AuditKeys.withheld([str(c) for c in complaint_ids],
                                       [str(c) for c in erased])
    if len(erased) == len(complaint_ids):  # nothing a key could show: no NATS needed
        return keys.assemble(stores, complaint_ids, {}, erased)
    way_out = ["or print without personal data: add --no-personal-data"]
    try:
        target = _nats(args)
        fetched = run_js(target, lambda js: keys.fetch(js, [str(c) for c in complaint_ids]))
    except ToolError as exc:
        raise ToolError(f"{_NO_KEYS}: {exc.message}", [_NO_KEYS_WHY, *exc.hints, *way_out],
                        code=exc.code) from None
    ring = keys.assemble(stores, complaint_ids, fetched, erased)
    for key_id in ring.resurrected:
        _say(f"warning: the erasure of complaint {key_id} is recorded, but its data key "
             "exists (restored from a backup?): its personal data is shown; erase it again "
             "(`hotro erase`)")
    lost = ring.lost
    if lost:
        _say(f"warning: no data key and no erasure for {len(lost)} complaint(s) "
             f"({', '.join(lost[:3])}{'…' if len(lost) > 3 else ''}): shown as "
             f"{keys.NO_KEY}")
    return ring


def _check_unknown(keyring: Any) -> None:
    """Safety net: a sealed value under a key the run never looked up was shown withheld;
    the output is then incomplete, and the exit code says so."""
    unknown = sorted(getattr(keyring, "unknown", ()) or ())
    if unknown:
        raise ToolError(f"personal data under key(s) not looked up was withheld: "
                        f"{', '.join(unknown[:5])}", ["please report this"], code=3)


# ---- audit ------------------------------------------------------------------------------

def _cmd_audit(args: argparse.Namespace) -> int:
    words = list(args.target)
    if words and words[0] == "verify":
        return _verify(args, words[1:])
    if len(words) != 1:
        raise ToolError("give one REF", ["usage: hotro audit REF [--json] [--as-of T] "
                                         "[--no-personal-data] | hotro audit verify "
                                         "[REF | --all]"], code=EXIT_USAGE)
    from hotro.audit.timeline import parse_instant, render_text, state_as_of, timeline

    with _stores(args) as stores:
        complaint = _resolve(stores, words[0])
        if args.as_of:
            try:
                instant = parse_instant(args.as_of)
            except ValueError as exc:
                raise ToolError(f"--as-of {args.as_of!r}: {exc}", code=EXIT_USAGE) from None
            state = state_as_of(stores, complaint.id, instant)
            print(json.dumps(state, ensure_ascii=False, indent=2, default=str))
            return 0
        keyring = _open_keys(args, stores, [complaint.id])
        entries = timeline(stores, complaint.id, keyring=keyring)
        _check_unknown(keyring)
        if args.json:
            print(json.dumps({"reference": complaint.reference,
                              "complaint_id": str(complaint.id),
                              "events": [e.as_json() for e in entries]},
                             ensure_ascii=False, indent=2))
        else:
            for line in render_text(complaint, entries):
                print(line)
    return 0


def _verify(args: argparse.Namespace, words: list[str]) -> int:
    from hotro.audit.timeline import aggregate_ids
    from hotro.audit.verify import Report, verify_service
    from hotro.cli_nats import run_js

    if not words and not args.all:
        raise ToolError("give a REF or --all", code=EXIT_USAGE)
    try:
        target = _nats(args)
    except ToolError as exc:
        raise exc.with_context("audit verify needs NATS: the seals and the event stream "
                               "are the anchor outside the databases") from None
    with _stores(args) as stores:
        complaint = _resolve(stores, words[0]) if words else None
        report = Report()

        async def run(js: Any) -> None:
            for svc in SERVICES:
                report.extend(await verify_service(stores[svc], js, progress))

        with _progress() as progress:
            run_js(target, run, timeout_s=30)
        if complaint is not None:
            ids = {i for group in aggregate_ids(stores, complaint.id).values() for i in group}
            report = report.only(ids, complaint.id)
    if args.json:
        print(json.dumps({"ok": report.ok, "findings": [f.as_json() for f in report.findings],
                          "info": report.info}, ensure_ascii=False, indent=2))
    else:
        for f in report.findings:
            print(f.line())
        for line in report.info:
            print(f"info: {line}")
        print("verified: no finding" if report.ok else f"{len(report.findings)} finding(s)")
    return 0 if report.ok else 1


# ---- replay -----------------------------------------------------------------------------

def _cmd_replay(args: argparse.Namespace) -> int:
    from hotro.audit.replay import replay

    services = SERVICES if args.service == "all" else (args.service,)
    worst = 0
    with _stores(args, services) as stores:
        for svc in services:
            with _progress() as progress:
                result = replay(stores[svc], progress=progress)
            if args.json:
                print(json.dumps({"service": svc, "model": result.model,
                                  "rows": len(result.rows), "events": result.events_read,
                                  "sha256": result.digest,
                                  "differences": result.differences}, ensure_ascii=False))
            else:
                for line in result.lines():
                    print(line)
            worst = max(worst, 1 if result.differences else 0)
    return worst


# ---- export -----------------------------------------------------------------------------

def _date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{flag} {text!r}: not a date (YYYY-MM-DD)", code=EXIT_USAGE) from None


def _cmd_export(args: argparse.Namespace) -> int:
    from hotro.audit import export

    if args.evidence and not args.ref:
        raise ToolError("an evidence pack is for one complaint (give REF)", code=EXIT_USAGE)
    if args.format == "csv" and not args.out:
        raise ToolError("CSV needs --out FILE", code=EXIT_USAGE)
    if not args.ref and not (args.since and args.until):
        raise ToolError("give REF, or --from and --to (local dates)", code=EXIT_USAGE)
    with _stores(args) as stores:
        if args.ref:
            c = _resolve(stores, args.ref)
            complaints = [(c.id, c.reference)]
        else:
            complaints = export.complaints_between(stores, _date(args.since, "--from"),
                                                   _date(args.until, "--to"))
        keyring = _open_keys(args, stores, [cid for cid, _ in complaints])
        if args.evidence:
            pack = export.evidence_pack(stores, complaints[0][0], Path(args.evidence), keyring)
            _check_unknown(keyring)
            print(pack)
            return 0
        with _progress(streams_to_stdout=not args.out) as progress:
            records = export.rows(stores, complaints, keyring, progress=progress)
            if args.format == "csv":
                n = export.write_csv(records, Path(args.out))
            elif args.out:
                with Path(args.out).open("w", encoding="utf-8") as f:
                    n = export.write_jsonl(records, f)
            else:
                n = export.write_jsonl(records, sys.stdout)
        _check_unknown(keyring)
        withheld = " (personal data withheld)" if args.no_personal_data else ""
        _say(f"{n} events of {len(complaints)} complaint(s){withheld}")
    return 0


# ---- reports ----------------------------------------------------------------------------

def _cmd_report(args: argparse.Namespace) -> int:
    from hotro.audit import reports
    from hotro.audit.progress import counting_reads

    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        raise ToolError(f"--now {args.now!r}: not an ISO instant", code=EXIT_USAGE) from None
    if args.chart and args.name != "compliance":
        raise ToolError("--chart is for the compliance report", code=EXIT_USAGE)
    with _stores(args, ("routing", "sla")) as stores, _progress() as progress, \
            counting_reads(stores["routing"], progress, f"report {args.name}: routing"), \
            counting_reads(stores["sla"], progress, f"report {args.name}: sla"):
        rows = reports.build(stores, args.name, now)
    out = Path(args.out) if args.out else None
    text = reports.write(rows, out, args.format)
    print(text)
    if args.chart:
        chart = Path(args.chart)
        drawn = reports.chart_png(rows, chart) if chart.suffix.lower() == ".png" \
            else reports.chart_svg(rows, chart)
        print(f"chart: {drawn}", file=sys.stderr)
    return 0


# ---- erasure ----------------------------------------------------------------------------

def _cmd_erase(args: argparse.Namespace) -> int:
    from hotro.audit.stores import store_exists, store_urls
    from hotro.audit.timeline import aggregate_ids
    from hotro.cli_nats import run_js
    from hotro.shared.privacy.erasure import erase

    try:
        target = _nats(args)
    except ToolError as exc:
        raise exc.with_context("cannot erase: the data keys live in NATS; nothing was "
                               "erased") from None
    try:
        urls = store_urls(args.store, args.data_dir)
        notify_here, routing_here = (store_exists(urls["notify"]),
                                     store_exists(urls["routing"]))
    except ValueError as exc:
        raise ToolError(str(exc), code=EXIT_USAGE) from None
    # notify's (routing's) store elsewhere: erase the keys, keep its files
    services: tuple[str, ...] = ("intake", *(("notify",) if notify_here else ()),
                                 *(("routing",) if routing_here else ()))
    with _stores(args, services) as stores:
        complaint = _resolve(stores, args.ref)
        dispatch_ids = ([str(i) for i in aggregate_ids(stores, complaint.id).get("notify", [])
                         [1:]] if "notify" in services else [])
        data_dir = Path(args.data_dir)
        letters = Path(args.letters_dir) if args.letters_dir else data_dir / "letters"
        maildir = Path(args.maildir) if args.maildir else data_dir / "mail"
        attachments = (Path(args.attachments_dir) if args.attachments_dir
                       else data_dir / "attachments")
        department_files = None
        if "routing" in services:
            from hotro.services.routing.adapters.attachments import department_files_only_of
            department_files = (
                Path(args.department_files_dir) if args.department_files_dir
                else data_dir / "department-files",
                department_files_only_of(stores["routing"], complaint.id))
        try:
            result = run_js(target, lambda js: erase(
                js, stores["intake"], complaint.id, reason=args.reason, by=args.by,
                dispatch_ids=dispatch_ids, letters_dir=letters, maildir=maildir,
                attachments_dir=attachments, department_files=department_files))
        except ToolError as exc:
            raise exc.with_context(
                f"the erasure of {complaint.reference} did not finish (Request.Erased is not "
                "recorded)", ["run it again once NATS is reachable: erasing again is "
                              "harmless"]) from None
    print(result)
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    """After an erasure: no deleted data key may linger in a store's files."""
    from hotro.audit.stores import store_urls
    from hotro.shared.privacy.pending import compact_store
    from hotro.system_record import RecordUnreadable, read_record

    try:
        record = read_record(args.data_dir)
    except RecordUnreadable:
        record = None
    if record is not None and record.running and record.process_alive() and not args.store:
        raise ToolError(f"the local system in {args.data_dir} is running (`hotro up`, pid "
                        f"{record.pid}): its services hold the stores open, so the old "
                        "pages cannot be removed", ["stop it first (Ctrl-C where it runs), "
                                                    "then run `hotro compact` again"])
    try:
        urls = store_urls(args.store, args.data_dir)
    except ValueError as exc:
        raise ToolError(str(exc), code=EXIT_USAGE) from None
    services = SERVICES if args.service == "all" else (args.service,)
    for svc in services:
        try:
            print(f"{svc}: {compact_store(urls[svc])}")
        except RuntimeError as exc:
            raise ToolError(f"{svc}: {exc}") from None
    return 0


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="timeline of a complaint; `audit verify` for tampering")
    audit.add_argument("target", nargs="+", help="REF | verify [REF]")
    audit.add_argument("--json", action="store_true")
    audit.add_argument("--as-of", help="2026-03-02T14:05[+07:00]: the case and its clocks then")
    audit.add_argument("--all", action="store_true", help="verify: every complaint")
    _common(audit, nats=True, personal=True)
    audit.set_defaults(func=_cmd_audit)

    rep = sub.add_parser("replay", help="rebuild a service's read models and compare")
    rep.add_argument("service", choices=(*SERVICES, "all"))
    rep.add_argument("--json", action="store_true")
    _common(rep)
    rep.set_defaults(func=_cmd_replay)

    exp = sub.add_parser("export", help="JSON Lines / CSV (UTF-8 BOM) / evidence pack PDF")
    exp.add_argument("ref", nargs="?")
    exp.add_argument("--from", dest="since", help="first local date received (YYYY-MM-DD)")
    exp.add_argument("--to", dest="until", help="last local date received (YYYY-MM-DD)")
    exp.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    exp.add_argument("--out")
    exp.add_argument("--evidence", metavar="PDF", help="write the evidence pack of REF")
    _common(exp, nats=True, personal=True)
    exp.set_defaults(func=_cmd_export)

    rpt = sub.add_parser("report", help="compliance | backlog | branches")
    rpt.add_argument("name", choices=("compliance", "backlog", "branches"))
    rpt.add_argument("--format", choices=("csv", "json"), default="csv")
    rpt.add_argument("--out")
    rpt.add_argument("--chart", help="compliance: monthly chart (.svg, or .png)")
    rpt.add_argument("--now", help="reference instant (ISO, with offset); default now")
    _common(rpt)
    rpt.set_defaults(func=_cmd_report)

    era = sub.add_parser("erase", help="erase a customer's personal data (crypto-shredding)")
    era.add_argument("ref")
    era.add_argument("--reason", required=True)
    era.add_argument("--by", default=os.environ.get("USER", "operator"),
                     help="who asked / who does it (recorded)")
    era.add_argument("--letters-dir", help="notify's letters (default <data dir>/letters)")
    era.add_argument("--maildir", help="notify's local Maildir (default <data dir>/mail)")
    era.add_argument("--attachments-dir",
                     help="intake's attachments (default <data dir>/attachments)")
    era.add_argument("--department-files-dir",
                     help="routing's department files (default <data dir>/department-files)")
    _common(era, nats=True)
    era.set_defaults(func=_cmd_erase)

    cpt = sub.add_parser("compact", help="after an erasure: compact the stores so no deleted "
                                         "data key lingers in their files (stop the services)")
    cpt.add_argument("service", nargs="?", choices=(*SERVICES, "all"), default="all")
    _common(cpt)
    cpt.set_defaults(func=_cmd_compact)


__all__ = ["register"]
