from __future__ import annotations

import unicodedata

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from hotro.shared.staff.passwords import (
    DEFAULT_PARAMETERS,
    MIN_LENGTH,
    Argon2Parameters,
    Passwords,
    WeakPassword,
    check_policy,
    is_argon2id_phc,
)

GOOD = "ngựa vằn ăn cỏ 2026"


def test_the_default_parameters_are_argon2id_with_at_least_19_mib() -> None:
    assert DEFAULT_PARAMETERS.memory_kib >= 19 * 1024
    assert DEFAULT_PARAMETERS.time_cost >= 2
    phc = Passwords().hash(GOOD)
    assert phc.startswith("$argon2id$")
    params = extract_parameters(phc)
    assert params.memory_cost >= 19 * 1024 and params.salt_len >= 16


def test_a_hash_verifies_its_password_only(passwords: Passwords) -> None:
    phc = passwords.hash(GOOD)
    assert passwords.verify(phc, GOOD)
    assert not passwords.verify(phc, GOOD + " ")
    assert not passwords.verify(phc, "")
    assert passwords.hash(GOOD) != phc  # salted


def test_composed_and_decomposed_vietnamese_are_the_same_password(
        passwords: Passwords) -> None:
    composed = unicodedata.normalize("NFC", GOOD)
    decomposed = unicodedata.normalize("NFD", GOOD)
    assert composed != decomposed
    assert passwords.verify(passwords.hash(composed), decomposed)


def test_other_schemes_and_garbage_do_not_verify(passwords: Passwords) -> None:
    argon2i = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I)
    phc = argon2i.hash(GOOD)
    assert argon2i.verify(phc, GOOD)  # a genuine hash of the password, but argon2i
    assert not passwords.verify(phc, GOOD)
    assert not is_argon2id_phc(phc)
    assert not passwords.verify("$2b$12$abcdefghijklmnopqrstuv", GOOD)
    assert not passwords.verify("$argon2id$garbage", GOOD)
    assert not is_argon2id_phc("$argon2id$garbage")


def test_a_hash_with_other_parameters_needs_rehash(passwords: Passwords) -> None:
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_kib=2048))
    phc = passwords.hash(GOOD)
    assert not passwords.needs_rehash(phc)
    assert stronger.needs_rehash(phc)
    assert stronger.verify(phc, GOOD)  # still verifies with the parameters it names


@pytest.mark.parametrize(("password", "why"), [
    ("a" * (MIN_LENGTH - 1) + "", "at least 12"),
    ("short", "at least 12"),
    (" " * 20, "only spaces"),
    ("x" * 20, "repeat one character"),
    ("abc\x00defghijklm", "control characters"),
    ("NV.Lan", "at least 12"),
    ("nv.lan.nv.lan", "user id"),
    ("Nguyễn Thị Lan", "name"),
    ("nguyenthilan-ok", None),
    ("mat khau cua nv.lan 2026", "user id"),
])
def test_the_password_rules(password: str, why: str | None) -> None:
    if why is None:
        check_policy(password, user_id="nv.lan", name="Nguyễn Thị Lan")
        return
    with pytest.raises(WeakPassword, match=why):
        check_policy(password, user_id="nv.lan", name="Nguyễn Thị Lan")


def test_the_name_is_refused_case_and_space_insensitively() -> None:
    with pytest.raises(WeakPassword, match="name"):
        check_policy("NGUYỄN THỊ LAN", user_id="lan", name="Nguyễn Thị Lan")
