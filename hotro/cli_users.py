"""``hotro users``: the staff users file from the command line.

``list``, ``add``, ``passwd``, ``token``, ``disable``/``enable``. Every change rewrites the
file atomically under a lock (readers never see half a file, two edits never lose one
another); password hashes are never printed, a new API token is printed once. Services
reload the file within seconds (``DirectoryFile``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotro.shared.clock import VIETNAM_TZ, system_clock
from hotro.shared.reference import CATALOGUE_FILE
from hotro.shared.staff.passwords import Passwords, WeakPassword, check_policy
from hotro.shared.staff.roles import Role
from hotro.shared.staff.users import (
    StaffUser,
    UsersFileError,
    describe_validation_error,
    locked_users_file,
    new_token,
    read_users,
    write_users,
)


class UsersCliSettings(BaseSettings):
    """The environment ``hotro users`` reads (flags win)."""

    model_config = SettingsConfigDict(env_prefix="HOTRO_", extra="ignore", frozen=True)

    users_file: str | None = Field(None, description="the users file (default: the one "
                                                     "`hotro up` writes in the data dir)")
    data_dir: str = "var"
    catalogue_file: str = str(CATALOGUE_FILE)


class CliError(Exception):
    """A refusal to explain on stderr (exit 1)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    settings = UsersCliSettings()
    default_file = settings.users_file or str(Path(settings.data_dir) / "staff-users.toml")
    users = subparsers.add_parser(
        "users", help="staff users: list, add, passwd, token, disable",
        description="Edit the staff users file (HOTRO_USERS_FILE).")
    users.add_argument("--file", default=default_file, help=f"default: {default_file}")
    users.add_argument("--catalogue", default=settings.catalogue_file,
                       help="catalogue with the department codes")
    sub = users.add_subparsers(dest="users_command", required=True)

    sub.add_parser("list", help="the users (never their secrets)")

    add = sub.add_parser("add", help="a new user (asks for a password)")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--department", help="for role department: its code")
    add.add_argument("--email")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of stdin")
    secret.add_argument("--no-password", action="store_true",
                        help="a machine user: an API token is made and printed instead")

    passwd = sub.add_parser("passwd", help="set a user's password")
    passwd.add_argument("id")
    passwd.add_argument("--password-stdin", action="store_true")

    token = sub.add_parser("token", help="a new API token (printed once), or --revoke")
    token.add_argument("id")
    token.add_argument("--expires", type=_expiry,
                       help="YYYY-MM-DD (valid through that day, Vietnam time), an ISO "
                            "date-time with offset, or N days (e.g. 90d)")
    token.add_argument("--revoke", action="store_true", help="remove the user's token")

    for name, text in (("disable", "refuse the user's password, token and assertions"),
                       ("enable", "undo disable")):
        command = sub.add_parser(name, help=text)
        command.add_argument("id")

    users.set_defaults(func=run_users)


def run_users(args: argparse.Namespace, *, out: TextIO | None = None,
              err: TextIO | None = None, stdin: TextIO | None = None,
              passwords: Passwords | None = None,
              prompt: Callable[[str], str] = getpass.getpass) -> int:
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    hasher = passwords or Passwords()
    path = Path(args.file)
    try:
        if args.users_command == "list":
            _list(read_users(path), out)
            return 0
        with locked_users_file(path):
            users = list(read_users(path)) if path.exists() else []
            message = _change(args, users, hasher, stdin, prompt, out)
            write_users(path, users)
        print(message, file=err)
        return 0
    except (CliError, UsersFileError, WeakPassword) as exc:
        print(f"error: {exc}", file=err)
        return 1


def _change(args: argparse.Namespace, users: list[StaffUser], hasher: Passwords,
            stdin: TextIO, prompt: Callable[[str], str], out: TextIO) -> str:
    command = args.users_command
    if command == "add":
        return _add(args, users, hasher, stdin, prompt, out)
    index = _index(users, args.id)
    user = users[index]
    if command == "passwd":
        password = _password(args, user.id, user.name, stdin, prompt)
        users[index] = _updated(user, password_hash=hasher.hash(password))
        return f"password of {user.id} set (sessions signed in before stay until they end)"
    if command == "token":
        if args.revoke:
            if args.expires is not None:
                raise CliError("--revoke takes no --expires")
            users[index] = _updated(user, token=None, token_expires=None)
            return f"token of {user.id} revoked"
        token = new_token()
        users[index] = _updated(user, token=token, token_expires=args.expires)
        print(token, file=out)
        return f"new token of {user.id} printed above (shown once; the old one stops working)"
    disabled = command == "disable"
    users[index] = _updated(user, disabled=disabled)
    return f"{user.id} {'disabled' if disabled else 'enabled'}"


def _add(args: argparse.Namespace, users: list[StaffUser], hasher: Passwords,
         stdin: TextIO, prompt: Callable[[str], str], out: TextIO) -> str:
    if any(u.id == args.id for u in users):
        raise CliError(f"user {args.id!r} exists")
    if args.department is not None:
        _check_department(args.department, Path(args.catalogue))
    token = password_hash = None
    if args.no_password:
        token = new_token()
    else:
        password = _password(args, args.id, args.name, stdin, prompt)
        password_hash = hasher.hash(password)
    try:
        user = StaffUser(id=args.id, name=args.name, role=Role(args.role),
                         department=args.department, email=args.email,
                         password_hash=password_hash, token=token)
    except ValidationError as exc:
        raise CliError(describe_validation_error(exc)) from None
    users.append(user)
    if token is not None:
        print(token, file=out)
        return f"{user.id} added; API token printed above (shown once)"
    return f"{user.id} added"


def _updated(user: StaffUser, **changes: object) -> StaffUser:
    try:
        return StaffUser.model_validate({**user.model_dump(), **changes})
    except ValidationError as exc:
        raise CliError(describe_validation_error(exc)) from None


def _index(users: list[StaffUser], user_id: str) -> int:
    for index, user in enumerate(users):
        if user.id == user_id:
            return index
    raise CliError(f"no user {user_id!r}")


def _password(args: argparse.Namespace, user_id: str, name: str, stdin: TextIO,
              prompt: Callable[[str], str]) -> str:
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
    else:
        password = prompt(f"password for {user_id}: ")
        if prompt("again: ") != password:
            raise CliError("the two passwords differ")
    check_policy(password, user_id=user_id, name=name)
    return password


def _check_department(code: str, catalogue: Path) -> None:
    try:
        data = tomllib.loads(catalogue.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"catalogue {catalogue}: {exc}") from None
    known = {d.get("code") for d in data.get("departments", [])}
    if code not in known:
        raise CliError(f"unknown department {code!r} (known: {', '.join(sorted(known))})")


def _expiry(text: str) -> dt.date | dt.datetime:
    try:
        if text.endswith("d") and text[:-1].isdigit():
            return system_clock().astimezone(VIETNAM_TZ).date() + dt.timedelta(
                days=int(text[:-1]))
        if "T" in text:
            when = dt.datetime.fromisoformat(text)
            if when.tzinfo is None:
                raise ValueError("a date-time needs its offset (…+07:00)")
            return when
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _list(users: tuple[StaffUser, ...], out: TextIO) -> None:
    now = system_clock()
    for user in users:
        credentials = []
        if user.password_hash is not None:
            credentials.append("password")
        if user.token is not None:
            expires = user.token_expires_at
            state = "" if expires is None else (
                f" until {user.token_expires}" if now < expires else " EXPIRED")
            credentials.append(f"token{state}")
        fields = [user.id, user.role.value, user.department or "-", user.name,
                  user.email or "-", "+".join(credentials)]
        if user.disabled:
            fields.append("DISABLED")
        print("\t".join(fields), file=out)
