"""Triage rules as data: what to do first with a new request.

A rule matches when every criterion it sets matches (an empty list means "any"): kind,
product code, category code, and at least one keyword in the customer's text. Rules are
tried in ascending ``priority`` (unique, so the file order never matters); the first match
wins, else the default rule applies. A decision is only a proposal recorded on the case.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hotro.services.routing.domain.catalogue import (
    CODE_PATTERN,
    Catalogue,
    ConfigError,
    describe_validation_error,
)
from hotro.services.routing.domain.keywords import SearchText
from hotro.shared.contracts.events import RequestKind

Outcome = Literal["request_info", "refer", "support_can_resolve"]


class TriageDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    outcome: Outcome
    department: str | None = None
    #: Checklist item codes to ask the customer for (for "refer": what the department needs).
    checklist: tuple[str, ...] = ()
    explanation: str


class RuleOutcome(BaseModel):
    """What a rule proposes. ``refer`` may carry a checklist of documents to gather first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=CODE_PATTERN)
    outcome: Outcome
    department: str | None = None
    checklist: tuple[str, ...] = ()
    explanation: str = ""

    @model_validator(mode="after")
    def _outcome_is_coherent(self) -> RuleOutcome:
        if self.outcome == "refer" and self.department is None:
            raise ValueError("outcome 'refer' needs a department")
        if self.outcome != "refer" and self.department is not None:
            raise ValueError(f"outcome {self.outcome!r} takes no department")
        if self.outcome == "request_info" and not self.checklist:
            raise ValueError("outcome 'request_info' needs a non-empty checklist")
        if self.outcome == "support_can_resolve" and self.checklist:
            raise ValueError("outcome 'support_can_resolve' takes no checklist")
        if len(set(self.checklist)) != len(self.checklist):
            raise ValueError(f"checklist repeats an item: {list(self.checklist)}")
        return self

    def decide(self, explanation: str) -> TriageDecision:
        return TriageDecision(rule_id=self.id, outcome=self.outcome, department=self.department,
                              checklist=self.checklist, explanation=explanation)


class TriageRule(RuleOutcome):
    priority: int = Field(ge=0)
    kinds: tuple[RequestKind, ...] = ()
    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _keywords_not_blank(self) -> TriageRule:
        if any(not keyword.strip() for keyword in self.keywords):
            raise ValueError("keywords must not be blank")
        return self

    def match(self, kind: str, product: str | None, category: str | None,
              text: SearchText) -> list[str] | None:
        """Why this rule matches (one reason per criterion it sets), or None. Reasons are
        Vietnamese, like the rules' own explanations: staff read them on the case page."""
        reasons: list[str] = []
        if self.kinds:
            if kind not in self.kinds:
                return None
            reasons.append(f"loại={kind}")
        if self.products:
            if product not in self.products:
                return None
            reasons.append(f"sản phẩm={product}")
        if self.categories:
            if category not in self.categories:
                return None
            reasons.append(f"danh mục={category}")
        if self.keywords:
            found = next((k for k in self.keywords if text.has(k)), None)
            if found is None:
                return None
            reasons.append(f"từ khóa '{found}'")
        return reasons


class TriageRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[TriageRule, ...]
    default: RuleOutcome

    @model_validator(mode="after")
    def _sorted_by_priority(self) -> TriageRules:
        priorities = [rule.priority for rule in self.rules]
        if priorities != sorted(priorities):
            raise ValueError("rules must be sorted by priority (use parse_triage_rules)")
        return self

    def evaluate(self, kind: str, product: str | None, category: str | None,
                 text: str) -> TriageDecision:
        searchable = SearchText(text)  # normalised and folded once for every rule
        for rule in self.rules:
            reasons = rule.match(kind, product, category, searchable)
            if reasons is not None:
                matched = ", ".join(reasons) or "mọi yêu cầu"
                return rule.decide(_explain(
                    f"quy tắc '{rule.id}' (ưu tiên {rule.priority}) khớp theo {matched}",
                    rule.explanation))
        return self.default.decide(_explain(
            f"không quy tắc nào khớp; quy tắc mặc định '{self.default.id}'",
            self.default.explanation))


def _explain(what: str, why: str) -> str:
    return f"{what}: {why}" if why else what


def parse_triage_rules(raw: dict[str, Any], catalogue: Catalogue) -> TriageRules:
    """Validate a parsed triage file; each error names the offending entry."""
    unknown_sections = set(raw) - {"rules", "default"}
    if unknown_sections:
        raise ConfigError(f"unknown sections {sorted(unknown_sections)} "
                          "(expected [[rules]] and [default])")
    raw_rules = raw.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ConfigError("'rules' must be an array of tables ([[rules]])")

    rules: list[TriageRule] = []
    for number, raw_rule in enumerate(raw_rules, start=1):
        label = _label(number, raw_rule)
        try:
            rule = TriageRule.model_validate(raw_rule)
        except ValidationError as error:
            raise ConfigError(f"{label}: {describe_validation_error(error)}") from error
        _check_references(label, rule, catalogue)
        for earlier_number, earlier in enumerate(rules, start=1):
            if earlier.id == rule.id:
                raise ConfigError(f"{label}: id already used by rule #{earlier_number}")
            if earlier.priority == rule.priority:
                raise ConfigError(f"{label}: priority {rule.priority} already used by "
                                  f"rule #{earlier_number} '{earlier.id}'")
        rules.append(rule)

    if "default" not in raw:
        raise ConfigError("no [default] rule: something must apply when no rule matches")
    label = f"default rule '{_id_of(raw['default'])}'"
    try:
        default = RuleOutcome.model_validate(raw["default"])
    except ValidationError as error:
        raise ConfigError(f"{label}: {describe_validation_error(error)}") from error
    _check_references(label, default, catalogue)
    if any(rule.id == default.id for rule in rules):
        raise ConfigError(f"{label}: id already used by a rule")

    return TriageRules(rules=tuple(sorted(rules, key=lambda r: r.priority)), default=default)


def _id_of(raw: object) -> str:
    return str(raw.get("id", "?")) if isinstance(raw, dict) else "?"


def _label(number: int, raw_rule: object) -> str:
    return f"rule #{number} '{_id_of(raw_rule)}'"


def _check_references(label: str, rule: RuleOutcome, catalogue: Catalogue) -> None:
    references: list[tuple[str, tuple[str, ...], frozenset[str]]] = [
        ("department", (rule.department,) if rule.department else (),
         catalogue.department_codes),
        ("checklist item", rule.checklist, catalogue.checklist_codes),
    ]
    if isinstance(rule, TriageRule):
        references += [("product", rule.products, catalogue.product_codes),
                       ("category", rule.categories, catalogue.category_codes)]
    for what, codes, known in references:
        for code in codes:
            if code not in known:
                raise ConfigError(f"{label}: unknown {what} '{code}'")
