"""Keyrings of HMAC secrets and compact signed tokens ``<prefix>.<claims>.<mac>``.

Two token kinds use this: staff assertions (``hs1.``, shared/staff/assertions.py) and
customer capabilities (``cap1.``, shared/staff/capabilities.py), each with its OWN keyring
file. A token is ``<prefix>.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>``; the MAC
covers ``<prefix>.<claims>``, so a token of one kind never verifies as the other even if a
secret were shared by mistake. The claims name the key (``kid``), so keys rotate: the
keyring signs with its current key and verifies with every key it still holds.

Keyring file (TOML, mode 0600, never committed)::

    purpose = "staff-assertion"        # or "customer-capability": a file of the wrong
    current = "2026-05-01.3fa9c2"      # kind is refused
    [[keys]]
    id = "2026-05-01.3fa9c2"
    secret = "…base64url, 32 bytes or more…"
    created = 2026-05-01T09:00:00+07:00
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hotro.shared.files import write_atomically

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class KeyringError(ValueError):
    """A keyring file is unreadable or inconsistent; the message names the file."""


class InvalidToken(Exception):
    """A token was refused. Subclasses say why; callers answer 401 to all of them."""


class MalformedToken(InvalidToken):
    pass


class BadSignature(InvalidToken):
    pass


class UnknownKey(InvalidToken):
    """The token names a key this keyring does not hold (retired, or another keyring's)."""


class TokenExpired(InvalidToken):
    pass


class TokenNotYetValid(InvalidToken):
    pass


@dataclass(frozen=True)
class SigningKey:
    id: str
    secret: bytes = field(repr=False)
    created: datetime | None = None

    def __post_init__(self) -> None:
        if not KEY_ID.fullmatch(self.id):
            raise KeyringError(f"key id {self.id!r}: letters, digits, '.', '_', '-' (1-64)")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise KeyringError(f"key {self.id!r}: a secret needs {MIN_SECRET_BYTES} bytes or "
                               f"more (has {len(self.secret)})")


@dataclass(frozen=True)
class KeyRing:
    """Named secrets of one purpose; ``current`` signs, all of them verify."""

    purpose: str
    current: str
    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        ids = [k.id for k in self.keys]
        if len(set(ids)) != len(ids):
            raise KeyringError(f"{self.purpose} keyring: key ids repeat")
        if self.current not in ids:
            raise KeyringError(f"{self.purpose} keyring: current key {self.current!r} is not "
                               "in the keyring")
        if len({k.secret for k in self.keys}) != len(self.keys):
            raise KeyringError(f"{self.purpose} keyring: two keys share a secret")

    @property
    def signing_key(self) -> SigningKey:
        return self._by_id[self.current]

    def key(self, key_id: str) -> SigningKey | None:
        return self._by_id.get(key_id)

    @property
    def _by_id(self) -> Mapping[str, SigningKey]:
        return {k.id: k for k in self.keys}

    def shares_secret_with(self, other: KeyRing) -> bool:
        return bool({k.secret for k in self.keys} & {k.secret for k in other.keys})


def new_key(now: datetime) -> SigningKey:
    """A fresh 256-bit secret, named by its creation date and a random suffix."""
    return SigningKey(id=f"{now.date().isoformat()}.{secrets.token_hex(3)}",
                      secret=secrets.token_bytes(32), created=now)


def new_keyring(purpose: str, now: datetime) -> KeyRing:
    key = new_key(now)
    return KeyRing(purpose=purpose, current=key.id, keys=(key,))


def rotate(ring: KeyRing, now: datetime, *, keep_previous: int = 1) -> KeyRing:
    """A new current key; the newest ``keep_previous`` earlier keys stay to verify what they
    signed (keep them as long as those tokens live), older ones are dropped."""
    if keep_previous < 0:
        raise ValueError("keep_previous must be >= 0")
    key = new_key(now)
    previous = [ring.signing_key, *(k for k in ring.keys if k.id != ring.current)]
    return KeyRing(purpose=ring.purpose, current=key.id,
                   keys=(key, *previous[:keep_previous]))


def load_keys(path: str | Path, purpose: str) -> KeyRing:
    """Read a keyring file; refuse one of another purpose, bad secrets or a missing key."""
    file = Path(path)
    try:
        mode = file.stat().st_mode
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KeyringError(f"keyring {file}: {exc}") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("keyring %s is readable by other users (mode %o); it should be 0600",
                    file, stat.S_IMODE(mode))
    try:
        if data.get("purpose") != purpose:
            raise KeyringError(f"holds {data.get('purpose')!r} keys, not {purpose!r} keys")
        keys = tuple(_key(entry) for entry in data.get("keys", ()))
        if not keys:
            raise KeyringError("no keys")
        return KeyRing(purpose=purpose, current=str(data.get("current", "")), keys=keys)
    except KeyringError as exc:
        raise KeyringError(f"keyring {file}: {exc}") from None


def _key(entry: Any) -> SigningKey:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) \
            or not isinstance(entry.get("secret"), str):
        raise KeyringError("every [[keys]] entry needs a string id and secret")
    created = entry.get("created")
    if created is not None and not isinstance(created, datetime):
        raise KeyringError(f"key {entry['id']!r}: created must be a date-time")
    try:
        secret = b64decode(entry["secret"])
    except ValueError:
        raise KeyringError(f"key {entry['id']!r}: the secret is not base64url") from None
    return SigningKey(id=entry["id"], secret=secret, created=created)


def render_keys(ring: KeyRing) -> str:
    lines = [f"# Hotro {ring.purpose} keys. Secret: keep this file 0600 and out of version "
             "control.", f"purpose = {json.dumps(ring.purpose)}",
             f"current = {json.dumps(ring.current)}", ""]
    for key in ring.keys:
        lines += ["[[keys]]", f"id = {json.dumps(key.id)}",
                  f"secret = {json.dumps(b64encode(key.secret))}"]
        if key.created is not None:
            lines.append(f"created = {key.created.isoformat()}")
        lines.append("")
    return "\n".join(lines)


def write_keys(path: str | Path, ring: KeyRing) -> Path:
    """Write the keyring whole or not at all, readable by its owner only."""
    file = Path(path)
    write_atomically(file, render_keys(ring).encode("utf-8"))  # mkstemp: created 0600
    file.chmod(0o600)
    load_keys(file, ring.purpose)  # what we wrote must load
    return file


def ensure_keys(path: str | Path, purpose: str, now: datetime) -> KeyRing:
    """The keyring at ``path``; a new one is written if there is no file (``hotro up``)."""
    file = Path(path)
    if file.exists():
        return load_keys(file, purpose)
    ring = new_keyring(purpose, now)
    write_keys(file, ring)
    return ring


# --- compact tokens ---------------------------------------------------------------------


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict base64url without padding: other characters or a non-canonical encoding are
    refused (so one token has exactly one spelling)."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None
    if b64encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def _mac(secret: bytes, signing_input: str) -> bytes:
    return hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()


def sign(prefix: str, claims: Mapping[str, Any], ring: KeyRing) -> str:
    """``<prefix>.<claims>.<mac>`` with the ring's current key (``claims`` gets its kid)."""
    key = ring.signing_key
    body = json.dumps({**claims, "kid": key.id}, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=True)
    signing_input = f"{prefix}.{b64encode(body.encode('ascii'))}"
    return f"{signing_input}.{b64encode(_mac(key.secret, signing_input))}"


def open_token(prefix: str, token: str, ring: KeyRing, *, max_length: int) -> dict[str, Any]:
    """The claims of a token whose MAC verifies under the key it names; else InvalidToken.
    Nothing in the claims is trusted before the MAC is checked, except the key id used to
    find the key."""
    if len(token) > max_length:
        raise MalformedToken("token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise MalformedToken(f"not a {prefix} token")
    try:
        body = b64decode(parts[1])
        mac = b64decode(parts[2])
        claims = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError):
        raise MalformedToken("undecodable token") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("kid"), str):
        raise MalformedToken("the claims name no key")
    key = ring.key(claims["kid"])
    if key is None:
        raise UnknownKey(f"unknown key {claims['kid']!r}")
    expected = _mac(key.secret, f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(expected, mac):
        raise BadSignature("bad signature")
    return claims


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"claim {name!r} repeats")
        result[name] = value
    return result
