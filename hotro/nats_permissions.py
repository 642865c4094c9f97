"""The NATS ``authorization`` block, generated from the code: ``hotro nats-permissions``.

One user per service and one operator user (``provision``: provisioning, audit, erasure).
A service's grants are exactly what its code calls (docs/security.md, "Bus permissions"):

* publish its own events ``hotro.evt.<S>.>``, its seals ``hotro.seal.<S>`` and, if it
  consumes, its dead letters ``hotro.dlq.<S>.>`` (``shared/messaging/relay.py``,
  ``shared/seals.py``, ``shared/messaging/consumer.py``);
* the JetStream API subjects of the calls in ``shared/``: stream info of the buckets it
  binds (and of ``HOTRO_EVENTS`` only for a service without consumers: one with consumers
  checks the stream through them, ``check_provisioned``), the last message of its own
  subjects for the relay's resume (a direct get whose subject is the filter — not the
  stream by sequence), the last seal for the seal keeper's resume, and for each of ITS
  partition consumers (from ``hotro.topology.TOPOLOGY``) info, next-message and acks —
  named one by one: a NATS wildcard is a whole token, ``routing-p*`` matches nothing;
* its own lease keys in ``hotro_leases`` (member heartbeat, relay, one per partition) and
  a direct get of its own keys only (``shared/messaging/leases.py``; members are listed
  with stream info and a subject filter, so no consumer is needed);
* the data-key bucket by role (``KEY_ACCESS``): read and create, or nothing. The bucket is
  write-once per key (``shared/privacy/kv.py``), so a creator cannot overwrite, delete or
  purge a key; only the operator erases;
* the public limits (``hotro_limits``, ``shared/runtime/shared_window.py``): for a
  service that counts what strangers do (``COUNTS_STRANGERS``) and the console, its own
  keys only (``<user>.>``): write, purge, direct get;
* replies only below its own inbox prefix ``_INBOX_<user>`` (``credentials.py``).

No service may create, update or delete a stream or a consumer, purge, or delete a
message: the operator user alone has the JetStream API (``$JS.API.>``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from hotro.shared.contracts.subjects import (
    DEFAULT_PARTITIONS,
    DLQ_ROOT,
    EVENTS_ROOT,
    EVENTS_STREAM,
    LEASES_BUCKET,
    durable_name,
)
from hotro.shared.messaging.credentials import inbox_prefix
from hotro.shared.messaging.provision import PII_KEYS_BUCKET, SEALS_ROOT, SEALS_STREAM
from hotro.shared.privacy.kv import STAGING_BUCKET
from hotro.shared.runtime.shared_window import LIMITS_BUCKET
from hotro.shared.staff.sessions import SESSIONS_BUCKET

OPERATOR = "provision"
#: the web console: only its sessions bucket (it reaches the services over HTTP)
CONSOLE = "console"
SHIPPED_FILE = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "permissions.conf"

#: What each service may do with the data keys (``hotro_pii_keys``), from its code:
#: intake seals every contact it records (``seal_with`` -> create); notify reads keys to
#: send, and creates one only for a ``ComplaintReceived`` v1 (published in clear before
#: sealing: ``services/notify/application/acknowledgements.py::_received_customer``);
#: routing and sla never touch personal data.
KEY_ACCESS: MappingProxyType[str, str] = MappingProxyType({
    "intake": "create", "notify": "create", "routing": "none", "sla": "none"})

#: Services whose public doors count what strangers do in ``hotro_limits``.
COUNTS_STRANGERS = frozenset({"intake"})

#: Denied to every service even if an allow rule were widened by mistake.
SERVICE_DENY = (
    "$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.CONSUMER.CREATE.>", "$JS.API.CONSUMER.DURABLE.CREATE.>",
    "$JS.API.CONSUMER.DELETE.>",
)


@dataclass(frozen=True)
class UserPermissions:
    user: str
    what: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    deny_publish: tuple[str, ...] = ()

    @property
    def password_env(self) -> str:
        return password_env(self.user)


def password_env(user: str) -> str:
    return f"NATS_{user.upper()}_PASSWORD"


def _kv(bucket: str) -> str:
    return f"KV_{bucket}"


def _limits(user: str) -> list[str]:
    """Count, read and forget its own keys in the shared limits bucket."""
    own = f"$KV.{LIMITS_BUCKET}.{user}"
    return [f"$JS.API.STREAM.INFO.{_kv(LIMITS_BUCKET)}",
            f"{own}.>",
            f"$JS.API.DIRECT.GET.{_kv(LIMITS_BUCKET)}.{own}.>"]


def service_permissions(service: str, partitions: int, consumes: bool) -> UserPermissions:
    leases = f"$KV.{LEASES_BUCKET}.{service}"
    publish = [
        f"{EVENTS_ROOT}.{service}.>",                      # relay
        f"{SEALS_ROOT}.{service}",                         # seal keeper
    ]
    if consumes:
        publish.append(f"{DLQ_ROOT}.{service}.>")          # poison messages
    if not consumes:  # check_provisioned (a consumer checks the stream through its own)
        publish.append(f"$JS.API.STREAM.INFO.{EVENTS_STREAM}")
    publish += [
        # relay resume: the last message of its own subjects only
        f"$JS.API.DIRECT.GET.{EVENTS_STREAM}.{EVENTS_ROOT}.{service}.>",
        f"$JS.API.STREAM.MSG.GET.{SEALS_STREAM}",          # seal keeper resume
        f"$JS.API.STREAM.INFO.{_kv(LEASES_BUCKET)}",       # bind + live members
        f"$JS.API.DIRECT.GET.{_kv(LEASES_BUCKET)}.{leases}.>",
        f"{leases}.m.>",                                   # member heartbeat
        f"{leases}.relay",
    ]
    if consumes:
        publish += [f"{leases}.p{p}" for p in range(partitions)]
        for p in range(partitions):
            durable = durable_name(service, p)
            publish += [f"$JS.API.CONSUMER.INFO.{EVENTS_STREAM}.{durable}",
                        f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.{durable}",
                        f"$JS.ACK.{EVENTS_STREAM}.{durable}.>"]
    access = KEY_ACCESS.get(service, "none")
    if access in ("read", "create"):
        publish += [f"$JS.API.STREAM.INFO.{_kv(PII_KEYS_BUCKET)}",
                    f"$JS.API.DIRECT.GET.{_kv(PII_KEYS_BUCKET)}.$KV.{PII_KEYS_BUCKET}.>",
                    # "not found" asked again of the stream leader (a replica may lag)
                    f"$JS.API.STREAM.MSG.GET.{_kv(PII_KEYS_BUCKET)}"]
    if access == "create":
        publish.append(f"$KV.{PII_KEYS_BUCKET}.>")         # write-once: create only
    if service in COUNTS_STRANGERS:
        publish += _limits(service)
    consumers = f"consumes {partitions} partitions" if consumes else "consumes nothing"
    what = f"service {service}: {consumers}; data keys: {access}"
    return UserPermissions(service, what, tuple(publish), (f"{inbox_prefix(service)}.>",),
                           SERVICE_DENY)


def operator_permissions() -> UserPermissions:
    return UserPermissions(
        OPERATOR, "operator: hotro provision, audit, erase (the JetStream API is its alone)",
        ("$JS.API.>",
         f"$KV.{PII_KEYS_BUCKET}.>",                       # the erasure's tombstone
         f"$KV.{STAGING_BUCKET}.>",                        # provision_key_bucket
         f"$KV.{LIMITS_BUCKET}.>"),                        # hotro limits lift
        (f"{inbox_prefix(OPERATOR)}.>",))


def console_permissions() -> UserPermissions:
    bucket = _kv(SESSIONS_BUCKET)
    return UserPermissions(
        CONSOLE, "web console: its sign-in sessions (KV hotro_sessions) and sign-in "
                 "attempts (its keys in KV hotro_limits), nothing else",
        (f"$JS.API.STREAM.INFO.{bucket}",
         f"$KV.{SESSIONS_BUCKET}.>",                       # create, touch, revoke
         f"$JS.API.DIRECT.GET.{bucket}.$KV.{SESSIONS_BUCKET}.>",
         f"$JS.API.STREAM.MSG.GET.{bucket}",
         *_limits(CONSOLE)),
        (f"{inbox_prefix(CONSOLE)}.>",), SERVICE_DENY)


def all_permissions(partitions: int = DEFAULT_PARTITIONS,
                    topology: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None
                    ) -> list[UserPermissions]:
    if topology is None:
        from hotro.topology import TOPOLOGY

        topology = TOPOLOGY
    return [operator_permissions(), *(
        service_permissions(service, partitions, consumes=bool(topology[service]))
        for service in topology), console_permissions()]


def _list(items: tuple[str, ...], indent: str) -> str:
    inner = ",\n".join(f"{indent}  {json.dumps(item)}" for item in items)
    return f"[\n{inner}\n{indent}]"


def render(partitions: int = DEFAULT_PARTITIONS,
           passwords: Mapping[str, str] | None = None,
           topology: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None) -> str:
    """The ``authorization { … }`` block. Passwords: ``$NATS_<USER>_PASSWORD`` from the
    server's environment (production), or the given literal values (``hotro up``, whose
    config file is private to its user)."""
    source = ("Passwords come from the server's environment, never from this file."
              if passwords is None else "A private file: it holds the passwords.")
    lines = [
        "# Generated by `hotro nats-permissions` (hotro/nats_permissions.py) from the",
        "# services' handlers (hotro.topology.TOPOLOGY) and the JetStream calls in shared/,",
        f"# for {partitions} partitions (another HOTRO_PARTITIONS: `hotro nats-permissions",
        "# --partitions N --write`). Do not edit: a test fails when the shipped file and the",
        f"# generator differ. {source}",
        "authorization {",
        "  users = [",
    ]
    for perms in all_permissions(partitions, topology):
        password = (json.dumps(passwords[perms.user]) if passwords is not None
                    else f"${perms.password_env}")
        publish = f"allow: {_list(perms.publish, '          ')}"
        if perms.deny_publish:
            publish += f"\n          deny: {_list(perms.deny_publish, '          ')}"
        lines += [
            f"    # {perms.what}",
            "    {",
            f"      user: {json.dumps(perms.user)}",
            f"      password: {password}",
            "      permissions: {",
            "        publish: {",
            f"          {publish}",
            "        }",
            "        subscribe: {",
            f"          allow: {_list(perms.subscribe, '          ')}",
            "        }",
            "      }",
            "    }",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def users() -> list[str]:
    return [p.user for p in all_permissions()]
