"""deploy/nats/permissions.conf is generated from the code (``hotro nats-permissions``) and
grants each service only what its code calls. The real server's verdicts on it are in
tests/integration/test_bus_permissions.py."""

from __future__ import annotations

import re

import pytest

from hotro.nats_permissions import (
    KEY_ACCESS,
    OPERATOR,
    SHIPPED_FILE,
    UserPermissions,
    all_permissions,
    render,
)
from hotro.shared.contracts.subjects import DEFAULT_PARTITIONS
from hotro.topology import TOPOLOGY

PERMISSIONS = {p.user: p for p in all_permissions(DEFAULT_PARTITIONS)}
SERVICES = sorted(TOPOLOGY)


def test_the_shipped_file_is_the_generators() -> None:
    assert SHIPPED_FILE.read_text(encoding="utf-8") == render(DEFAULT_PARTITIONS), \
        "deploy/nats/permissions.conf differs from the code: run `hotro nats-permissions --write`"


def _valid_pattern(subject: str) -> bool:
    """A NATS wildcard is a whole token; '>' only last; no empty token."""
    tokens = subject.split(".")
    if any(not t for t in tokens):
        return False
    for i, token in enumerate(tokens):
        if ("*" in token or ">" in token) and token not in ("*", ">"):
            return False
        if token == ">" and i != len(tokens) - 1:
            return False
    return True


@pytest.mark.parametrize("user", sorted(PERMISSIONS))
def test_every_subject_is_a_valid_nats_pattern(user: str) -> None:
    perms = PERMISSIONS[user]
    for subject in (*perms.publish, *perms.subscribe, *perms.deny_publish):
        assert _valid_pattern(subject), f"{user}: {subject!r} is not a NATS subject pattern"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_publishes_only_as_itself_and_has_no_admin_api(service: str) -> None:
    perms = PERMISSIONS[service]
    api = [s for s in perms.publish if s.startswith("$JS.API.")]
    for subject in api:
        assert not re.match(r"\$JS\.API\.(CONSUMER\.(CREATE|DURABLE|DELETE)|STREAM\.(CREATE|"
                            r"UPDATE|DELETE|PURGE|MSG\.DELETE))", subject), subject
        assert ">" not in subject or subject.startswith("$JS.API.DIRECT.GET."), \
            f"{service}: an API wildcard other than a scoped direct get: {subject}"
    assert "$JS.API.>" not in perms.publish and "$JS.API.CONSUMER.>" not in perms.publish
    events = [s for s in perms.publish if s.startswith("hotro.")]
    assert all(s.startswith((f"hotro.evt.{service}.", f"hotro.dlq.{service}.",
                             f"hotro.seal.{service}")) for s in events), events
    # the relay's resume reads its own subjects only, never the stream by sequence
    assert "$JS.API.STREAM.MSG.GET.HOTRO_EVENTS" not in perms.publish
    assert f"$JS.API.DIRECT.GET.HOTRO_EVENTS.hotro.evt.{service}.>" in perms.publish
    assert perms.subscribe == (f"_INBOX_{service}.>",)
    assert "$JS.API.CONSUMER.CREATE.>" in perms.deny_publish


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reaches_exactly_its_own_partition_consumers_and_leases(
        service: str) -> None:
    perms = PERMISSIONS[service]
    consumers = {s.split(".")[-1] for s in perms.publish
                 if s.startswith("$JS.API.CONSUMER.MSG.NEXT.")}
    wanted = {f"{service}-p{p}" for p in range(DEFAULT_PARTITIONS)} if TOPOLOGY[service] \
        else set()
    assert consumers == wanted
    for durable in wanted:
        assert f"$JS.API.CONSUMER.INFO.HOTRO_EVENTS.{durable}" in perms.publish
        assert f"$JS.ACK.HOTRO_EVENTS.{durable}.>" in perms.publish
    leases = [s for s in perms.publish if s.startswith("$KV.hotro_leases.")]
    assert all(s.startswith(f"$KV.hotro_leases.{service}.") for s in leases), leases


def _key_grants(perms: UserPermissions) -> list[str]:
    return [s for s in perms.publish if "hotro_pii_keys" in s]


def test_data_keys_by_role_and_only_the_operator_administers() -> None:
    assert KEY_ACCESS["routing"] == KEY_ACCESS["sla"] == "none"
    assert _key_grants(PERMISSIONS["routing"]) == _key_grants(PERMISSIONS["sla"]) == []
    for service in ("intake", "notify"):
        grants = _key_grants(PERMISSIONS[service])
        assert "$JS.API.DIRECT.GET.KV_hotro_pii_keys.$KV.hotro_pii_keys.>" in grants
        assert "$JS.API.STREAM.MSG.GET.KV_hotro_pii_keys" in grants  # the leader's answer
        assert "$KV.hotro_pii_keys.>" in grants  # create: the bucket is write-once per key
        assert not any("PURGE" in g or "DELETE" in g for g in grants)
    operator = PERMISSIONS[OPERATOR]
    assert "$JS.API.>" in operator.publish and operator.subscribe == ("_INBOX_provision.>",)


def test_partitions_change_the_grants_and_literal_passwords_are_quoted() -> None:
    text = render(3, passwords={p.user: f'pw-"{p.user}"' for p in all_permissions(3)})
    assert "intake-p2" in text and "intake-p3" not in text
    assert 'password: "pw-\\"intake\\""' in text and "$NATS_" not in text
