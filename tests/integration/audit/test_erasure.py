"""Erasure acceptance (crypto-shredding) over a real nats-server, PostgreSQL and SMTP: the
customer's name, phone and email are stored and published only sealed; before erasure
everything works (acknowledgement by email, a hotline call linked by the number, the
sender recognised for threading, staff see the name); after ``hotro erase`` nothing of
them is readable in any store, on the stream, in the exports or the timeline — and
``hotro audit verify`` still passes."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest
from psycopg import sql

from hotro.cli import main as hotro
from hotro.natsbin import NatsServerProcess
from hotro.services.intake.adapters.email import AttachmentStore
from hotro.services.intake.application import NewRequest
from hotro.services.routing.domain.workflow import Action
from hotro.shared.clock import VIETNAM_TZ as ICT
from hotro.shared.contracts.subjects import EVENTS_STREAM
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import ERASED
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.postgres import PG_BASE, PostgresSchemas
from tests.support.smtp import running_sink
from tests.support.staff import auth
from tests.support.system import running_system, settled
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres

NAME = "Phạm Thị Xoá Thửnghiệm"
PHONE_RAW = "0987 111 229"
PHONE_DIGITS = "0987111229"
PHONE_E164 = "+84987111229"
EMAIL = "xoa.thunghiem.erasure@example.vn"
ADDRESS = "99 Phố Quênđi, Hà Nội"
SERVICES = ("intake", "routing", "sla", "notify")
DESCRIPTION = "Tủ lạnh mới mua không lạnh."


def _needles() -> list[bytes]:
    """Every form the personal data could take in stored or published bytes."""
    out: list[bytes] = []
    for text in (NAME, "Xoá Thửnghiệm", PHONE_RAW, PHONE_DIGITS, PHONE_E164, "987111229",
                 EMAIL, ADDRESS, "Quênđi"):
        out.append(text.encode())
        out.append(json.dumps(text)[1:-1].encode())  # \\u-escaped JSON
    return out


def _leaks(blob: bytes | str) -> list[str]:
    data = blob.encode() if isinstance(blob, str) else bytes(blob)
    return [n.decode("unicode_escape", "replace") for n in _needles() if n in data]


def _schema(pg: PostgresSchemas, service: str) -> str:
    return pg.url(service).split("schema=", 1)[1]


def _store_leaks(pg: PostgresSchemas, control: str | None = None) -> dict[str, list[str]]:
    """Personal data found in the raw event rows of every store. ``control``: a clear
    text that must be found (proves the rows are readable as scanned)."""
    found: dict[str, list[str]] = {}
    seen_control = control is None
    with psycopg.connect(PG_BASE) as conn:
        for svc in SERVICES:
            rows = conn.execute(sql.SQL("SELECT topic, state FROM {}.{}").format(
                sql.Identifier(_schema(pg, svc)), sql.Identifier(f"{svc}_events"))).fetchall()
            assert rows, f"{svc} stored nothing"
            for topic, state in rows:
                for leak in _leaks(bytes(state)):
                    found.setdefault(f"{svc} {topic}", []).append(leak)
                if control is not None and (control.encode() in bytes(state) or
                                            json.dumps(control)[1:-1].encode()
                                            in bytes(state)):
                    seen_control = True
    assert seen_control, f"{control!r} not found: the scan reads nothing"
    return found


async def _stream_leaks(nats_url: str, control: str) -> dict[str, list[str]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(EVENTS_STREAM)
        found: dict[str, list[str]] = {}
        seen_control = False
        assert info.state.messages > 0
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(EVENTS_STREAM, seq)
            leaks = _leaks(msg.data or b"") + _leaks(repr(msg.headers or {}))
            if leaks:
                found[msg.subject or str(seq)] = leaks
            seen_control = seen_control or control.encode() in (msg.data or b"")
        assert seen_control, f"{control!r} not on the stream: the scan reads nothing"
        return found
    finally:
        await nc.close()



async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(hotro, list(argv))
    return code, capsys.readouterr().out


def _attachment(sha256: str, filename: str) -> dict[str, Any]:
    return {"sha256": sha256, "filename": filename, "content_type": "image/jpeg", "size": 12}


async def test_erased_customer_is_unreadable_everywhere_and_the_audit_still_verifies(
        provisioned: NatsServerProcess, tmp_path: Path, pg_schemas: PostgresSchemas,
        capsys: pytest.CaptureFixture[str]) -> None:
    stores = [f"--store={s}={pg_schemas.url(s)}" for s in SERVICES]
    nats_arg = f"--nats={provisioned.url}"
    with running_sink() as (sink, smtp_port):
        extra: dict[str, dict[str, Any]] = {
            # no key caching: the erasure must show at once (production: a few seconds)
            "intake": {"pii_key_cache_s": 0},
            "notify": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port,
                       "smtp_starttls": False, "pii_key_cache_s": 0}}
        async with running_system(provisioned.url, pg_schemas.url, tmp_path,
                                  partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
                                  settings_extra=extra) as system:
            intake = system.application("intake")
            async with system.client("intake") as client:
                r = await client.post("/api/complaints", headers={
                    "Idempotency-Key": str(uuid.uuid4())}, json={
                    "kind": "complaint", "channel": "web",
                    "customer": {"name": NAME, "phone": PHONE_RAW, "email": EMAIL,
                                 "address": ADDRESS},
                    "product": "dien-lanh", "category": "chat-luong-san-pham",
                    "description": DESCRIPTION})
                assert r.status_code == 201, r.text
                cid, reference = uuid.UUID(r.json()["id"]), r.json()["reference"]

                # ---- before erasure everything works ----
                [ack] = await eventually(lambda: sink.to(EMAIL, reference),
                                         message="acknowledgement delivered")
                body = ack.get_body(("plain",))
                assert body is not None and NAME in body.get_content()  # opened to send
                view = (await client.get(f"/api/complaints/{reference}", headers=auth())).json()
                assert view["customer"]["name"] == NAME and not view["erased"]
            call = await asyncio.to_thread(
                intake.call_started, call_id="erasure-call-1", caller=PHONE_E164,
                caller_raw=PHONE_RAW, at=None, trace=Trace.system("test").as_dict())
            assert call.linked_reference == reference  # linked by the number's keyed hash
            # the customer sends a photo of the invoice; a logo is in another complaint too
            files = AttachmentStore(tmp_path / "attachments")
            invoice, logo = files.put(b"invoice photo " + NAME.encode()), files.put(b"logo")
            other = await asyncio.to_thread(
                intake.receive, NewRequest(kind="advice", channel="web", description="khác",
                                           customer={"name": "Khách khác",
                                                     "email": "khac@example.vn"},
                                           attachments=(_attachment(logo, "logo.png"),)),
                Trace.system("test").as_dict())
            await asyncio.to_thread(
                intake.provide_info, cid, channel="email", content="Ảnh hoá đơn", items=[],
                attachments=[_attachment(invoice, "hoa-don.jpg"), _attachment(logo, "logo.png")],
                trace=Trace.system("test").as_dict())
            request = await asyncio.to_thread(intake.get_request, cid)
            assert intake.same_sender(request, EMAIL.upper())  # threading by sender
            await eventually(lambda: settled(system, TEST_PARTITIONS), message="settled")

            # ---- stored and published only sealed, already before erasure ----
            assert _store_leaks(pg_schemas, control=DESCRIPTION) == {}
            assert await _stream_leaks(provisioned.url, control=reference) == {}

            # ---- erase ----
            code, out = await _cli(capsys, "erase", reference, "--reason",
                                   "yêu cầu của khách hàng (Điều 16 NĐ 13/2023)",
                                   "--by", "dpo.lan", nats_arg, *stores,
                                   f"--data-dir={tmp_path}")
            assert code == 0 and "data key(s) destroyed" in out, out
            code, again = await _cli(capsys, "erase", reference, "--reason", "twice",
                                     "--by", "dpo.lan", nats_arg, *stores,
                                     f"--data-dir={tmp_path}")
            assert code == 0 and "no data key existed" in again, again  # harmless
            # the customer's own attachment is deleted, the shared one kept
            assert not files.exists(invoice) and files.exists(logo), out
            assert other.reference.startswith("TV-")

            async with system.client("intake") as client:
                view = (await client.get(f"/api/complaints/{reference}", headers=auth())).json()
            assert view["customer"] is None and view["erased"] is True
            assert not intake.same_sender(request, "someone.else@example.vn")

            # a later message to the customer fails permanently: "erased"
            routing = system.application("routing")
            await eventually(lambda: (c := routing._find(cid)) is not None
                             and c.state.value == "analysing", message="analysing")
            due = (datetime.now(ICT) + timedelta(days=7)).date()
            await asyncio.to_thread(
                routing.act, cid, Action.REQUEST_INFO, role="support",
                actor_department=None, items=["hoa-don"], due_date=due,
                message="Xin bổ sung hoá đơn.",
                trace=Trace(actor_kind="staff", actor_id="demo.support",
                            actor_role="support",
                            correlation_id=str(uuid.uuid4())).as_dict())
            log = system.apps["notify"].state.dispatch_log

            def failed_info_request() -> dict[str, Any] | None:
                rows = log.entries(complaint_id=cid, purpose="info_request", limit=10)
                return rows[0] if rows and rows[0]["status"] == "failed" else None

            failed = await eventually(failed_info_request, message="info request failed")
            assert failed["last_error"] == "erased"
            assert len(sink.to(EMAIL, reference)) == 1  # nothing more went out
            await eventually(lambda: settled(system, TEST_PARTITIONS),
                             message="settled after erasure")

            # ---- nothing readable: stores, stream ----
            assert _store_leaks(pg_schemas, control=DESCRIPTION) == {}
            assert await _stream_leaks(provisioned.url, control=reference) == {}

    # ---- timeline, exports: the redaction shows, the data does not ----
    code, text = await _cli(capsys, "audit", reference, nats_arg, *stores)
    assert code == 0 and ERASED in text and "Request.Erased" in text, text
    assert _leaks(text) == []
    code, out = await _cli(capsys, "audit", reference, "--json", nats_arg, *stores)
    assert code == 0 and _leaks(out) == []
    jsonl, csv_path = tmp_path / "export.jsonl", tmp_path / "export.csv"
    assert (await _cli(capsys, "export", reference, "--out", str(jsonl), nats_arg,
                       *stores))[0] == 0
    assert (await _cli(capsys, "export", reference, "--format", "csv", "--out",
                       str(csv_path), nats_arg, *stores))[0] == 0
    for path in (jsonl, csv_path):
        content = path.read_text(encoding="utf-8-sig")
        assert "Request.Erased" in content or "Erased" in content
        assert _leaks(content) == [], path

    # ---- the audit still verifies (seals over ciphertext; store = stream) ----
    code, report = await _cli(capsys, "audit", "verify", reference, nats_arg, *stores)
    assert code == 0, report
