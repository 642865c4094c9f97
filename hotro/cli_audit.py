"""`hotro audit | replay | export | report | erase`: the auditor's commands.

Stores: ``--store service=url`` (repeatable), else ``HOTRO_<SERVICE>_STORE_URL``, else the
``hotro up`` layout ``<data dir>/<service>.sqlite``. NATS (seals, stream, data keys):
``--nats`` or ``HOTRO_NATS_URL``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hotro.settings import ToolSettings

SERVICES = ("intake", "routing", "sla", "notify")


def _common(p: argparse.ArgumentParser, nats: bool = False) -> None:
    p.add_argument("--store", action="append", default=[], metavar="SERVICE=URL",
                   help="store URL of a service (repeatable)")
    tools = ToolSettings()
    p.add_argument("--data-dir", default=tools.data_dir)
    if nats:
        p.add_argument("--nats", default=tools.nats_url,
                       help="NATS URL (seals, event stream, data keys)")


def _stores(args: argparse.Namespace, services: tuple[str, ...] = SERVICES) -> Any:
    from hotro.audit.stores import open_stores, store_urls

    return open_stores(store_urls(args.store, args.data_dir), services=services)


def _credentials(args: argparse.Namespace) -> Any:
    """The operator's NATS credentials (HOTRO_NATS_USER/_PASSWORD_FILE, the URL's, or the
    local system's in --data-dir)."""
    return ToolSettings().nats_credentials(getattr(args, "nats", None),
                                           getattr(args, "data_dir", None))


async def _with_js(url: str, work: Callable[[Any], Any], credentials: Any = None) -> Any:
    from hotro.shared.messaging.credentials import connect

    nc = await connect(url.split(","), credentials, connect_timeout=5)
    try:
        return await work(nc.jetstream(timeout=10))
    finally:
        await nc.close()


def _keyring(args: argparse.Namespace, key_ids: list[str]) -> Any:
    """Data keys for revealing personal data; None (shown sealed) without NATS."""
    url = getattr(args, "nats", None)
    if not url:
        return None
    from hotro.shared.privacy.kv import snapshot

    try:
        return asyncio.run(_with_js(url, lambda js: snapshot(js, key_ids),
                                    _credentials(args)))
    except Exception as exc:
        print(f"warning: data keys unavailable ({exc}); personal data shown sealed",
              file=sys.stderr)
        return None


# ---- audit ------------------------------------------------------------------------------

def _cmd_audit(args: argparse.Namespace) -> int:
    words = list(args.target)
    if words and words[0] == "verify":
        return _verify(args, words[1:])
    if len(words) != 1:
        raise SystemExit("usage: hotro audit REF [--json] [--as-of T] | "
                         "hotro audit verify [REF | --all]")
    from hotro.audit.timeline import (
        parse_instant,
        render_text,
        resolve,
        state_as_of,
        timeline,
    )

    with _stores(args) as stores:
        complaint = resolve(stores, words[0])
        if args.as_of:
            state = state_as_of(stores, complaint.id, parse_instant(args.as_of))
            print(json.dumps(state, ensure_ascii=False, indent=2, default=str))
            return 0
        keyring = _keyring(args, [str(complaint.id)])
        entries = timeline(stores, complaint.id, keyring=keyring)
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
    from hotro.audit.timeline import aggregate_ids, resolve
    from hotro.audit.verify import Report, verify_service

    if not args.nats:
        raise SystemExit("audit verify needs --nats (or HOTRO_NATS_URL): seals and the event "
                         "stream are the anchor outside the databases")
    if not words and not args.all:
        raise SystemExit("audit verify: give a REF or --all")
    with _stores(args) as stores:
        report = Report()

        async def run(js: Any) -> None:
            for svc in SERVICES:
                report.extend(await verify_service(stores[svc], js))

        asyncio.run(_with_js(args.nats, run, _credentials(args)))
        if words:
            complaint = resolve(stores, words[0])
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
            result = replay(stores[svc])
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

def _cmd_export(args: argparse.Namespace) -> int:
    from hotro.audit import export
    from hotro.audit.timeline import resolve

    with _stores(args) as stores:
        if args.ref:
            c = resolve(stores, args.ref)
            complaints = [(c.id, c.reference)]
        elif args.since and args.until:
            complaints = export.complaints_between(stores, date.fromisoformat(args.since),
                                                   date.fromisoformat(args.until))
        else:
            raise SystemExit("export: give REF, or --from and --to (local dates)")
        keyring = _keyring(args, [str(cid) for cid, _ in complaints])
        if args.evidence:
            if len(complaints) != 1:
                raise SystemExit("an evidence pack is for one complaint (give REF)")
            print(export.evidence_pack(stores, complaints[0][0], Path(args.evidence), keyring))
            return 0
        records = export.rows(stores, complaints, keyring)
        if args.format == "csv":
            if not args.out:
                raise SystemExit("CSV needs --out FILE")
            n = export.write_csv(records, Path(args.out))
        elif args.out:
            with Path(args.out).open("w", encoding="utf-8") as f:
                n = export.write_jsonl(records, f)
        else:
            n = export.write_jsonl(records, sys.stdout)
        print(f"{n} events of {len(complaints)} complaint(s)", file=sys.stderr)
    return 0


# ---- reports ----------------------------------------------------------------------------

def _cmd_report(args: argparse.Namespace) -> int:
    from hotro.audit import reports

    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    with _stores(args, ("routing", "sla")) as stores:
        rows = reports.build(stores, args.name, now)
    out = Path(args.out) if args.out else None
    text = reports.write(rows, out, args.format)
    print(text)
    if args.chart:
        if args.name != "compliance":
            raise SystemExit("--chart is for the compliance report")
        chart = Path(args.chart)
        drawn = reports.chart_png(rows, chart) if chart.suffix.lower() == ".png" \
            else reports.chart_svg(rows, chart)
        print(f"chart: {drawn}", file=sys.stderr)
    return 0


# ---- erasure ----------------------------------------------------------------------------

def _cmd_erase(args: argparse.Namespace) -> int:
    from hotro.audit.timeline import resolve
    from hotro.shared.privacy.erasure import erase

    if not args.nats:
        raise SystemExit("erase needs --nats (or HOTRO_NATS_URL): the data keys live there")
    from hotro.audit.stores import StoreMissing
    from hotro.audit.timeline import aggregate_ids

    services: tuple[str, ...] = ("intake", "notify")
    try:
        stores_cm = _stores(args, services)
    except StoreMissing:  # notify's store elsewhere: erase the keys, keep the files
        services = ("intake",)
        stores_cm = _stores(args, services)
    with stores_cm as stores:
        complaint = resolve(stores, args.ref)
        dispatch_ids = ([str(i) for i in aggregate_ids(stores, complaint.id).get("notify", [])
                         [1:]] if "notify" in services else [])
        data_dir = Path(args.data_dir)
        letters = Path(args.letters_dir) if args.letters_dir else data_dir / "letters"
        maildir = Path(args.maildir) if args.maildir else data_dir / "mail"
        attachments = (Path(args.attachments_dir) if args.attachments_dir
                       else data_dir / "attachments")
        result = asyncio.run(_with_js(args.nats, lambda js: erase(
            js, stores["intake"], complaint.id, reason=args.reason, by=args.by,
            dispatch_ids=dispatch_ids, letters_dir=letters, maildir=maildir,
            attachments_dir=attachments), _credentials(args)))
    print(result)
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    """After an erasure: no deleted data key may linger in a store's files."""
    from hotro.audit.stores import store_urls
    from hotro.shared.privacy.pending import compact_store

    urls = store_urls(args.store, args.data_dir)
    services = SERVICES if args.service == "all" else (args.service,)
    for svc in services:
        print(f"{svc}: {compact_store(urls[svc])}")
    return 0


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="timeline of a complaint; `audit verify` for tampering")
    audit.add_argument("target", nargs="+", help="REF | verify [REF]")
    audit.add_argument("--json", action="store_true")
    audit.add_argument("--as-of", help="2026-03-02T14:05[+07:00]: the case and its clocks then")
    audit.add_argument("--all", action="store_true", help="verify: every complaint")
    _common(audit, nats=True)
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
    _common(exp, nats=True)
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
    _common(era, nats=True)
    era.set_defaults(func=_cmd_erase)

    cpt = sub.add_parser("compact", help="after an erasure: compact the stores so no deleted "
                                         "data key lingers in their files (stop the services)")
    cpt.add_argument("service", nargs="?", choices=(*SERVICES, "all"), default="all")
    _common(cpt)
    cpt.set_defaults(func=_cmd_compact)


__all__ = ["register"]
