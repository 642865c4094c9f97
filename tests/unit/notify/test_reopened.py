"""A reopened case: the customer is told, in their language and by their way, with the
new reply date sla set (the reopen's own reply clock) — once, and an advice request is
called one."""

from __future__ import annotations

import uuid

from hotro.services.notify.adapters.channels import template_context
from hotro.services.notify.adapters.rendering import CompanyInfo, render
from hotro.services.notify.domain import Dispatch
from hotro.services.routing.domain.workflow import Action
from tests.unit.audit.world import World, world
from tests.unit.notify.wire import dispatches


def _reopen(w: World, **submitted: object) -> uuid.UUID:
    cid = w.submit(**submitted)
    w.act(cid, Action.RESOLVE, resolution="Đổi sản phẩm mới.")
    w.act(cid, Action.RECORD_REPLY_SENT, method="phone", proof="call-1", sent_at=w.clock(),
          summary="Đã gọi báo khách")
    w.advance(days=1)
    w.act(cid, Action.CLOSE, reason="Đã trả lời")
    w.advance(days=2)
    w.act(cid, Action.REOPEN, "demo.supervisor", "supervisor", reason="Khách chưa hài lòng")
    return cid


def _reopened(w: World, cid: uuid.UUID) -> list[Dispatch]:
    return [d for d in dispatches(w.apps["notify"])
            if d.complaint_id == cid and d.purpose == "reopened"]


def test_a_reopen_tells_the_customer_the_new_reply_date() -> None:
    w = world()
    cid = _reopen(w, language="en")
    [notice] = _reopened(w, cid)
    clocks = sorted((c for c in w.apps["sla"].clocks_of(cid) if c.kind.startswith("reply")),
                    key=lambda c: c.start)
    assert [c.kind for c in clocks][-1].startswith("reply/reopen")
    assert notice.context["new_reply_deadline"] == clocks[-1].last_day
    assert notice.language == "en" and notice.method == "email"

    assert notice.status == "sent"  # the world's pump sends what is pending
    context = {**template_context(notice.context), "customer_name": "Ánh"}  # sealed
    text = render("reopened", notice.language, context,
                  CompanyInfo(), method=notice.method).text
    last = clocks[-1].last_day
    assert "has been reopened" in text
    assert f"{last[8:10]}/{last[5:7]}/{last[:4]}" in text
    # not a reply: the new reply clock keeps running
    assert next(c for c in w.apps["sla"].clocks_of(cid) if c.kind == clocks[-1].kind).is_open


def test_an_advice_request_reopened_is_called_one_in_vietnamese() -> None:
    w = world()
    cid = _reopen(w, kind="advice", category="tu-van-dich-vu")
    [notice] = _reopened(w, cid)
    assert notice.language == "vi"
    assert notice.reference.startswith("TV-")


def test_a_reopen_the_day_it_was_answered_is_told_though_its_date_is_the_same() -> None:
    w = world()
    cid = w.submit()
    w.act(cid, Action.RESOLVE, resolution="Đổi sản phẩm mới.")
    w.act(cid, Action.RECORD_REPLY_SENT, method="phone", proof="call-1", sent_at=w.clock(),
          summary="Đã gọi báo khách")
    w.act(cid, Action.CLOSE, reason="Đã trả lời")
    w.act(cid, Action.REOPEN, "demo.supervisor", "supervisor", reason="Khách gọi lại ngay")
    [notice] = _reopened(w, cid)
    reply_days = {c.kind: c.last_day for c in w.apps["sla"].clocks_of(cid)
                  if c.kind.startswith("reply")}
    assert reply_days["reply/reopen-1"] == notice.context["new_reply_deadline"]
    w.act(cid, Action.RESOLVE, resolution="Sửa tại nhà.")
    w.act(cid, Action.RECORD_REPLY_SENT, method="phone", proof="call-2", sent_at=w.clock(),
          summary="Đã gọi")
    w.act(cid, Action.CLOSE, reason="Xong")
    w.act(cid, Action.REOPEN, "demo.supervisor", "supervisor", reason="Lần nữa")
    assert len(_reopened(w, cid)) == 2  # each reopen told once
