"""Staff users: roles, departments, passwords and API tokens, from one TOML file.

The users file (settings ``users_file``, the same file for every service)::

    [[users]]
    id = "nv.lan"
    name = "Nguyễn Thị Lan"
    role = "support"        # agent | support | department | supervisor | auditor | operator
    email = "lan@vhv.vn"    # optional
    password_hash = "$argon2id$v=19$m=19456,t=2,p=1$…"   # people: `hotro users passwd`
    token = "…at least 16 characters…"                   # machines: `hotro users token`
    token_expires = 2026-12-31          # optional: a date (valid through that day, Vietnam
                                        # time) or a date-time with its offset
    disabled = false                    # optional
    # department = "giao-van"           # only, and always, for role "department"

Every user has a password hash, a token, or both. Tokens are bearer secrets kept in this
file as they are (the file is 0600); in memory only a SHA-256 digest of each is used for
look-ups. ``hotro users`` edits the file (atomically, never printing hashes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import stat
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hotro.shared.clock import VIETNAM_TZ, Clock, system_clock
from hotro.shared.files import write_atomically
from hotro.shared.staff.passwords import Passwords, default_passwords, is_argon2id_phc
from hotro.shared.staff.roles import Role

log = logging.getLogger(__name__)

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
#: printable ASCII without spaces: what an Authorization header carries safely
TOKEN = re.compile(r"[\x21-\x7e]{16,512}")
#: bearer prefixes of signed tokens: an API token must never look like one of them
RESERVED_TOKEN_PREFIXES = ("hs1.", "cap1.")


class StaffUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    department: str | None = None
    email: EmailStr | None = None
    password_hash: str | None = Field(None, repr=False)
    token: str | None = Field(None, min_length=16, repr=False)
    token_expires: date | datetime | None = None
    disabled: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not USER_ID.fullmatch(value):
            raise ValueError("letters, digits and . _ @ - only, starting with a letter or digit")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not TOKEN.fullmatch(value):
            raise ValueError("16-512 printable ASCII characters, no spaces")
        if value.startswith(RESERVED_TOKEN_PREFIXES):
            raise ValueError("an API token cannot start with hs1. or cap1.")
        return value

    @field_validator("password_hash")
    @classmethod
    def _password_hash(cls, value: str | None) -> str | None:
        if value is not None and not is_argon2id_phc(value):
            raise ValueError("an argon2id PHC string ($argon2id$…) is required")
        return value

    @field_validator("token_expires")
    @classmethod
    def _aware(cls, value: date | datetime | None) -> date | datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("a date-time needs its offset (…+07:00)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StaffUser:
        if self.role is Role.DEPARTMENT and not self.department:
            raise ValueError("a department member needs a department")
        if self.role is not Role.DEPARTMENT and self.department:
            raise ValueError(f"role {self.role.value!r} takes no department")
        if self.password_hash is None and self.token is None:
            raise ValueError("a user needs a password_hash, a token, or both")
        if self.token_expires is not None and self.token is None:
            raise ValueError("token_expires without a token")
        return self

    @property
    def token_expires_at(self) -> datetime | None:
        """The instant the token stops working (a date: the end of that day, Vietnam)."""
        expires = self.token_expires
        if expires is None or isinstance(expires, datetime):
            return expires
        return datetime.combine(expires + timedelta(days=1), dt_time(), VIETNAM_TZ)

    def token_valid_at(self, now: datetime) -> bool:
        expires = self.token_expires_at
        return self.token is not None and (expires is None or now < expires)


class UsersFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    users: tuple[StaffUser, ...]

    @model_validator(mode="after")
    def _unique(self) -> UsersFile:
        ids = [u.id for u in self.users]
        if len(set(ids)) != len(ids):
            raise ValueError(f"user ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        tokens = [u.token for u in self.users if u.token is not None]
        if len(set(tokens)) != len(tokens):
            raise ValueError("two users share a token")
        return self


@dataclass(frozen=True)
class PasswordCheck:
    user: StaffUser
    #: the hash was made with other parameters: store a new hash of this password
    needs_rehash: bool


class Directory:
    """The staff users, looked up by API token or checked by password."""

    def __init__(self, users: Iterable[StaffUser], *, clock: Clock = system_clock,
                 passwords: Passwords | None = None) -> None:
        self.users = tuple(users)
        self.clock = clock
        self.passwords = passwords or default_passwords()
        self._by_id = {u.id: u for u in self.users}
        self._by_digest = {_digest(u.token): u for u in self.users if u.token is not None}

    def get(self, user_id: str) -> StaffUser | None:
        """The user with this id, disabled or not."""
        return self._by_id.get(user_id)

    def active(self, user_id: str) -> StaffUser | None:
        """The user with this id if enabled, else None."""
        user = self._by_id.get(user_id)
        return None if user is None or user.disabled else user

    def authenticate(self, token: str) -> StaffUser | None:
        """The enabled user whose unexpired API token this is, else None."""
        # A dict lookup on a digest: the timing reveals nothing about the tokens.
        user = self._by_digest.get(_digest(token))
        if user is None or user.disabled or not user.token_valid_at(self.clock()):
            return None
        return user

    def check_password(self, user_id: str, password: str) -> PasswordCheck | None:
        """The enabled user if ``password`` is theirs, with whether to rehash; else None.
        Unknown users, users without a password and disabled users cost one argon2
        verification too, so the time taken does not tell which ids exist."""
        user = self._by_id.get(user_id)
        if user is None or user.password_hash is None:
            self.passwords.verify_dummy(password)
            return None
        if not self.passwords.verify(user.password_hash, password) or user.disabled:
            return None
        return PasswordCheck(user, self.passwords.needs_rehash(user.password_hash))

    def verify_password(self, user_id: str, password: str) -> StaffUser | None:
        check = self.check_password(user_id, password)
        return None if check is None else check.user

    def check_departments(self, known: frozenset[str]) -> None:
        for user in self.users:
            if user.department is not None and user.department not in known:
                raise UsersFileError(f"user '{user.id}': unknown department '{user.department}'")


class UsersFileError(ValueError):
    """The users file is unreadable or inconsistent; the message names the entry."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: 'field.path: message'."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'entry'}: {problem['msg']}"
        for problem in error.errors())


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def read_users(path: str | Path) -> tuple[StaffUser, ...]:
    """The users of a users file; UsersFileError naming the file and entry otherwise."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"users file {path}: {exc}") from None
    return parse_users(data, str(path))


def parse_users(data: dict[str, Any], source: str) -> tuple[StaffUser, ...]:
    try:
        return UsersFile.model_validate(data).users
    except ValidationError as exc:
        raise UsersFileError(f"users file {source}: {describe_validation_error(exc)}") from None


def load_directory(path: str | None, *, clock: Clock = system_clock,
                   passwords: Passwords | None = None) -> Directory:
    if path is None:
        return Directory((), clock=clock, passwords=passwords)
    return Directory(read_users(path), clock=clock, passwords=passwords)


class DirectoryFile:
    """The directory of a users file, reloaded when the file changes (checked at most every
    ``check_interval_s``), so a user disabled or demoted with ``hotro users`` loses their
    rights without a restart. A file that no longer loads keeps the last good directory
    (and logs an error each time it is seen): editing the file by hand must not lock every
    service out."""

    def __init__(self, path: str | Path, *, check_interval_s: float = 2.0,
                 clock: Clock = system_clock, passwords: Passwords | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._passwords = passwords
        self._monotonic = monotonic
        self._stamp = self._file_stamp()
        self._directory = load_directory(str(self.path), clock=clock, passwords=passwords)
        self._checked = monotonic()

    def __call__(self) -> Directory:
        now = self._monotonic()
        if now - self._checked >= self.check_interval_s:
            self._checked = now
            stamp = self._file_stamp()
            if stamp != self._stamp:
                try:
                    self._directory = load_directory(str(self.path), clock=self._clock,
                                                     passwords=self._passwords)
                    self._stamp = stamp
                    log.info("users file %s reloaded (%d users)", self.path,
                             len(self._directory.users))
                except UsersFileError as exc:
                    log.error("users file changed but does not load; keeping the previous "
                              "users: %s", exc)
        return self._directory

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)


# --- writing the users file ---------------------------------------------------------------


def render_users(users: Iterable[StaffUser], header: str = "") -> str:
    """The TOML of a users file (strings as JSON, which TOML basic strings accept)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines.append("# Staff users. Tokens and password hashes are secrets: keep this file 0600.")
    lines.append("")
    for user in users:
        lines += ["[[users]]", f"id = {_str(user.id)}", f"name = {_str(user.name)}",
                  f"role = {_str(user.role.value)}"]
        if user.department is not None:
            lines.append(f"department = {_str(user.department)}")
        if user.email is not None:
            lines.append(f"email = {_str(user.email)}")
        if user.password_hash is not None:
            lines.append(f"password_hash = {_str(user.password_hash)}")
        if user.token is not None:
            lines.append(f"token = {_str(user.token)}")
        if user.token_expires is not None:
            lines.append(f"token_expires = {user.token_expires.isoformat()}")
        if user.disabled:
            lines.append("disabled = true")
        lines.append("")
    return "\n".join(lines)


def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_users(path: str | Path, users: Iterable[StaffUser], header: str = "") -> Path:
    """Replace the users file whole (a reader never sees half of it), keeping its mode (new
    files: 0600); what is written is validated first and must load back."""
    target = Path(path)
    users = tuple(users)
    UsersFile(users=users)  # refuse what would not load, before touching the file
    text = render_users(users, header)
    parse_users(tomllib.loads(text), str(target))
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    write_atomically(target, text.encode("utf-8"))  # mkstemp: created 0600
    if mode is not None and mode != 0o600:
        target.chmod(mode)
    return target


@contextlib.contextmanager
def locked_users_file(path: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock (``<file>.lock``) while reading, changing and writing the
    users file, so two concurrent edits cannot lose one another."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(target.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield target
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def new_token() -> str:
    """A random API token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


# --- demo users (`hotro up`) ------------------------------------------------------------


#: The demo users of the local run: every role, two departments and an operator. The
#: department users are ordered so that the last of role "department" is Kỹ thuật / Bảo
#: hành: `{role: token}` maps (here and in `hotro up`'s re-read) name that one.
DEMO_USERS: tuple[tuple[str, str, Role, str | None], ...] = (
    ("demo.agent", "Trần Văn An (quầy / hotline)", Role.AGENT, None),
    ("demo.support", "Nguyễn Thị Lan (hỗ trợ)", Role.SUPPORT, None),
    ("demo.giaovan", "Đỗ Thị Hòa (Giao vận)", Role.DEPARTMENT, "giao-van"),
    ("demo.kythuat", "Lê Minh Đức (Kỹ thuật / Bảo hành)", Role.DEPARTMENT, "ky-thuat-bao-hanh"),
    ("demo.supervisor", "Phạm Thu Hà (giám sát)", Role.SUPERVISOR, None),
    ("demo.auditor", "Hoàng Quốc Bảo (kiểm soát)", Role.AUDITOR, None),
    ("demo.operator", "Vũ Đình Khoa (vận hành)", Role.OPERATOR, None),
)


@dataclass(frozen=True)
class DemoCredential:
    user_id: str
    role: Role
    department: str | None
    token: str
    password: str


class DemoTokens(dict[str, str]):
    """``{role: token}`` (what callers always got) plus every demo user's credentials."""

    credentials: tuple[DemoCredential, ...] = ()


def demo_credentials_path(users_path: Path) -> Path:
    """Where ``write_demo_users`` keeps the demo passwords (and tokens) in clear, beside
    the users file, for ``hotro up`` to print on every run."""
    return users_path.with_name(f"{users_path.stem}.demo-credentials.toml")


def write_demo_users(path: Path, *, passwords: Passwords | None = None) -> DemoTokens:
    """Write a users file with the demo users (fresh random tokens and passwords) and the
    demo credentials file beside it; return ``{role: token}`` with ``.credentials``. Both
    files are readable by their owner only."""
    hasher = passwords or default_passwords()
    credentials = tuple(
        DemoCredential(user_id, role, department, new_token(), secrets.token_urlsafe(12))
        for user_id, _, role, department in DEMO_USERS)
    users = [StaffUser(id=user_id, name=name, role=role, department=department,
                       password_hash=hasher.hash(credential.password), token=credential.token)
             for (user_id, name, role, department), credential in zip(
                 DEMO_USERS, credentials, strict=True)]
    write_users(path, users, header="Demo staff users written by `hotro up`. Do not commit.")
    path.chmod(0o600)
    lines = ["# Demo sign-in credentials written by `hotro up`, in clear. Do not commit.", ""]
    for credential in credentials:
        lines += ["[[demo]]", f"id = {_str(credential.user_id)}",
                  f"role = {_str(credential.role.value)}"]
        if credential.department is not None:
            lines.append(f"department = {_str(credential.department)}")
        lines += [f"token = {_str(credential.token)}",
                  f"password = {_str(credential.password)}", ""]
    side = demo_credentials_path(path)
    write_atomically(side, "\n".join(lines).encode("utf-8"))
    side.chmod(0o600)
    load_directory(str(path))  # what we wrote must load
    tokens = DemoTokens({c.role.value: c.token for c in credentials})
    tokens.credentials = credentials
    return tokens


def read_demo_credentials(users_path: Path, *, passwords: Passwords | None = None
                          ) -> tuple[DemoCredential, ...]:
    """The demo credentials still valid in the users file (a password or token changed
    since with ``hotro users`` is left out); () without a demo credentials file."""
    side = demo_credentials_path(users_path)
    if not side.exists():
        return ()
    entries = tomllib.loads(side.read_text(encoding="utf-8")).get("demo", [])
    directory = load_directory(str(users_path), passwords=passwords)
    valid = []
    for entry in entries:
        user = directory.get(str(entry.get("id")))
        if user is None or user.disabled or user.token != entry.get("token"):
            continue
        if directory.verify_password(user.id, str(entry.get("password", ""))) is None:
            continue
        valid.append(DemoCredential(user.id, user.role, user.department, entry["token"],
                                    entry["password"]))
    return tuple(valid)
