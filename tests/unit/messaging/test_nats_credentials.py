"""Who a connection authenticates as: a user and a password file (or the URL's
credentials), and its own reply-inbox prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hotro.shared.messaging.credentials import NatsCredentials, inbox_prefix
from hotro.shared.settings import ServiceSettings

STORE = "sqlite:///unused.sqlite"


def test_user_and_password_file_give_user_password_and_own_inbox(tmp_path: Path) -> None:
    secret = tmp_path / "intake.password"
    secret.write_text("s3cret\n", encoding="utf-8")
    settings = ServiceSettings(nats_url="nats://nats:4222", store_url=STORE,
                               nats_user="intake", nats_password_file=str(secret))
    options = settings.nats_credentials().connect_options(settings.nats_servers())
    assert options == {"user": "intake", "password": "s3cret", "inbox_prefix": "_INBOX_intake"}


def test_credentials_in_the_url_still_work_and_get_their_users_inbox() -> None:
    settings = ServiceSettings(nats_url="nats://routing:pw@nats:4222", store_url=STORE)
    options = settings.nats_credentials().connect_options(settings.nats_servers())
    assert options == {"inbox_prefix": "_INBOX_routing"}  # nats-py reads the URL's


def test_no_credentials_for_a_bare_server() -> None:
    assert NatsCredentials().connect_options(["nats://127.0.0.1:4222"]) == {}


@pytest.mark.parametrize("extra", [
    {"nats_password_file": "/run/secrets/x"},                       # a file without a user
    {"nats_user": "intake", "nats_password_file": "/run/secrets/x",
     "nats_url": "nats://intake:pw@nats:4222"},                      # given twice
    {"nats_user": "sla", "nats_url": "nats://intake:pw@nats:4222"},  # two different users
    {"nats_user": "in take"},                                        # not a subject token
])
def test_ambiguous_or_broken_credentials_are_refused_at_start(extra: dict[str, str]) -> None:
    values: dict[str, Any] = {"nats_url": "nats://nats:4222", "store_url": STORE, **extra}
    with pytest.raises(ValidationError):
        ServiceSettings.model_validate(values)


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        NatsCredentials("intake", str(empty)).connect_options(["nats://nats:4222"])


def test_inbox_prefix_is_a_single_subject_token() -> None:
    assert inbox_prefix("notify") == "_INBOX_notify"
    for bad in ("a.b", "a*", "a>", ""):
        with pytest.raises(ValueError):
            inbox_prefix(bad)
