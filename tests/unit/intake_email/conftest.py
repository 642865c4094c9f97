from __future__ import annotations

from pathlib import Path

import pytest

from hotro.services.intake.adapters.email import AttachmentStore, EmailLimits


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "attachments")


@pytest.fixture
def limits() -> EmailLimits:
    return EmailLimits()
