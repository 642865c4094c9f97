"""``hotro limits show|lift KEY``: what the shared limits hold for a client address, a
staff user id, a customer's email address or phone number or an email sender, and lifting
them before their window ends.

The limits on strangers are counted in NATS KV (``hotro_limits``), so restarting a service
no longer clears them: an office whose staff file requests through one NAT address, a
colleague locked out of the console by mistyped passwords, or a customer who filed the
public form too often, is let back in here (as the operator user). Contacts and email
senders are counted by keyed hashes of their address: the tool makes the same hash with
intake's HOTRO_PII_HASH_SECRET (else the one ``hotro up`` keeps in its data directory).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotro.settings import ToolSettings
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.runtime.shared_window import LIMITS_BUCKET, decode_stamps, stored_key

#: window -> (the service that counts it, what it counts)
WINDOWS: dict[str, tuple[str, str]] = {
    "address": ("intake", "requests filed without a staff token from a client address"),
    "attempts": ("console", "sign-in attempts from a client address"),
    "failures": ("console", "failed sign-ins of a staff user id"),
    "contact": ("intake", "requests through the public form naming an email address or "
                          "phone number"),
    "sender": ("intake", "new requests by email from a sender address"),
    "unverified": ("intake", "the same, from a sender address whose DMARC check failed"),
    "unverified_all": ("intake", "the same, all such senders together (the key: all)"),
}
#: windows that count a keyed hash of personal data, not the key itself
HASHED = frozenset({"contact", "sender", "unverified"})


class KeyNotCounted(ValueError):
    """The key given cannot be what the window counts (not an email address or phone
    number), or the secret of the keyed hashes is missing."""


def counted_key(window: str, key: str, hash_secret: bytes | None = None) -> str:
    """The key as the service counts it: user ids as the console does, contacts and
    senders as intake's keyed hashes (phone numbers in E.164, as the form keeps them)."""
    from hotro.services.console.security import SignInThrottle
    from hotro.services.intake.adapters.hotline_webhook import normalise_phone
    from hotro.shared.privacy.sealing import keyed_hash

    key = key.strip()
    if window == "failures":
        return SignInThrottle.user_key(key)
    if window not in HASHED:
        return key
    if hash_secret is None:
        raise KeyNotCounted("contacts and senders are counted by keyed hashes: set "
                            "HOTRO_PII_HASH_SECRET to intake's")
    if "@" in key:
        return keyed_hash(hash_secret, f"email:{key}")
    phone = normalise_phone(key) if window == "contact" else None
    if phone is None:
        raise KeyNotCounted(f"{key!r} is not an email address"
                            + (" or a valid phone number" if window == "contact" else ""))
    return keyed_hash(hash_secret, f"phone:{phone}")


async def read_counted(js: Any, window: str, key: str) -> list[float]:
    """The times ``window`` counted for ``key`` (epoch seconds, oldest first): ``key``
    as the service counts it (``counted_key``)."""
    kv = await js.key_value(LIMITS_BUCKET)
    return await _counted(kv, window, key)


async def lift(js: Any, window: str, key: str) -> list[float]:
    """Forget what the window counted for ``key`` (as counted); what it held."""
    kv = await js.key_value(LIMITS_BUCKET)
    held = await _counted(kv, window, key)
    await kv.purge(_stored(window, key))
    return held


def _stored(window: str, key: str) -> str:
    service, _ = WINDOWS[window]
    return stored_key(service, window, key)


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


def _hash_secret(data_dir: str) -> bytes | None:
    """Intake's HOTRO_PII_HASH_SECRET, else the one ``hotro up`` keeps in ``data_dir``."""
    from hotro.shared.privacy.secrets import ENV_VAR, SECRET_FILE

    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        path = Path(data_dir) / SECRET_FILE
        value = path.read_text(encoding="ascii").strip() if path.is_file() else ""
    return value.encode() if value else None


def _cmd_limits(args: argparse.Namespace) -> int:
    from hotro.cli_nats import find_nats, run_js

    try:
        key = counted_key(args.window, args.key, _hash_secret(args.data_dir))
    except KeyNotCounted as exc:
        print(f"hotro limits: {exc}", file=sys.stderr)
        return 2
    target = find_nats(args.nats, args.data_dir)
    service, what = WINDOWS[args.window]
    if args.action == "show":
        held = run_js(target, lambda js: read_counted(js, args.window, key))
        print(f"{service} {args.window} ({what}) for {args.key!r}: {len(held)} counted "
              f"— {_times(held)} (Vietnam time; the service's window and limit decide)")
    else:
        held = run_js(target, lambda js: lift(js, args.window, key))
        print(f"{service} {args.window} for {args.key!r}: lifted ({len(held)} counted "
              f"event(s) forgotten: {_times(held)})")
    return 0


def register(sub: Any) -> None:
    tools = ToolSettings()
    limits = sub.add_parser(
        "limits", help="show or lift a limit on a client address, a staff user id, a "
                       "contact or an email sender",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    limits.add_argument("action", choices=("show", "lift"))
    limits.add_argument("key", help="a client address (address, attempts), a staff user "
                                    "id (failures), an email address or phone number "
                                    "(contact) or an email address (sender, unverified)")
    limits.add_argument("--window", choices=tuple(WINDOWS), default="address",
                        help="; ".join(f"{w}: {s}, {what}" for w, (s, what) in
                                       WINDOWS.items()))
    limits.add_argument("--data-dir", default=tools.data_dir,
                        help=f"the `hotro up` data directory (default {tools.data_dir})")
    limits.add_argument("--nats", default=None,
                        help="NATS URL; default HOTRO_NATS_URL, else the one `hotro up` "
                             "recorded in the data directory")
    limits.set_defaults(func=_cmd_limits)
