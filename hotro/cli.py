"""`hotro`: the single command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hotro import cli_audit, cli_calendar, cli_exit, cli_limits, cli_users
from hotro.settings import ToolSettings


def _cmd_up(args: argparse.Namespace) -> int:
    from hotro.up import run_up

    return asyncio.run(run_up(Path(args.data_dir), cluster=args.cluster))


def _cmd_provision(args: argparse.Namespace) -> int:
    from hotro.provisioning import provision_all

    credentials = ToolSettings().nats_credentials(args.nats, args.data_dir)
    done = asyncio.run(provision_all(args.nats, partitions=args.partitions,
                                     lease_ttl_s=args.lease_ttl, replicas=args.replicas,
                                     credentials=credentials))
    print("\n".join(done))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from hotro.serve import serve

    serve(args.service, args.port, args.fd)
    return 0


def _cmd_contracts(args: argparse.Namespace) -> int:
    from hotro.shared.contracts.snapshots import (
        SCHEMA_DIR,
        current_schemas,
        render,
        write_snapshots,
    )

    if args.write:
        print("\n".join(write_snapshots()))
        return 0
    changed = [name for name, schema in current_schemas().items()
               if not (SCHEMA_DIR / name).exists()
               or (SCHEMA_DIR / name).read_text(encoding="utf-8") != render(schema)]
    print("\n".join(f"changed: {n}" for n in changed) or "contracts match their snapshots")
    return 1 if changed else 0


def _cmd_gateway(args: argparse.Namespace) -> int:
    import uvicorn

    from hotro.gateway import build_gateway

    upstreams = dict(item.split("=", 1) for item in args.upstreams.split(",") if item)
    missing = {"intake", "routing", "sla", "notify"} - upstreams.keys()
    if missing:
        raise SystemExit(f"gateway: no upstream for {', '.join(sorted(missing))}")
    tools = ToolSettings()
    gateway = build_gateway(upstreams, tools.gateway_limits())
    # the gateway is the edge: it never trusts a client's X-Forwarded-For
    uvicorn.run(gateway, host=args.host, port=args.port, log_level="warning",
                proxy_headers=False, **tools.gateway_server_options())
    return 0


def _cmd_asyncapi(args: argparse.Namespace) -> int:
    from hotro.asyncapi import render_asyncapi
    from hotro.serve import SERVICES

    out = Path(args.dir)
    stale = []
    for service in SERVICES:
        path = out / f"{service}.yaml"
        text = render_asyncapi(service)
        if args.write:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(path)
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path))
    if stale:
        print("out of date (run `hotro asyncapi --write`): " + ", ".join(stale))
        return 1
    return 0


def _cmd_nats_permissions(args: argparse.Namespace) -> int:
    from hotro.nats_permissions import SHIPPED_FILE, render

    text = render(args.partitions)
    path = Path(args.out) if args.out else SHIPPED_FILE
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(path)
        return 0
    if args.out is None and not args.check:
        print(text, end="")
        return 0
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        print(f"out of date (run `hotro nats-permissions --write`): {path}")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    tools = ToolSettings()
    parser = argparse.ArgumentParser(prog="hotro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole system locally")
    up.add_argument("--data-dir", default=tools.data_dir)
    up.add_argument("--cluster", action="store_true",
                    help="three nats-servers as one JetStream cluster (R3 streams and buckets)")
    up.set_defaults(func=_cmd_up)

    prov = sub.add_parser("provision", help="create/update streams, consumers, lease bucket")
    prov.add_argument("--nats", default=tools.nats_url or "nats://127.0.0.1:4222")
    prov.add_argument("--partitions", type=int, default=tools.partitions)
    prov.add_argument("--lease-ttl", type=float,
                      default=tools.lease_ttl_s)
    prov.add_argument("--replicas", type=int, default=1, help="stream replicas (3 in a cluster)")
    prov.add_argument("--data-dir", default=tools.data_dir,
                      help="a `hotro up` system: its operator password is taken from here "
                           "unless HOTRO_NATS_USER/HOTRO_NATS_PASSWORD_FILE say otherwise")
    prov.set_defaults(func=_cmd_provision)

    srv = sub.add_parser("serve", help="run one service process")
    srv.add_argument("service", choices=("intake", "routing", "sla", "notify", "console"))
    # default: HOTRO_HTTP_PORT, read by the service's own Settings
    srv.add_argument("--port", type=int, default=None)
    srv.add_argument("--fd", type=int, default=None,
                     help="serve on this inherited listening socket (what `hotro up` does)")
    srv.set_defaults(func=_cmd_serve)

    gw = sub.add_parser("gateway", help="one HTTP address in front of the four services")
    gw.add_argument("--host", default="127.0.0.1")
    gw.add_argument("--port", type=int, default=8080)
    gw.add_argument("--upstreams", default=tools.gateway_upstreams,
                    help="intake=http://…,routing=http://…,sla=http://…,notify=http://…")
    gw.set_defaults(func=_cmd_gateway)

    api = sub.add_parser("asyncapi", help="check (or --write) docs/asyncapi/<service>.yaml")
    api.add_argument("--write", action="store_true")
    api.add_argument("--dir", default="docs/asyncapi")
    api.set_defaults(func=_cmd_asyncapi)

    perms = sub.add_parser("nats-permissions",
                           help="print, check (--check) or --write deploy/nats/permissions.conf")
    perms.add_argument("--write", action="store_true")
    perms.add_argument("--check", action="store_true")
    perms.add_argument("--partitions", type=int, default=tools.partitions)
    perms.add_argument("--out", help="another file than deploy/nats/permissions.conf")
    perms.set_defaults(func=_cmd_nats_permissions)

    con = sub.add_parser("contracts", help="check (or --write) the contract JSON schemas")
    con.add_argument("--write", action="store_true")
    con.set_defaults(func=_cmd_contracts)

    cli_calendar.register(sub)
    cli_audit.register(sub)
    cli_users.register(sub)
    cli_limits.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Every command ends with an exit code, never with a traceback for a refusal, Ctrl-C or
    a reader that went away (``hotro export … | head``: exit 141); see ``hotro.cli_exit``."""
    args = build_parser().parse_args(argv)
    return cli_exit.run(args.command, lambda: int(args.func(args) or 0))


if __name__ == "__main__":
    sys.exit(main())
