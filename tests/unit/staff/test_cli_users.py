from __future__ import annotations

import io
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest

from hotro.cli import build_parser
from hotro.cli_users import run_users
from hotro.shared.clock import VIETNAM_TZ, system_clock
from hotro.shared.staff.passwords import Passwords
from hotro.shared.staff.roles import Role
from hotro.shared.staff.users import load_directory, read_users

PASSWORD = "mưa rào tháng sáu 2026"


class Cli:
    def __init__(self, path: Path, passwords: Passwords) -> None:
        self.path = path
        self.passwords = passwords
        self.out = io.StringIO()
        self.err = io.StringIO()

    def __call__(self, *argv: str, stdin: str = "", prompts: tuple[str, ...] = ()) -> int:
        self.out, self.err = io.StringIO(), io.StringIO()
        answers = iter(prompts)
        args = build_parser().parse_args(["users", "--file", str(self.path), *argv])
        return run_users(args, out=self.out, err=self.err, stdin=io.StringIO(stdin),
                         passwords=self.passwords, prompt=lambda _: next(answers))


@pytest.fixture
def cli(tmp_path: Path, passwords: Passwords) -> Cli:
    return Cli(tmp_path / "staff-users.toml", passwords)


def test_add_with_a_password_then_sign_in(cli: Cli, passwords: Passwords) -> None:
    assert cli("add", "nv.lan", "--name", "Nguyễn Thị Lan", "--role", "support",
               "--email", "lan@vhv.vn", "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert stat.S_IMODE(cli.path.stat().st_mode) == 0o600
    directory = load_directory(str(cli.path), passwords=passwords)
    user = directory.verify_password("nv.lan", PASSWORD)
    assert user is not None and user.email == "lan@vhv.vn" and user.token is None
    assert PASSWORD not in cli.path.read_text(encoding="utf-8")


def test_add_prompts_twice_and_refuses_a_mismatch(cli: Cli) -> None:
    assert cli("add", "nv.lan", "--name", "Lan", "--role", "support",
               prompts=(PASSWORD, PASSWORD + "x")) == 1
    assert "differ" in cli.err.getvalue() and not cli.path.exists()
    assert cli("add", "nv.lan", "--name", "Lan", "--role", "support",
               prompts=(PASSWORD, PASSWORD)) == 0


@pytest.mark.parametrize(("password", "why"), [("short", "at least 12"),
                                               ("nv.lan.nv.lan!", "user id")])
def test_a_weak_password_is_refused(cli: Cli, password: str, why: str) -> None:
    assert cli("add", "nv.lan", "--name", "Lan", "--role", "support", "--password-stdin",
               stdin=password) == 1
    assert why in cli.err.getvalue() and not cli.path.exists()


def test_a_machine_user_gets_a_token_printed_once(cli: Cli) -> None:
    assert cli("add", "bot.sms", "--name", "SMS bot", "--role", "operator",
               "--no-password") == 0
    token = cli.out.getvalue().strip()
    user = load_directory(str(cli.path)).authenticate(token)
    assert user is not None and user.role is Role.OPERATOR
    assert cli("list") == 0
    assert token not in cli.out.getvalue()


def test_department_users_need_a_known_department(cli: Cli) -> None:
    assert cli("add", "kt.duc", "--name", "Đức", "--role", "department",
               "--department", "phong-ma", "--password-stdin", stdin=PASSWORD) == 1
    assert "unknown department 'phong-ma'" in cli.err.getvalue()
    assert cli("add", "kt.duc", "--name", "Đức", "--role", "department",
               "--password-stdin", stdin=PASSWORD) == 1
    assert "needs a department" in cli.err.getvalue()
    assert cli("add", "kt.duc", "--name", "Đức", "--role", "department",
               "--department", "ky-thuat-bao-hanh", "--password-stdin", stdin=PASSWORD) == 0
    assert cli("add", "kt.duc", "--name", "Đức 2", "--role", "support",
               "--password-stdin", stdin=PASSWORD) == 1
    assert "exists" in cli.err.getvalue()


def test_passwd_token_disable_and_list(cli: Cli, passwords: Passwords) -> None:
    cli("add", "nv.lan", "--name", "Lan", "--role", "support", "--password-stdin",
        stdin=PASSWORD)
    assert cli("passwd", "nv.lan", "--password-stdin", stdin="một mật khẩu mới 7") == 0
    directory = load_directory(str(cli.path), passwords=passwords)
    assert directory.verify_password("nv.lan", PASSWORD) is None
    assert directory.verify_password("nv.lan", "một mật khẩu mới 7") is not None

    assert cli("token", "nv.lan", "--expires", "2099-12-31") == 0
    first = cli.out.getvalue().strip()
    assert cli("token", "nv.lan", "--expires", "30d") == 0
    second = cli.out.getvalue().strip()
    directory = load_directory(str(cli.path))
    assert directory.authenticate(first) is None  # replaced
    assert directory.authenticate(second) is not None
    [user] = read_users(cli.path)
    assert user.token_expires == system_clock().astimezone(VIETNAM_TZ).date() + timedelta(30)

    assert cli("list") == 0
    listing = cli.out.getvalue()
    assert "nv.lan\tsupport\t-\tLan\t-\tpassword+token until" in listing
    assert "argon2" not in listing and second not in listing

    assert cli("disable", "nv.lan") == 0
    directory = load_directory(str(cli.path), passwords=passwords)
    assert directory.authenticate(second) is None
    assert directory.verify_password("nv.lan", "một mật khẩu mới 7") is None
    cli("list")
    assert cli.out.getvalue().rstrip().endswith("DISABLED")
    assert cli("enable", "nv.lan") == 0
    assert load_directory(str(cli.path)).authenticate(second) is not None


def test_token_revoke_keeps_at_least_one_credential(cli: Cli) -> None:
    cli("add", "bot", "--name", "Bot", "--role", "operator", "--no-password")
    assert cli("token", "bot", "--revoke") == 1
    assert "password_hash, a token, or both" in cli.err.getvalue()
    cli("add", "nv.lan", "--name", "Lan", "--role", "support", "--password-stdin",
        stdin=PASSWORD)
    cli("token", "nv.lan")
    token = cli.out.getvalue().strip()
    assert cli("token", "nv.lan", "--revoke") == 0
    assert load_directory(str(cli.path)).authenticate(token) is None


def test_unknown_users_and_bad_expiry(cli: Cli) -> None:
    cli("add", "nv.lan", "--name", "Lan", "--role", "support", "--password-stdin",
        stdin=PASSWORD)
    assert cli("passwd", "nobody", "--password-stdin", stdin=PASSWORD) == 1
    assert "no user 'nobody'" in cli.err.getvalue()
    with pytest.raises(SystemExit):
        cli("token", "nv.lan", "--expires", "2026-06-30T12:00")  # no offset
    assert cli("token", "nv.lan", "--expires", "2026-06-30T12:00+07:00") == 0


def test_an_expired_token_shows_in_the_list(cli: Cli) -> None:
    cli("add", "bot", "--name", "Bot", "--role", "operator", "--no-password")
    cli("token", "bot", "--expires", (date.today() - timedelta(days=2)).isoformat())
    cli("list")
    assert "token EXPIRED" in cli.out.getvalue()
