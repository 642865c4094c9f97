"""Deadline rules as data: how many working days each kind of deadline allows.

Precedence: a product override, then a category override, then the default for the kind.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hotro.shared.calendar.errors import CalendarDataError
from hotro.shared.calendar.resources import parse_toml, read_packaged_toml
from hotro.shared.calendar.validation import format_validation_error

POLICY_FILE = "deadline_policy.toml"


class DeadlineKind(StrEnum):
    FILING = "filing"
    REPLY = "reply"
    FIRST_CONTACT = "first_contact"
    DEPARTMENT = "department"
    CUSTOMER_INFO = "customer_info"


class DeadlineRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: int = Field(ge=1, le=365)
    basis: str = Field(min_length=1, description="why this many days: the process step or law")


class DeadlineOverride(BaseModel):
    """A product's or category's own deadline (give exactly one of product / category)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DeadlineKind
    product: str | None = Field(default=None, min_length=1)
    category: str | None = Field(default=None, min_length=1)
    working_days: int = Field(ge=1, le=365)
    basis: str = Field(min_length=1)

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Self:
        if (self.product is None) == (self.category is None):
            raise ValueError("give exactly one of product or category")
        return self

    @property
    def target(self) -> str:
        return f"product {self.product}" if self.product else f"category {self.category}"


def _rule(days: int, basis: str) -> DeadlineRule:
    return DeadlineRule(working_days=days, basis=basis)


DEFAULT_RULES: dict[DeadlineKind, DeadlineRule] = {
    DeadlineKind.FILING: _rule(
        7, "customer-support process step 1: 07 working days from the day of the incident"
    ),
    DeadlineKind.REPLY: _rule(
        10, "customer-support process step 3: 10 working days from receipt of the complaint"
    ),
    DeadlineKind.FIRST_CONTACT: _rule(
        7, "Law 19/2023/QH15 on consumer-rights protection, art. 57(2): 7 working days"
    ),
    DeadlineKind.DEPARTMENT: _rule(5, "internal target for the department concerned"),
    DeadlineKind.CUSTOMER_INFO: _rule(
        5, "internal target for the customer's additional information"
    ),
}


class DeadlinePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int = Field(default=1, ge=1, le=1)
    defaults: dict[DeadlineKind, DeadlineRule] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    overrides: tuple[DeadlineOverride, ...] = ()

    @model_validator(mode="after")
    def _complete_and_unambiguous(self) -> Self:
        missing = [kind.value for kind in DeadlineKind if kind not in self.defaults]
        problems = [f"defaults: missing kind(s) {', '.join(missing)}"] if missing else []
        seen: dict[tuple[DeadlineKind, str | None, str | None], int] = {}
        for index, override in enumerate(self.overrides):
            key = (override.kind, override.product, override.category)
            if key in seen:
                problems.append(
                    f"overrides[{index}] ({override.target}, kind={override.kind.value}): "
                    f"duplicates overrides[{seen[key]}]"
                )
            seen[key] = index
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def resolve_working_days(
        self, kind: DeadlineKind | str, product: str | None = None, category: str | None = None
    ) -> tuple[int, str]:
        """(working days, rule text) for ``kind``, honouring product then category overrides."""
        wanted = DeadlineKind(kind)
        for field, value in (("product", product), ("category", category)):
            if value is None:
                continue
            for override in self.overrides:
                if override.kind == wanted and getattr(override, field) == value:
                    return override.working_days, (
                        f"{wanted.value}: {override.working_days} working days "
                        f"({override.target} override: {override.basis})"
                    )
        rule = self.defaults[wanted]
        return rule.working_days, f"{wanted.value}: {rule.working_days} working days ({rule.basis})"


def parse_policy(text: str, *, origin: str) -> DeadlinePolicy:
    """Validate a policy TOML; errors name the offending entry (e.g. ``overrides[2] (…)``)."""
    return _validated(parse_toml(text, origin=origin), origin=origin)


def _validated(raw: dict[str, Any], *, origin: str) -> DeadlinePolicy:
    try:
        return DeadlinePolicy.model_validate(raw)
    except ValidationError as exc:
        raise CalendarDataError(format_validation_error(origin, raw, exc)) from None


def load_policy(path: Path | str | None = None) -> DeadlinePolicy:
    """The policy in ``path``, or the packaged ``data/deadline_policy.toml`` when None."""
    if path is None:
        return default_policy()
    file = Path(path)
    return parse_policy(file.read_text(encoding="utf-8"), origin=str(file))


@functools.cache
def default_policy() -> DeadlinePolicy:
    return _validated(read_packaged_toml(POLICY_FILE), origin=POLICY_FILE)


def resolve_working_days(
    kind: DeadlineKind | str,
    product: str | None = None,
    category: str | None = None,
    *,
    policy: DeadlinePolicy | None = None,
) -> tuple[int, str]:
    """(working days, rule text) from ``policy`` (default: the packaged policy)."""
    return (policy or default_policy()).resolve_working_days(kind, product, category)
