"""The local NATS of ``hotro up`` requires authentication, like production.

Per-user random passwords are generated once into ``<data dir>/nats-auth/<user>.password``
(directory 0700, files 0600) and kept across runs; the server's config file (listen
address, JetStream store, the generated ``authorization`` block with those passwords) is
written next to them at every start, mode 0600. Each service process gets its user and
its password file; the command-line tools use the operator user (``provision``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hotro.nats_permissions import OPERATOR, render, users
from hotro.shared.privacy.secrets import ensure_secret

__all__ = ["AUTH_DIR", "OPERATOR", "credentials", "ensure_passwords", "local_cluster",
           "local_server", "operator_credentials", "password_file"]
from hotro.natsbin import NatsCluster, NatsServerProcess
from hotro.shared.messaging.credentials import NatsCredentials

AUTH_DIR = "nats-auth"


def auth_dir(data_dir: Path) -> Path:
    return data_dir / AUTH_DIR


def password_file(data_dir: Path, user: str) -> Path:
    return auth_dir(data_dir) / f"{user}.password"


def ensure_passwords(data_dir: Path) -> dict[str, str]:
    """{user: password} for every user of the authorization block."""
    folder = auth_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return {user: ensure_secret(password_file(data_dir, user)) for user in users()}


def credentials(data_dir: Path, user: str) -> NatsCredentials:
    return NatsCredentials(user, str(password_file(data_dir, user).resolve()))


def operator_credentials(data_dir: Path) -> NatsCredentials | None:
    """The operator's credentials of the local system in ``data_dir``, if it has any."""
    path = password_file(data_dir, OPERATOR)
    return credentials(data_dir, OPERATOR) if path.is_file() else None


def local_server(data_dir: Path, port: int, partitions: int,
                 log_file: Path | None = None, *, pass_fds: Sequence[int] = (),
                 supervised: bool = False) -> NatsServerProcess:
    """The local nats-server, requiring the generated users."""
    return NatsServerProcess(
        store_dir=data_dir / "nats", port=port, log_file=log_file,
        authorization=render(partitions, passwords=ensure_passwords(data_dir)),
        config_file=auth_dir(data_dir) / "nats-server.conf", pass_fds=pass_fds,
        supervised=supervised)


def local_cluster(data_dir: Path, partitions: int, *, pass_fds: Sequence[int] = (),
                  supervised: bool = False) -> NatsCluster:
    """Three local nats-servers as one JetStream cluster (``hotro up --cluster``), each
    requiring the generated users; stores, logs and config files (0600: they hold the
    passwords) under ``<data dir>/nats-cluster``. Ports are picked afresh at each run."""
    root = data_dir / "nats-cluster"
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    return NatsCluster(root, authorization=render(partitions,
                                                  passwords=ensure_passwords(data_dir)),
                       pass_fds=pass_fds, supervised=supervised)
