"""`hotro up` records where its NATS runs, and the operators' tools — other processes,
with no NATS setting in their environment — find it by the data directory alone; after
Ctrl-C the record says stopped and the tools say so."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hotro.cli_exit import EXIT_UNAVAILABLE
from hotro.shared.privacy.sealing import ERASED
from tests.support.hotro_up import HotroUp, clean_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

NAME = "Lê Thị Thu Hà"


def _tool(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotro.cli", *argv, "--data-dir",
                           str(data_dir)], capture_output=True, text=True, env=clean_env(),
                          timeout=120)


async def test_hotro_up_records_its_nats_and_the_tools_find_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    up = HotroUp(data_dir).start()
    try:
        record = json.loads((data_dir / "system.json").read_text(encoding="utf-8"))
        banner_nats = re.search(r"NATS:\s+(\S+)", up.banner)
        assert banner_nats is not None
        assert record["state"] == "running" and record["nats"]["urls"] == \
            banner_nats.group(1).split(",")
        assert record["pid"] == up.proc.pid  # type: ignore[union-attr]

        async with httpx.AsyncClient(base_url=up.base_url, timeout=30) as client:
            r = await client.post("/api/complaints", json={
                "kind": "complaint", "channel": "web",
                "customer": {"name": NAME, "email": "ha.le@example.com"},
                "product": "dien-lanh", "category": "chat-luong-san-pham",
                "description": "Điều hoà không mát."})
            assert r.status_code == 201, r.text
            reference = r.json()["reference"]

        def audited() -> subprocess.CompletedProcess[str] | None:
            done = _tool(data_dir, "audit", reference)
            return done if done.returncode == 0 and "Contact.Recorded" in done.stdout \
                else None

        shown = await eventually(audited, timeout=60, message="the timeline across services")
        assert f"customer={NAME}" in shown.stdout and ERASED not in shown.stdout
        verified = _tool(data_dir, "audit", "verify", "--all")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "verified: no finding" in verified.stdout
    finally:
        assert up.stop() == 0

    record = json.loads((data_dir / "system.json").read_text(encoding="utf-8"))
    assert record["state"] == "stopped" and record["stopped_at"]
    refused = _tool(data_dir, "audit", reference)
    assert refused.returncode == EXIT_UNAVAILABLE and refused.stdout == ""
    assert f"the local system in {data_dir} is stopped" in refused.stderr
    assert f"hotro up --data-dir {data_dir}" in refused.stderr
    withheld = _tool(data_dir, "audit", reference, "--no-personal-data")
    assert withheld.returncode == 0 and "withheld" in withheld.stdout
