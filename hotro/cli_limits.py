"""``hotro limits show|lift KEY``: what the shared limits hold for a client address or a
staff user id, and lifting them before their window ends.

The limits on strangers are counted in NATS KV (``hotro_limits``), so restarting a service
no longer clears them: an office whose staff file requests through one NAT address, or a
colleague locked out of the console by mistyped passwords, is let back in here (as the
operator user). Contacts and email senders are counted by keyed hashes of their address
and are not looked up by this tool: their window (an hour by default) has to pass.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from hotro.settings import ToolSettings
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.runtime.shared_window import LIMITS_BUCKET, decode_stamps, stored_key

#: window -> (the service that counts it, what it counts)
WINDOWS: dict[str, tuple[str, str]] = {
    "address": ("intake", "requests filed without a staff token from a client address"),
    "attempts": ("console", "sign-in attempts from a client address"),
    "failures": ("console", "failed sign-ins of a staff user id"),
}


def counted_key(window: str, key: str) -> str:
    """The key as the service counts it (user ids as the console does)."""
    from hotro.services.console.security import SignInThrottle

    return SignInThrottle.user_key(key.strip()) if window == "failures" else key.strip()


async def read_counted(js: Any, window: str, key: str) -> list[float]:
    """The times ``window`` counted for ``key`` (epoch seconds, oldest first)."""
    kv = await js.key_value(LIMITS_BUCKET)
    return await _counted(kv, window, key)


async def lift(js: Any, window: str, key: str) -> list[float]:
    """Forget what the window counted for ``key``; what it held."""
    kv = await js.key_value(LIMITS_BUCKET)
    held = await _counted(kv, window, key)
    await kv.purge(_stored(window, key))
    return held


def _stored(window: str, key: str) -> str:
    service, _ = WINDOWS[window]
    return stored_key(service, window, counted_key(window, key))


async def _counted(kv: Any, window: str, key: str) -> list[float]:
    from nats.js.errors import KeyNotFoundError

    try:
        entry = await kv.get(_stored(window, key))
    except KeyNotFoundError:
        return []
    return decode_stamps(entry.value)


def _times(stamps: list[float]) -> str:
    return ", ".join(datetime.fromtimestamp(s, UTC).astimezone(VIETNAM_TZ)
                     .strftime("%d/%m/%Y %H:%M:%S") for s in stamps) or "nothing"


def _cmd_limits(args: argparse.Namespace) -> int:
    from hotro.cli_nats import find_nats, run_js

    target = find_nats(args.nats, args.data_dir)
    service, what = WINDOWS[args.window]
    if args.action == "show":
        held = run_js(target, lambda js: read_counted(js, args.window, args.key))
        print(f"{service} {args.window} ({what}) for {args.key!r}: {len(held)} counted "
              f"— {_times(held)} (Vietnam time; the service's window and limit decide)")
    else:
        held = run_js(target, lambda js: lift(js, args.window, args.key))
        print(f"{service} {args.window} for {args.key!r}: lifted ({len(held)} counted "
              f"event(s) forgotten: {_times(held)})")
    return 0


def register(sub: Any) -> None:
    tools = ToolSettings()
    limits = sub.add_parser(
        "limits", help="show or lift a limit on a client address or a staff user id",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    limits.add_argument("action", choices=("show", "lift"))
    limits.add_argument("key", help="a client address (address, attempts) or a staff user "
                                    "id (failures)")
    limits.add_argument("--window", choices=tuple(WINDOWS), default="address",
                        help="; ".join(f"{w}: {s}, {what}" for w, (s, what) in
                                       WINDOWS.items()))
    limits.add_argument("--data-dir", default=tools.data_dir,
                        help=f"the `hotro up` data directory (default {tools.data_dir})")
    limits.add_argument("--nats", default=None,
                        help="NATS URL; default HOTRO_NATS_URL, else the one `hotro up` "
                             "recorded in the data directory")
    limits.set_defaults(func=_cmd_limits)
