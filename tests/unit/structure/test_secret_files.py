"""Passwords come from files, never from a URL variable: the PostgreSQL role's, the mail
relay's and the IMAP mailbox's (NATS: tests/unit/messaging/test_nats_credentials.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hotro.services.intake.adapters.imap_poller import ImapConfig
from hotro.services.intake.settings import IntakeSettings
from hotro.services.notify.settings import NotifySettings
from hotro.services.sla.settings import SlaSettings
from hotro.shared.eventstore.persistence import persistence_env

BASE = {"nats_url": "nats://127.0.0.1:1", "store_url": "memory:", "allow_memory_store": True}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("s3cret-from-file\n", encoding="utf-8")
    return path


def test_the_store_password_is_read_from_its_file_and_never_put_in_the_url(
        secret: Path) -> None:
    settings = SlaSettings(nats_url="nats://127.0.0.1:1",
                           store_url="postgresql://hotro_sla@db:5432/hotro?schema=sla",
                           store_password_file=str(secret), store_sslmode="verify-full",
                           store_sslrootcert=str(secret))
    assert "s3cret" not in settings.store_url
    env = persistence_env(settings.store_url)
    assert env["POSTGRES_PASSWORD"] == "s3cret-from-file"
    assert env["POSTGRES_SSLMODE"] == "verify-full" and env["POSTGRES_SCHEMA"] == "sla"
    with pytest.raises(ValidationError, match="given twice"):
        SlaSettings(nats_url="nats://127.0.0.1:1",
                    store_url="postgresql://hotro_sla:inline@db:5432/hotro?schema=sla",
                    store_password_file=str(secret))
    with pytest.raises(ValidationError, match="postgresql"):
        SlaSettings(**BASE, store_password_file=str(secret))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="empty"):
        empty = secret.parent / "empty"
        empty.write_text("\n")
        SlaSettings(nats_url="nats://127.0.0.1:1", store_url="postgresql://u@db/hotro",
                    store_password_file=str(empty))


def test_the_relay_password_is_read_from_its_file(secret: Path) -> None:
    settings = NotifySettings(**BASE, smtp_host="relay.example.vn",  # type: ignore[arg-type]
                              smtp_username="hotro", smtp_password_file=str(secret))
    assert settings.smtp_secret() == "s3cret-from-file"
    without_user = NotifySettings(**BASE, smtp_host="relay.example.vn",  # type: ignore[arg-type]
                                  smtp_password_file=str(secret.parent / "absent"))
    assert without_user.smtp_secret() is None  # no login: the file is not needed
    with pytest.raises(ValidationError, match="given twice"):
        NotifySettings(**BASE, smtp_username="hotro",  # type: ignore[arg-type]
                       smtp_password="inline", smtp_password_file=str(secret))


def test_the_imap_password_is_read_from_its_file(secret: Path) -> None:
    settings = IntakeSettings(**BASE, pii_hash_secret="x",  # type: ignore[arg-type]
                              imap_host="imap.example.vn", imap_user="contact",
                              imap_password_file=str(secret))
    assert ImapConfig.from_settings(settings).password == "s3cret-from-file"
    with pytest.raises(ValidationError, match="IMAP password file"):
        IntakeSettings(**BASE, pii_hash_secret="x",  # type: ignore[arg-type]
                       imap_host="imap.example.vn", imap_password_file="/nonexistent/pw")
