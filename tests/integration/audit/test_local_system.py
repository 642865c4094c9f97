"""The operators' tools against the local system as `hotro up` lays it out — a
nats-server requiring authentication (``hotro.local_nats``), the four services with their
own users and SQLite stores in the data directory, and the record of where NATS runs
(``<data dir>/system.json``, written as `hotro up` writes it). No ``HOTRO_NATS_URL``: the
tools find the system by its data directory; when they cannot open the data keys they
refuse and say why, and they never show "erased" for a customer who was not erased."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hotro import local_nats
from hotro.audit import keys
from hotro.cli import main as hotro
from hotro.cli_exit import EXIT_UNAVAILABLE
from hotro.natsbin import NatsServerProcess, free_port
from hotro.provisioning import provision_all
from hotro.shared.messaging.credentials import connect
from hotro.shared.privacy.kv import TOMBSTONE, bucket
from hotro.shared.privacy.sealing import ERASED
from hotro.system_record import mark_stopped, write_running
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.integration.test_pipeline import COMPLAINT
from tests.support.system import InProcessSystem, running_system, settled
from tests.support.waiting import eventually

SERVICES = ("intake", "routing", "sla", "notify")
NAME = "Đặng Thị Hồng Nhung"


@dataclass
class Local:
    root: Path
    server: NatsServerProcess
    system: InProcessSystem

    def args(self) -> list[str]:
        return [f"--data-dir={self.root}"]


@pytest.fixture(autouse=True)
def operator_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh shell on the machine that runs `hotro up`: no NATS settings at all."""
    for name in ("HOTRO_NATS_URL", "HOTRO_NATS_USER", "HOTRO_NATS_PASSWORD_FILE",
                 "HOTRO_DATA_DIR", *(f"HOTRO_{s.upper()}_STORE_URL" for s in SERVICES)):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[Local]:
    root = tmp_path / "var"
    (root / "logs").mkdir(parents=True)
    server = local_nats.local_server(root, 0, TEST_PARTITIONS,
                                     log_file=root / "logs" / "nats-server.log")
    server.start()
    try:
        await provision_all(server.url, partitions=TEST_PARTITIONS,
                            lease_ttl_s=TEST_LEASE_TTL_S,
                            credentials=local_nats.operator_credentials(root))
        extra: dict[str, dict[str, Any]] = {}
        for service in SERVICES:
            creds = local_nats.credentials(root, service)
            extra[service] = {"nats_user": creds.user, "nats_password_file":
                              creds.password_file, "pii_key_cache_s": 0}
        async with running_system(server.url, lambda s: f"sqlite:///{root / f'{s}.sqlite'}",
                                  root, partitions=TEST_PARTITIONS,
                                  lease_ttl_s=TEST_LEASE_TTL_S,
                                  settings_extra=extra) as system:
            write_running(root, server.url, external=False)  # as `hotro up` does
            yield Local(root, server, system)
    finally:
        server.stop()


async def _submit(local: Local, name: str) -> dict[str, Any]:
    async with local.system.client("intake") as client:
        r = await client.post("/api/complaints", headers={"Idempotency-Key": str(uuid.uuid4())},
                              json={**COMPLAINT, "customer": {**COMPLAINT["customer"],  # type: ignore[dict-item]
                                                              "name": name}})
    assert r.status_code == 201, r.text
    await eventually(lambda: settled(local.system, TEST_PARTITIONS), timeout=30,
                     message="settled")
    created: dict[str, Any] = r.json()
    return created


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(hotro, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_the_tools_find_the_local_system_by_its_data_directory(
        local: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    created = await _submit(local, NAME)
    ref = created["reference"]

    code, out, err = await _cli(capsys, "audit", ref, *local.args())
    assert code == 0, err
    received = next(line for line in out.splitlines() if "Request.Received" in line)
    assert f"customer={NAME}" in received and ERASED not in out

    code, out, err = await _cli(capsys, "export", ref, *local.args())
    assert code == 0, err
    assert f"customer={NAME}" in out and "events of 1 complaint(s)" in err

    pdf = tmp_path / "pack.pdf"
    code, out, err = await _cli(capsys, "export", ref, "--evidence", str(pdf), *local.args())
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF"), err

    code, out, err = await _cli(capsys, "audit", "verify", "--all", *local.args())
    assert code == 0 and "verified: no finding" in out, out + err
    assert "\r" not in err  # stderr is not a terminal here: no progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, real = Terminal(), sys.stderr
    sys.stderr = terminal
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TERM", "xterm")
            code = await asyncio.to_thread(hotro, ["audit", "verify", "--all", *local.args()])
    finally:
        sys.stderr = real
    assert code == 0
    drawn = terminal.getvalue()
    assert "\r\x1b[2Kverify intake: rows:" in drawn and "verify notify: stream:" in drawn
    assert drawn.endswith("\r\x1b[2K")  # cleared before the report is printed

    # --nats > HOTRO_NATS_URL > the record
    with pytest.MonkeyPatch.context() as env:
        away = f"nats://127.0.0.1:{free_port()}"
        env.setenv("HOTRO_NATS_URL", away)
        code, out, err = await _cli(capsys, "audit", ref, *local.args())
        assert code == EXIT_UNAVAILABLE and out == ""
        assert f"cannot reach NATS at {away} (from HOTRO_NATS_URL)" in err
        code, out, err = await _cli(capsys, "audit", ref, f"--nats={local.server.url}",
                                    *local.args())
        assert code == 0 and f"customer={NAME}" in out, err


async def test_missing_or_wrong_credentials_and_permissions_are_named(
        local: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ref = (await _submit(local, NAME))["reference"]
    operator_file = local_nats.password_file(local.root, local_nats.OPERATOR)

    # no operator password in the data directory
    hidden = operator_file.with_name("moved-away")
    operator_file.rename(hidden)
    try:
        code, out, err = await _cli(capsys, "audit", ref, *local.args())
    finally:
        hidden.rename(operator_file)
    assert code == EXIT_UNAVAILABLE and out == "" and ERASED not in err
    assert "refused the connection of no user (no credentials found)" in err
    assert str(operator_file) in err and "--no-personal-data" in err

    with pytest.MonkeyPatch.context() as env:
        wrong = tmp_path / "wrong.password"
        wrong.write_text("not-the-password\n")
        env.setenv("HOTRO_NATS_USER", local_nats.OPERATOR)
        env.setenv("HOTRO_NATS_PASSWORD_FILE", str(wrong))
        code, out, err = await _cli(capsys, "export", ref, *local.args())
        assert code == EXIT_UNAVAILABLE and out == ""
        assert f"refused the connection of user 'provision' (password file {wrong})" in err

        env.setenv("HOTRO_NATS_PASSWORD_FILE", str(tmp_path / "nowhere"))
        code, out, err = await _cli(capsys, "audit", ref, *local.args())
        assert code == EXIT_UNAVAILABLE
        assert f"cannot read the NATS password file: No such file or directory: " \
               f"{tmp_path / 'nowhere'}" in err

        # a user that may not read the data keys: refused at once, and said so
        env.setenv("HOTRO_NATS_USER", "routing")
        env.setenv("HOTRO_NATS_PASSWORD_FILE",
                   str(local_nats.password_file(local.root, "routing")))
        started = time.monotonic()
        code, out, err = await _cli(capsys, "audit", ref, *local.args())
        assert time.monotonic() - started < 8
        assert code == EXIT_UNAVAILABLE and out == ""
        assert "refused user 'routing'" in err and "permissions violation" in err
        assert "operator" in err


async def test_erased_absent_and_open_keys_are_told_apart(
        local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    kept = await _submit(local, NAME)
    gone = await _submit(local, "Trần Văn Xoá")

    code, out, err = await _cli(capsys, "erase", gone["reference"], "--reason",
                                "yêu cầu của khách hàng", "--by", "dpo", *local.args())
    assert code == 0 and "data key(s) destroyed" in out, err

    nc = await connect([local.server.url], local_nats.operator_credentials(local.root))
    try:
        js = nc.jetstream(timeout=5)
        never = str(uuid.uuid4())
        found = await keys.fetch(js, [kept["id"], gone["id"], never])
        assert (await (await bucket(js)).get(gone["id"])).value == TOMBSTONE
    finally:
        await nc.close()
    assert found[kept["id"]].state is keys.KeyState.OPEN and found[kept["id"]].key
    assert found[gone["id"]].state is keys.KeyState.ERASED
    assert found[never].state is keys.KeyState.ABSENT

    code, out, err = await _cli(capsys, "audit", gone["reference"], *local.args())
    assert code == 0, err
    assert f"customer={ERASED}" in out and "Request.Erased" in out
    code, out, err = await _cli(capsys, "export", "--from", "2020-01-01", "--to", "2099-12-31",
                                *local.args())
    assert code == 0, err
    summaries = {json.loads(line)["reference"]: json.loads(line)["summary"]
                 for line in out.splitlines()
                 if json.loads(line)["event"] == "Received"
                 and json.loads(line)["aggregate"] == "Request"}
    assert summaries[kept["reference"]].startswith(f"customer={NAME}")
    assert summaries[gone["reference"]].startswith(f"customer={ERASED}")

    # the system stops: the record says so, and the tools say so
    assert mark_stopped(local.root, pid=os.getpid())
    code, out, err = await _cli(capsys, "audit", kept["reference"], *local.args())
    assert code == EXIT_UNAVAILABLE and out == ""
    assert f"the local system in {local.root} is stopped" in err
    code, out, err = await _cli(capsys, "erase", kept["reference"], "--reason", "x",
                                *local.args())
    assert code == EXIT_UNAVAILABLE and "nothing was erased" in err
    # an erased customer needs no key to be shown as erased
    code, out, err = await _cli(capsys, "audit", gone["reference"], *local.args())
    assert code == 0 and f"customer={ERASED}" in out, err
