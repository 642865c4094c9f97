"""`hotro up` as a newcomer runs it: one command, one address, Ctrl-C stops everything,
and a second run keeps the data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hotro.natsbin import port_is_free
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


def _start(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTRO_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "hotro.cli", "up", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    banner: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if "Press Ctrl-C" in line:
            return proc, "".join(banner)
    proc.kill()
    raise AssertionError("hotro up did not come up:\n" + "".join(banner))


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _service_pids(data_dir: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", "hotro.cli serve .*"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    mine = []
    for pid in pids:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if str(data_dir).encode() in environ:
            mine.append(pid)
    return mine


async def test_hotro_up_runs_the_system_for_a_newcomer(tmp_path: Path) -> None:
    nats_default_taken = not port_is_free(4222)
    proc, banner = _start(tmp_path / "var")
    try:
        address = re.search(r"Open:\s+(http://127\.0\.0\.1:\d+)/", banner)
        assert address, banner
        base = address.group(1)
        assert "Logs:" in banner and "Mail out:" in banner and "Mail in:" in banner
        if nats_default_taken:
            assert "port 4222 (nats) is taken" in banner
        tokens: dict[str, str] = {}
        for role, token in re.findall(r"^\s{4}(\w+)\s+\S+\s+password \S{12,}\s+token (\S{20,})$",
                                      banner, re.MULTILINE):
            tokens.setdefault(role, token)  # the first demo user of each role
        assert set(tokens) >= {"agent", "support", "department", "supervisor", "auditor"}

        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            # the address it prints opens the console (its sign-in page, in Vietnamese)
            page = await client.get("/", follow_redirects=True)
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert "Đăng nhập" in page.text, page.text[:500]
            r = await client.post("/api/complaints", json={
                "kind": "complaint", "channel": "web",
                "customer": {"name": "Võ Thị Hồng", "email": "hong.vo@example.com",
                             "phone": "0987 654 321"},
                "product": "dien-lanh", "category": "chat-luong-san-pham",
                "description": "Máy lạnh chảy nước."})
            assert r.status_code == 201, r.text
            created = r.json()
            auth = {"Authorization": f"Bearer {tokens['support']}"}

            async def case_visible() -> bool:
                q = await client.get("/api/cases", headers=auth)
                return q.status_code == 200 and any(
                    c["reference"] == created["reference"] for c in q.json())

            await eventually(case_visible, timeout=60, message="case in the support queue")
            mail_dir = tmp_path / "var" / "mail" / "new"
            await eventually(lambda: mail_dir.exists() and any(mail_dir.iterdir()),
                             timeout=60, message="acknowledgement in the local mailbox")
    finally:
        _stop(proc)
    assert not _service_pids(tmp_path / "var"), "a service process outlived Ctrl-C"

    proc, banner = _start(tmp_path / "var")
    try:
        base = re.search(r"Open:\s+(http://127\.0\.0\.1:\d+)/", banner).group(1)  # type: ignore[union-attr]
        # the same demo tokens after a re-run: the users file is kept with the data
        r = httpx.get(f"{base}/api/complaints/{created['reference']}", timeout=30,
                      headers={"Authorization": f"Bearer {tokens['support']}"})
        assert r.status_code == 200 and r.json()["id"] == created["id"]
    finally:
        _stop(proc)
