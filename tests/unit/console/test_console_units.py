"""The console's small rules: sign-in throttling, local redirects only, the complaint
form's checks and the filing-window preview, the action bodies sent to routing."""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.datastructures import FormData

from hotro.services.console.forms import ComplaintForm, filing_preview, intake_errors
from hotro.services.console.i18n import EN, VI, translator
from hotro.services.console.reference import load_reference
from hotro.services.console.routes_staff import action_body, case_version
from hotro.services.console.security import SignInThrottle, safe_next


async def test_throttle_per_user_and_per_address() -> None:
    now = [0.0]
    throttle = SignInThrottle(failures_per_user=3, attempts_per_address=5, window_s=60,
                              monotonic=lambda: now[0])
    for _ in range(3):
        assert await throttle.retry_after("nv.lan", "10.0.0.1") is None
        await throttle.failed("nv.lan")
    assert await throttle.retry_after("NV.LAN", "10.0.0.2") is not None  # case-insensitive
    assert await throttle.retry_after("nv.binh", "10.0.0.1") is None  # 4th from the address
    assert await throttle.retry_after("nv.an", "10.0.0.1") is None  # 5th
    assert await throttle.retry_after("nv.ha", "10.0.0.1") is not None  # the address is spent
    now[0] = 61.0
    assert await throttle.retry_after("nv.lan", "10.0.0.1") is None  # the window moved on


def test_only_local_redirects() -> None:
    assert safe_next("/cases/x?y=1") == "/cases/x?y=1"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", None, "/a\r\nb"):
        assert safe_next(bad) == "/"


def test_form_checks_and_body() -> None:
    t = translator("vi")
    form = ComplaintForm.from_form(FormData([("name", " Lan "), ("description", ""),
                                             ("incident_date", "31/02/2026")]))
    errors = form.check(t)
    assert set(errors) == {"description", "incident_date"}
    ok = ComplaintForm.from_form(FormData([("name", "Lan"), ("description", "Hỏng"),
                                           ("phone", "0912345678"), ("kind", "complaint"),
                                           ("product", "dien-lanh")]))
    assert ok.check(t) == {}
    assert ok.body("counter") == {"kind": "complaint", "channel": "counter",
                                  "customer": {"name": "Lan", "phone": "0912345678"},
                                  "description": "Hỏng", "language": "vi",
                                  "product": "dien-lanh"}
    assert intake_errors([{"field": "customer.phone", "message_vi": "sai",
                           "message_en": "wrong"}], "en") == {"customer.phone": "wrong"}


def test_filing_preview_and_channel_rule() -> None:
    reference = load_reference(None, None, None)
    t = translator("vi")
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    late = ComplaintForm({"kind": "complaint", "incident_date": "2026-01-02"})
    assert filing_preview(reference, late, "counter", now, t)["late"] is True
    fresh = ComplaintForm({"kind": "complaint", "incident_date": "2026-03-01"})
    preview = filing_preview(reference, fresh, "counter", now, t)
    assert preview["late"] is False and preview["last_day"] > date(2026, 3, 1)
    refund = ComplaintForm({"kind": "complaint", "category": "hoan-tien"})
    assert filing_preview(reference, refund, "hotline", now, t)["channel_rule"]
    assert filing_preview(reference, refund, "counter", now, t)["channel_rule"] is None
    advice = ComplaintForm({"kind": "advice", "incident_date": "2026-01-02"})
    assert "last_day" not in filing_preview(reference, advice, "web", now, t)


def test_action_bodies() -> None:
    form = FormData([("items", "hoa-don"), ("items", "anh-san-pham"),
                     ("due_date", "2026-12-31"), ("message", "")])
    assert action_body("request_info", form) == {
        "items": ["hoa-don", "anh-san-pham"], "due_date": "2026-12-31", "message": ""}
    assert action_body("refer", FormData([("department", "giao-van"),
                                          ("question", "?")])) == {
        "department": "giao-van", "question": "?"}
    assert action_body("reopen", FormData([("reason", "x")])) == {"reason": "x"}


def test_case_version_moves_with_the_case() -> None:
    case = {"state": "analysing", "timeline": [1], "sla_status": "on_track", "deadlines": {}}
    first = case_version(case, [])
    assert case_version({**case, "timeline": [1, 2]}, []) != first
    assert case_version(case, [{"id": "d", "status": "sent"}]) != first


def test_catalogues_match() -> None:
    assert set(VI) == set(EN)


def test_every_message_notify_sends_has_a_name_on_the_case_page() -> None:
    from hotro.services.notify.adapters.rendering import PURPOSES

    assert [p for p in PURPOSES if f"purpose.{p}" not in VI] == []
