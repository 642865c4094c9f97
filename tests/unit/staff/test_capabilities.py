from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from hotro.shared.staff import assertions, capabilities
from hotro.shared.staff.capabilities import (
    CapabilityRevoked,
    check_generation,
    customer_url,
    issue,
    token_from_path,
    verify,
)
from hotro.shared.staff.signing import (
    BadSignature,
    KeyRing,
    TokenExpired,
    UnknownKey,
    b64decode,
    b64encode,
    new_keyring,
)
from tests.unit.staff.builders import T0

CID = str(uuid.UUID(int=12345))
REF = "KN-2026-000123"


def _issue(keys: KeyRing, **overrides: object) -> str:
    fields: dict[str, object] = {"complaint_id": CID, "reference": REF, "generation": 3,
                                 "keys": keys, "now": T0}
    return issue(**{**fields, **overrides})  # type: ignore[arg-type]


def test_a_capability_verifies_to_its_case(capability_keys: KeyRing) -> None:
    token = _issue(capability_keys)
    claims = verify(token, capability_keys, T0 + timedelta(days=179))
    assert (claims.cid, claims.ref, claims.gen) == (CID, REF, 3)
    assert claims.expires_at == T0 + timedelta(days=180)
    check_generation(claims, 3)


def test_it_is_url_safe_unguessable_and_carries_no_personal_data(
        capability_keys: KeyRing) -> None:
    token = _issue(capability_keys)
    assert all(c.isalnum() or c in "-_." for c in token)
    prefix, body, mac = token.split(".")
    assert prefix == "cap1" and len(b64decode(mac)) * 8 >= 128
    assert set(json.loads(b64decode(body))) == {"cid", "ref", "gen", "exp", "kid"}


def test_tampered_capabilities_are_refused(capability_keys: KeyRing) -> None:
    token = _issue(capability_keys)
    prefix, body, mac = token.split(".")
    other_case = {**json.loads(b64decode(body)), "cid": str(uuid.UUID(int=1)),
                  "ref": "KN-2026-000001"}
    forged = f"{prefix}.{b64encode(json.dumps(other_case).encode())}.{mac}"
    with pytest.raises(BadSignature):
        verify(forged, capability_keys, T0)
    flipped = b64encode(b64decode(mac)[:-1] + bytes([b64decode(mac)[-1] ^ 0x80]))
    with pytest.raises(BadSignature):
        verify(f"{prefix}.{body}.{flipped}", capability_keys, T0)


def test_an_expired_capability_is_refused(capability_keys: KeyRing) -> None:
    token = _issue(capability_keys, ttl=timedelta(days=1))
    verify(token, capability_keys, T0 + timedelta(hours=23))
    with pytest.raises(TokenExpired):
        verify(token, capability_keys, T0 + timedelta(days=1))


def test_another_capability_keyring_does_not_verify(capability_keys: KeyRing) -> None:
    other = new_keyring(capabilities.PURPOSE, T0)
    with pytest.raises(UnknownKey):
        verify(_issue(other), capability_keys, T0)


def test_the_assertion_keyring_is_not_a_capability_keyring(
        capability_keys: KeyRing) -> None:
    staff_keys = new_keyring(assertions.PURPOSE, T0)
    with pytest.raises(ValueError, match="customer-capability keys"):
        _issue(staff_keys)
    with pytest.raises(ValueError, match="customer-capability keys"):
        verify(_issue(capability_keys), staff_keys, T0)


def test_a_moved_on_generation_revokes_the_link(capability_keys: KeyRing) -> None:
    claims = verify(_issue(capability_keys, generation=3), capability_keys, T0)
    with pytest.raises(CapabilityRevoked):
        check_generation(claims, 4)
    with pytest.raises(CapabilityRevoked):
        check_generation(claims, None)  # a case this service does not hold


def test_bad_claims_are_refused_at_issue(capability_keys: KeyRing) -> None:
    with pytest.raises(ValueError):
        _issue(capability_keys, reference="Nguyễn Văn A")
    with pytest.raises(ValueError):
        _issue(capability_keys, generation=-1)
    with pytest.raises(ValueError):
        _issue(capability_keys, ttl=timedelta(days=3 * 365))


def test_the_customer_url(capability_keys: KeyRing) -> None:
    token = _issue(capability_keys)
    url = customer_url("https://hotro.vhv.vn/", token)
    assert url == f"https://hotro.vhv.vn/c/{token}"
    assert token_from_path(f"/c/{token}") == token
    assert token_from_path("/c/KN-2026-000123") is None
    assert customer_url("http://127.0.0.1:8080", token).startswith("http://127.0.0.1:8080/c/")
    with pytest.raises(ValueError, match="https"):
        customer_url("http://hotro.vhv.vn", token)
    assert customer_url("http://hotro.local", token, allow_http=True)
    with pytest.raises(ValueError):
        customer_url("https://hotro.vhv.vn/?x=1", token)
    with pytest.raises(ValueError):
        customer_url("https://hotro.vhv.vn", "not-a-capability")
