from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from hotro.shared.staff import assertions, capabilities
from hotro.shared.staff.assertions import issue_assertion, verify_assertion
from hotro.shared.staff.roles import Role
from hotro.shared.staff.signing import (
    BadSignature,
    InvalidToken,
    KeyRing,
    KeyringError,
    MalformedToken,
    SigningKey,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
    b64decode,
    b64encode,
    ensure_keys,
    load_keys,
    new_keyring,
    rotate,
    sign,
    write_keys,
)
from tests.unit.staff.builders import T0

SID = "s" * 43


def _issue(keys: KeyRing, **overrides: object) -> str:
    fields: dict[str, object] = {"user_id": "nv.lan", "role": Role.SUPPORT, "department": None,
                                 "session_id": SID, "keys": keys, "now": T0}
    return issue_assertion(**{**fields, **overrides})  # type: ignore[arg-type]


def _reclaim(token: str, **changes: object) -> str:
    """The same MAC over changed claims (an attacker's edit)."""
    prefix, body, mac = token.split(".")
    claims = {**json.loads(b64decode(body)), **changes}
    edited = b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{prefix}.{edited}.{mac}"


def test_an_assertion_verifies_to_its_claims(assertion_keys: KeyRing) -> None:
    token = _issue(assertion_keys, role=Role.DEPARTMENT, department="giao-van")
    assert token.startswith("hs1.") and token.count(".") == 2
    claims = verify_assertion(token, assertion_keys, T0 + timedelta(seconds=10))
    assert (claims.sub, claims.role, claims.dept, claims.sid) == (
        "nv.lan", Role.DEPARTMENT, "giao-van", SID)
    assert claims.exp - claims.iat == 300
    assert claims.kid == assertion_keys.current
    assert assertions.is_assertion(token) and not assertions.is_assertion("plain-token-xxxx")


@pytest.mark.parametrize("change", [{"role": "supervisor"}, {"sub": "gs.ha"},
                                    {"exp": 2_000_000_000}, {"dept": "giao-van"}])
def test_tampered_claims_are_refused(assertion_keys: KeyRing, change: dict[str, object]
                                     ) -> None:
    with pytest.raises(BadSignature):
        verify_assertion(_reclaim(_issue(assertion_keys), **change), assertion_keys, T0)


def test_a_tampered_or_truncated_mac_is_refused(assertion_keys: KeyRing) -> None:
    token = _issue(assertion_keys)
    prefix, body, mac = token.split(".")
    flipped = b64encode(bytes([b64decode(mac)[0] ^ 1]) + b64decode(mac)[1:])
    with pytest.raises(BadSignature):
        verify_assertion(f"{prefix}.{body}.{flipped}", assertion_keys, T0)
    with pytest.raises(BadSignature):
        verify_assertion(f"{prefix}.{body}.{b64encode(b64decode(mac)[:16])}", assertion_keys,
                         T0)
    with pytest.raises(BadSignature):
        verify_assertion(f"{prefix}.{body}.", assertion_keys, T0)
    with pytest.raises(InvalidToken):
        verify_assertion(f"{prefix}.{body}.{mac[::-1]}", assertion_keys, T0)


def test_a_key_of_another_keyring_is_unknown(assertion_keys: KeyRing) -> None:
    other = new_keyring(assertions.PURPOSE, T0)
    with pytest.raises(UnknownKey):
        verify_assertion(_issue(other), assertion_keys, T0)


def test_same_key_id_different_secret_is_a_bad_signature(assertion_keys: KeyRing) -> None:
    impostor = KeyRing(purpose=assertions.PURPOSE, current=assertion_keys.current,
                       keys=(SigningKey(assertion_keys.current, b"i" * 32),))
    with pytest.raises(BadSignature):
        verify_assertion(_issue(impostor), assertion_keys, T0)


def test_a_capability_signed_with_the_same_secret_is_no_assertion(
        assertion_keys: KeyRing) -> None:
    # Even if someone copied the assertion secret into the capability keyring, the prefix
    # is under the MAC: a cap1 token re-labelled hs1 does not verify.
    shared = KeyRing(purpose=capabilities.PURPOSE, current=assertion_keys.current,
                     keys=assertion_keys.keys)
    cap = capabilities.issue(complaint_id="c" * 36, reference="KN-2026-000001",
                             generation=0, keys=shared, now=T0)
    with pytest.raises((BadSignature, MalformedToken)):
        verify_assertion("hs1." + cap.split(".", 1)[1], assertion_keys, T0)


def test_expiry_with_a_small_clock_skew(assertion_keys: KeyRing) -> None:
    token = _issue(assertion_keys)
    verify_assertion(token, assertion_keys, T0 + timedelta(seconds=300 + 29))
    with pytest.raises(TokenExpired):
        verify_assertion(token, assertion_keys, T0 + timedelta(seconds=300 + 30))
    with pytest.raises(TokenExpired):
        verify_assertion(token, assertion_keys, T0 + timedelta(seconds=301),
                         skew=timedelta(0))


def test_an_assertion_from_the_future_is_refused(assertion_keys: KeyRing) -> None:
    token = _issue(assertion_keys, now=T0 + timedelta(minutes=2))
    verify_assertion(token, assertion_keys, T0 + timedelta(minutes=2) - timedelta(seconds=20))
    with pytest.raises(TokenNotYetValid):
        verify_assertion(token, assertion_keys, T0)


def test_a_verifier_caps_the_lifetime_whatever_the_issuer_wrote(
        assertion_keys: KeyRing) -> None:
    long = sign("hs1", {"sub": "nv.lan", "role": "support", "dept": None, "sid": SID,
                        "iat": int(T0.timestamp()), "exp": int(T0.timestamp()) + 86_400},
                assertion_keys)
    with pytest.raises(TokenNotYetValid, match="lifetime"):
        verify_assertion(long, assertion_keys, T0)
    with pytest.raises(ValueError):
        _issue(assertion_keys, ttl=timedelta(hours=1))


@pytest.mark.parametrize("token", [
    "", "hs1", "hs1..", "hs1.a.b.c", "hs2.e30.AAAA", "hs1.e30=.AAAA", "hs1.e3+.AAAA",
    "hs1." + "A" * 3000 + ".AAAA",
])
def test_malformed_tokens(assertion_keys: KeyRing, token: str) -> None:
    with pytest.raises(MalformedToken):
        verify_assertion(token, assertion_keys, T0)


def test_repeated_or_extra_claims_are_refused(assertion_keys: KeyRing) -> None:
    key = assertion_keys.signing_key
    import hashlib
    import hmac

    body = ('{"sub":"nv.lan","role":"support","role":"supervisor","dept":null,"sid":"'
            + SID + '","iat":1,"exp":2,"kid":"' + key.id + '"}')
    signing_input = "hs1." + b64encode(body.encode())
    mac = hmac.new(key.secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(MalformedToken):
        verify_assertion(f"{signing_input}.{b64encode(mac)}", assertion_keys, T0)
    extra = sign("hs1", {"sub": "nv.lan", "role": "support", "dept": None, "sid": SID,
                         "iat": int(T0.timestamp()), "exp": int(T0.timestamp()) + 60,
                         "admin": True}, assertion_keys)
    with pytest.raises(MalformedToken):
        verify_assertion(extra, assertion_keys, T0)


def test_non_canonical_base64_is_refused() -> None:
    assert b64decode(b64encode(b"\xff\xfe")) == b"\xff\xfe"
    with pytest.raises(ValueError):
        b64decode("__9")  # trailing bits set: another spelling of b"\xff\xff"


def test_rotation_keeps_the_previous_key_for_verification(assertion_keys: KeyRing) -> None:
    old_token = _issue(assertion_keys)
    rotated = rotate(assertion_keys, T0, keep_previous=1)
    assert rotated.current != assertion_keys.current
    verify_assertion(old_token, rotated, T0)
    assert verify_assertion(_issue(rotated), rotated, T0).kid == rotated.current
    twice = rotate(rotated, T0, keep_previous=1)
    with pytest.raises(UnknownKey):
        verify_assertion(old_token, twice, T0)


def test_keyring_files(tmp_path: Path, assertion_keys: KeyRing) -> None:
    path = tmp_path / "keys" / "assertion-keys.toml"
    write_keys(path, assertion_keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys(path, assertions.PURPOSE) == assertion_keys
    with pytest.raises(KeyringError, match="not 'customer-capability' keys"):
        load_keys(path, capabilities.PURPOSE)
    assert ensure_keys(path, assertions.PURPOSE, T0) == assertion_keys
    fresh = ensure_keys(tmp_path / "new.toml", capabilities.PURPOSE, T0)
    assert load_keys(tmp_path / "new.toml", capabilities.PURPOSE) == fresh


@pytest.mark.parametrize(("text", "why"), [
    ('purpose = "staff-assertion"\ncurrent = "k"\n', "no keys"),
    ('purpose = "staff-assertion"\ncurrent = "x"\n[[keys]]\nid = "k"\nsecret = "'
     + b64encode(b"k" * 32) + '"\n', "current key 'x'"),
    ('purpose = "staff-assertion"\ncurrent = "k"\n[[keys]]\nid = "k"\nsecret = "'
     + b64encode(b"k" * 16) + '"\n', "32 bytes"),
    ('purpose = "staff-assertion"\ncurrent = "k"\n[[keys]]\nid = "k"\nsecret = "a+b/"\n',
     "not base64url"),
])
def test_bad_keyring_files_are_refused(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KeyringError, match=why):
        load_keys(path, assertions.PURPOSE)
