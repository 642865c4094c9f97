"""The customer's page end to end: intake, routing, sla and notify in-process over a real
nats-server. The page follows the case through the events intake consumes (sla's reply
deadline, routing's information request) and the customer answers with their link
(documents included); routing ticks the checklist. Without the link: nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hotro.natsbin import NatsServerProcess
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.staff import capabilities
from hotro.shared.staff.signing import new_keyring, write_keys
from tests.conftest import TEST_LEASE_TTL_S, TEST_PARTITIONS
from tests.support.staff import auth
from tests.support.system import running_system
from tests.support.waiting import eventually


async def test_the_customer_follows_and_answers_their_case_with_its_link(
        provisioned: NatsServerProcess, tmp_path: Path) -> None:
    keys = new_keyring(capabilities.PURPOSE, datetime.now(VIETNAM_TZ))
    keys_file = write_keys(tmp_path / "capability-keys.toml", keys)
    async with running_system(
            provisioned.url, lambda s: f"sqlite:///{tmp_path}/{s}.sqlite", tmp_path,
            partitions=TEST_PARTITIONS, lease_ttl_s=TEST_LEASE_TTL_S,
            settings_extra={"intake": {"capability_keys_file": str(keys_file)}}) as system, \
            system.client("intake") as intake, system.client("routing") as routing:
        r = await intake.post("/api/complaints", headers={
            "Idempotency-Key": str(uuid.uuid4())}, json={
            "kind": "complaint", "channel": "web",
            "customer": {"name": "Nguyễn Thị Ánh", "email": "anh.nguyen@example.com"},
            "product": "dien-lanh", "category": "chat-luong-san-pham",
            "description": "Tủ lạnh mới mua không lạnh."})
        assert r.status_code == 201, r.text
        cid, reference = r.json()["id"], r.json()["reference"]
        token = capabilities.issue(complaint_id=cid, reference=reference, generation=0,
                                   keys=keys, now=datetime.now(VIETNAM_TZ))
        link = {"Authorization": f"Bearer {token}"}

        async def page_when(**expected: Any) -> dict[str, Any]:
            async def check() -> dict[str, Any]:
                got = await intake.get("/api/customer/case", headers=link)
                assert got.status_code == 200, got.text
                body: dict[str, Any] = got.json()
                ok = all(body.get(k) == v for k, v in expected.items())
                return body if ok else {}
            return await eventually(check, message=f"customer page {expected}")

        page = await page_when(state="being_analysed")
        assert page["reference"] == reference and page["reply_due"] is not None
        assert (await intake.get("/api/customer/case")).status_code == 401

        due = (datetime.now(VIETNAM_TZ).date() + timedelta(days=5)).isoformat()
        asked = await routing.post(f"/api/cases/{cid}/actions/request_info",
                                   headers=auth("support"),
                                   json={"items": ["hoa-don"], "due_date": due,
                                         "message": "Xin quý khách gửi hóa đơn."})
        assert asked.status_code == 200, asked.text
        waiting = await page_when(state="awaiting_information")
        assert waiting["waiting_for"] == {"items": ["hoa-don"], "due_date": due}

        sent = await intake.post("/api/customer/case/info", headers=link,
                                 data={"content": "Hóa đơn đính kèm.",
                                       "items": ["hoa-don"]},
                                 files=[("files", ("hoa-don.pdf", b"%PDF-1.4 hd",
                                                   "application/pdf"))])
        assert sent.status_code == 202, sent.text

        async def ticked() -> bool:
            case = await routing.get(f"/api/cases/{cid}", headers=auth("support"))
            body = case.json()
            return bool(body.get("state") == "analysing"
                        and body.get("checklist", {}).get("hoa-don"))

        await eventually(ticked, message="routing ticked the invoice")
        after = await page_when(state="being_analysed")
        [info] = after["information_sent"]
        assert info["attachments"] == [{"filename": "hoa-don.pdf",
                                        "content_type": "application/pdf", "size": 11}]
