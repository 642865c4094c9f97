"""The complaint form (counter, hotline and the public web form): what the browser sent,
checked the way intake checks it, turned into intake's request body."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.datastructures import FormData

from hotro.services.console.reference import Reference
from hotro.shared.clock import VIETNAM_TZ

FIELDS = ("kind", "channel", "name", "phone", "email", "address", "product", "category",
          "incident_date", "order_ref", "description", "language", "call_id", "idem")


@dataclass
class ComplaintForm:
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls, *, channel: str, call_id: str | None = None, phone: str | None = None
              ) -> ComplaintForm:
        return cls({"kind": "complaint", "channel": channel, "language": "vi",
                    "call_id": call_id or "", "phone": phone or "",
                    "idem": str(uuid.uuid4())})

    @classmethod
    def from_form(cls, form: FormData) -> ComplaintForm:
        values = {}
        for name in FIELDS:
            raw = form.get(name)
            values[name] = raw.strip() if isinstance(raw, str) else ""
        return cls(values)

    def __getattr__(self, name: str) -> str:
        if name in FIELDS:
            return self.values.get(name, "")
        raise AttributeError(name)

    def incident(self) -> date | None:
        text = self.values.get("incident_date")
        if not text:
            return None
        return date.fromisoformat(text)

    def check(self, t: Any) -> dict[str, str]:
        """The console's own first checks (intake checks everything again)."""
        errors: dict[str, str] = {}
        if not self.values.get("name"):
            errors["customer.name"] = t("intake.error.name")
        if not self.values.get("description"):
            errors["description"] = t("intake.error.description")
        try:
            self.incident()
        except ValueError:
            errors["incident_date"] = t("intake.error.date")
        return errors

    def body(self, channel: str) -> dict[str, Any]:
        v = self.values
        customer = {"name": v["name"]}
        for key in ("phone", "email", "address"):
            if v.get(key):
                customer[key] = v[key]
        body: dict[str, Any] = {
            "kind": v.get("kind") or "complaint", "channel": channel, "customer": customer,
            "description": v["description"], "language": v.get("language") or "vi"}
        for key in ("product", "category", "incident_date", "order_ref", "call_id"):
            if v.get(key):
                body[key] = v[key]
        return body


def intake_errors(errors: list[dict[str, str]], language: str) -> dict[str, str]:
    """Intake's 422 ``errors`` as field → message in the viewer's language."""
    found: dict[str, str] = {}
    for error in errors:
        name = str(error.get("field", "_form"))
        message = error.get("message_en" if language == "en" else "message_vi") or \
            error.get("message_vi") or ""
        found[name] = f"{found[name]} {message}" if name in found else message
    return found


def filing_preview(reference: Reference, form: ComplaintForm, channel: str, now: datetime,
                   t: Any) -> dict[str, Any]:
    kind = form.values.get("kind") or "complaint"
    product = form.values.get("product") or None
    category = form.values.get("category") or None
    rule = reference.channel_rule(kind, product, category)
    preview: dict[str, Any] = {
        "kind": kind, "channel_rule": rule if rule and rule.get("channel") != channel else None}
    if kind == "advice":
        return preview
    try:
        incident = form.incident()
    except ValueError:
        preview["error"] = t("intake.error.date")
        return preview
    if incident is None:
        return preview
    if incident > now.astimezone(VIETNAM_TZ).date():
        preview["error"] = t("intake.error.future")
        return preview
    try:
        preview.update(reference.filing(product, category, incident, now))
    except Exception as exc:  # outside the calendar's coverage: say so, do not fail
        preview["error"] = str(exc)
    return preview
