"""Reference data the console shows: catalogue names (products, categories, departments,
checklist items), the filing-window rule and the channel rules — the same files the
services read, so the preview before submit says what intake will say. The preview is
advice; intake's answer on submit is the verdict (the receipt shows it)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hotro.shared.calendar import DeadlinePolicy, WorkingCalendar, load_calendar, load_policy
from hotro.shared.reference import CATALOGUE_FILE

#: intake's packaged channel rules (read as data: the console imports no other service)
CHANNEL_RULES_FILE = Path(__file__).parents[1] / "intake" / "config" / "channel_rules.toml"


@dataclass(frozen=True)
class Entry:
    code: str
    name: str


@dataclass(frozen=True)
class Reference:
    products: tuple[Entry, ...]
    categories: tuple[Entry, ...]
    departments: tuple[Entry, ...]
    checklist_items: tuple[Entry, ...]
    channel_rules: tuple[dict[str, Any], ...]
    calendar: WorkingCalendar
    policy: DeadlinePolicy
    _names: dict[str, str] = field(default_factory=dict)

    def name(self, code: str | None) -> str:
        if not code:
            return ""
        return self._names.get(code, code)

    def filing(self, product: str | None, category: str | None, incident: date,
               now: datetime) -> dict[str, Any]:
        """The filing-window verdict intake will give (docs/process.md, step 1)."""
        days, rule = self.policy.resolve_working_days("filing", product, category)
        computed = self.calendar.add_working_days(incident, days)
        return {"last_day": computed.last_day, "late": now >= computed.ends_at,
                "days": days, "rule": rule, "explanation": computed.explain()}

    def channel_rule(self, kind: str, product: str | None, category: str | None
                     ) -> dict[str, Any] | None:
        """A product rule wins over a category rule (intake's own order)."""
        matching = []
        for rule in self.channel_rules:
            if rule.get("kind") not in (None, kind):
                continue
            if rule.get("product") is not None and rule["product"] == product:
                matching.append((0, rule))
            elif rule.get("category") is not None and rule["category"] == category:
                matching.append((1, rule))
        matching.sort(key=lambda pair: pair[0])
        return matching[0][1] if matching else None


def load_reference(catalogue_file: str | None, deadline_policy_file: str | None,
                   channel_rules_file: str | None) -> Reference:
    raw = tomllib.loads(Path(catalogue_file or CATALOGUE_FILE).read_text(encoding="utf-8"))

    def entries(section: str) -> tuple[Entry, ...]:
        return tuple(Entry(str(e["code"]), str(e["name"])) for e in raw.get(section, ()))

    rules_path = Path(channel_rules_file or CHANNEL_RULES_FILE)
    rules = tuple(tomllib.loads(rules_path.read_text(encoding="utf-8")).get("rules", ())) \
        if rules_path.exists() else ()
    reference = Reference(products=entries("products"), categories=entries("categories"),
                          departments=entries("departments"),
                          checklist_items=entries("checklist_items"), channel_rules=rules,
                          calendar=load_calendar(), policy=load_policy(deadline_policy_file))
    for group in (reference.products, reference.categories, reference.departments,
                  reference.checklist_items):
        reference._names.update({e.code: e.name for e in group})
    return reference
