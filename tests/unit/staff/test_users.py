from __future__ import annotations

import stat
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotro.shared.clock import SettableClock
from hotro.shared.reference import CATALOGUE_FILE
from hotro.shared.staff.passwords import Argon2Parameters, Passwords
from hotro.shared.staff.roles import Role
from hotro.shared.staff.users import (
    DEMO_USERS,
    Directory,
    DirectoryFile,
    StaffUser,
    UsersFileError,
    demo_credentials_path,
    load_directory,
    read_demo_credentials,
    read_users,
    write_demo_users,
    write_users,
)
from tests.unit.staff.builders import FAST, T0

PASSWORD = "đèn đỏ dừng lại 42"
TOKEN = "tok-" + "x" * 28


class SpyPasswords(Passwords):
    """Real argon2 (cheap parameters) that records which hashes were verified."""

    def __init__(self, inner: Passwords) -> None:
        super().__init__(inner.parameters)
        self.verified: list[str] = []

    def verify(self, phc: str, password: str) -> bool:
        self.verified.append(phc)
        return super().verify(phc, password)


def _user(**fields: Any) -> StaffUser:
    base: dict[str, Any] = {"id": "nv.lan", "name": "Lan", "role": Role.SUPPORT}
    return StaffUser(**{**base, **fields})


def test_a_user_needs_a_password_hash_or_a_token() -> None:
    with pytest.raises(ValueError, match="password_hash, a token, or both"):
        _user()


def test_only_argon2id_hashes_are_accepted(passwords: Passwords) -> None:
    _user(password_hash=passwords.hash(PASSWORD))
    for bad in ("plain text", "$2b$12$" + "a" * 53, "$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA"):
        with pytest.raises(ValueError, match="argon2id"):
            _user(password_hash=bad)


@pytest.mark.parametrize("token", ["hs1.looks.signed-xxxxxxxxxxxx", "cap1.looks.signed-xxxxxx",
                                   "with space inside-xxxxxxxx", "short"])
def test_tokens_that_could_be_confused_are_refused(token: str) -> None:
    with pytest.raises(ValueError):
        _user(token=token)


def test_a_token_expiry_needs_an_offset_and_a_token() -> None:
    with pytest.raises(ValueError, match="offset"):
        _user(token=TOKEN, token_expires=datetime(2026, 6, 30, 12, 0))
    with pytest.raises(ValueError, match="without a token"):
        _user(password_hash=Passwords().hash(PASSWORD), token_expires=date(2026, 6, 30))


def test_department_only_and_always_for_department_members() -> None:
    with pytest.raises(ValueError, match="needs a department"):
        _user(role=Role.DEPARTMENT, token=TOKEN)
    with pytest.raises(ValueError, match="takes no department"):
        _user(department="giao-van", token=TOKEN)


def test_secrets_stay_out_of_repr(passwords: Passwords) -> None:
    user = _user(token=TOKEN, password_hash=passwords.hash(PASSWORD))
    assert TOKEN not in repr(user) and "argon2" not in repr(user)


def test_authenticate_refuses_disabled_users_and_unknown_tokens() -> None:
    directory = Directory([_user(token=TOKEN), _user(id="old", token="o" * 20, disabled=True)])
    user = directory.authenticate(TOKEN)
    assert user is not None and user.id == "nv.lan"
    assert directory.authenticate("o" * 20) is None
    assert directory.authenticate(TOKEN + "x") is None
    assert directory.active("old") is None and directory.get("old") is not None


def test_a_token_expiring_on_a_date_works_through_that_day_in_vietnam() -> None:
    clock = SettableClock(datetime(2026, 6, 30, 16, 59, tzinfo=UTC))  # 23:59 ICT
    directory = Directory([_user(token=TOKEN, token_expires=date(2026, 6, 30))], clock=clock)
    assert directory.authenticate(TOKEN) is not None
    clock.advance(minutes=1)  # 00:00 ICT on 1 July
    assert directory.authenticate(TOKEN) is None


def test_a_token_expiring_at_an_instant() -> None:
    clock = SettableClock(T0)
    directory = Directory([_user(token=TOKEN, token_expires=T0 + timedelta(hours=1))],
                          clock=clock)
    assert directory.authenticate(TOKEN) is not None
    clock.advance(hours=1)
    assert directory.authenticate(TOKEN) is None


def test_verify_password(passwords: Passwords) -> None:
    directory = Directory([_user(password_hash=passwords.hash(PASSWORD))], passwords=passwords)
    user = directory.verify_password("nv.lan", PASSWORD)
    assert user is not None and user.id == "nv.lan"
    assert directory.verify_password("nv.lan", PASSWORD.upper()) is None
    assert directory.verify_password("nv.lan", "") is None


def test_an_unknown_user_costs_a_verification_against_the_dummy_hash(
        passwords: Passwords) -> None:
    spy = SpyPasswords(passwords)
    real = passwords.hash(PASSWORD)
    directory = Directory([_user(password_hash=real), _user(id="robot", token=TOKEN)],
                          passwords=spy)
    assert directory.verify_password("nobody", PASSWORD) is None
    assert directory.verify_password("robot", PASSWORD) is None  # a token-only user
    assert len(spy.verified) == 2
    assert all(phc.startswith("$argon2id$") and phc != real for phc in spy.verified)
    assert spy.verified[0] == spy.verified[1]  # one fixed dummy hash
    assert directory.verify_password("nv.lan", PASSWORD) is not None
    assert spy.verified[2] == real


def test_a_disabled_user_cannot_sign_in_even_with_the_right_password(
        passwords: Passwords) -> None:
    spy = SpyPasswords(passwords)
    directory = Directory([_user(password_hash=passwords.hash(PASSWORD), disabled=True)],
                          passwords=spy)
    assert directory.verify_password("nv.lan", PASSWORD) is None
    assert len(spy.verified) == 1  # the same work as for an enabled user


def test_check_password_reports_an_outdated_hash(passwords: Passwords) -> None:
    old = Passwords(Argon2Parameters(time_cost=1, memory_kib=512))
    directory = Directory([_user(password_hash=old.hash(PASSWORD))], passwords=passwords)
    check = directory.check_password("nv.lan", PASSWORD)
    assert check is not None and check.needs_rehash
    directory = Directory([_user(password_hash=passwords.hash(PASSWORD))], passwords=passwords)
    check = directory.check_password("nv.lan", PASSWORD)
    assert check is not None and not check.needs_rehash


def test_write_then_read_round_trips_and_keeps_the_mode(tmp_path: Path,
                                                        passwords: Passwords) -> None:
    users = [_user(password_hash=passwords.hash(PASSWORD), email="lan@vhv.vn",
                   token=TOKEN, token_expires=date(2026, 12, 31)),
             _user(id="kt.duc", name='Đức "Kỹ thuật"\\', role=Role.DEPARTMENT,
                   department="ky-thuat-bao-hanh", token="d" * 20,
                   token_expires=datetime(2026, 7, 1, 8, 0, tzinfo=UTC), disabled=True),
             _user(id="ops", name="Ops", role=Role.OPERATOR, token="p" * 20)]
    path = tmp_path / "users.toml"
    write_users(path, users)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_users(path) == tuple(users)
    path.chmod(0o640)
    write_users(path, users[:1])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [u.id for u in read_users(path)] == ["nv.lan"]


def test_write_refuses_what_would_not_load(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    with pytest.raises(ValueError, match="share a token"):
        write_users(path, [_user(token=TOKEN), _user(id="b", token=TOKEN)])
    assert not path.exists()


def test_a_bad_users_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    path.write_text('[[users]]\nid = "a b"\nname = "X"\nrole = "support"\ntoken = "'
                    + "t" * 20 + '"\n', encoding="utf-8")
    with pytest.raises(UsersFileError, match=r"users\.0\.id"):
        load_directory(str(path))


def test_directory_file_reloads_changes_and_survives_a_broken_edit(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    write_users(path, [_user(token=TOKEN)])
    ticks = [0.0]
    source = DirectoryFile(path, check_interval_s=2.0, monotonic=lambda: ticks[0])
    assert source().authenticate(TOKEN) is not None
    write_users(path, [_user(token=TOKEN, disabled=True)])
    ticks[0] = 1.0
    assert source().authenticate(TOKEN) is not None  # not checked yet
    ticks[0] = 2.5
    assert source().authenticate(TOKEN) is None  # disabled: effective on the next check
    path.write_text("[[users]]\nbroken", encoding="utf-8")
    ticks[0] = 5.0
    assert source().get("nv.lan") is not None  # the last good directory stays


def test_demo_users_cover_every_role_two_departments_and_an_operator(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "users.toml"
    fast = Passwords(FAST)
    tokens = write_demo_users(path, passwords=fast)
    assert set(tokens) == {r.value for r in Role}
    departments = {d for _, _, role, d in DEMO_USERS if role is Role.DEPARTMENT}
    catalogue = {d["code"] for d in tomllib.loads(
        CATALOGUE_FILE.read_text(encoding="utf-8"))["departments"]}
    assert len(departments) >= 2 and departments <= catalogue
    directory = load_directory(str(path), passwords=fast)
    directory.check_departments(frozenset(catalogue))  # raises for an unknown department
    # {role: token} names Kỹ thuật for "department", as callers always had
    department_user = directory.authenticate(tokens["department"])
    assert department_user is not None and department_user.department == "ky-thuat-bao-hanh"
    assert len(tokens.credentials) == len(DEMO_USERS)
    for credential in tokens.credentials:
        assert directory.verify_password(credential.user_id, credential.password) is not None
        assert directory.authenticate(credential.token) is not None
    for file in (path, demo_credentials_path(path)):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    users_text = path.read_text(encoding="utf-8")
    assert not any(c.password in users_text for c in tokens.credentials)  # only hashes
    assert read_demo_credentials(path, passwords=fast) == tokens.credentials


def test_demo_credentials_changed_since_are_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    fast = Passwords(FAST)
    tokens = write_demo_users(path, passwords=fast)
    users = [u.model_copy(update={"password_hash": fast.hash(PASSWORD)})
             if u.id == "demo.agent" else u for u in read_users(path)]
    write_users(path, users)
    shown = read_demo_credentials(path, passwords=fast)
    assert {c.user_id for c in shown} == {c.user_id for c in tokens.credentials} - {"demo.agent"}
