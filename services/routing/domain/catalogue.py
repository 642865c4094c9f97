"""Routing's reference data: departments, products, categories, checklist items, policy.

Validated here from already-read data; reading the file is ``adapters.config_files``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CODE_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class ConfigError(ValueError):
    """A routing config file is unreadable or inconsistent; the message names the entry."""


class Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1)


class Department(Entry):
    email: str | None = None


class Product(Entry):
    pass


class Category(Entry):
    pass


class ChecklistItem(Entry):
    #: the name an English-speaking customer reads (notify falls back to ``name``)
    name_en: str | None = None


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Calendar days after closing (or refusal) during which a case may be reopened.
    reopen_period_days: int = Field(ge=0)


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: Policy
    departments: tuple[Department, ...] = Field(min_length=1)
    products: tuple[Product, ...] = Field(min_length=1)
    categories: tuple[Category, ...] = Field(min_length=1)
    checklist_items: tuple[ChecklistItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_are_unique(self) -> Catalogue:
        for section in ("departments", "products", "categories", "checklist_items"):
            seen: set[str] = set()
            for entry in getattr(self, section):
                if entry.code in seen:
                    raise ValueError(f"{section}: code {entry.code!r} appears twice")
                seen.add(entry.code)
        return self

    @property
    def department_codes(self) -> frozenset[str]:
        return frozenset(d.code for d in self.departments)

    @property
    def product_codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.products)

    @property
    def category_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.categories)

    @property
    def checklist_codes(self) -> frozenset[str]:
        return frozenset(i.code for i in self.checklist_items)

    def department(self, code: str) -> Department:
        for department in self.departments:
            if department.code == code:
                return department
        raise KeyError(f"unknown department {code!r}")

    def checklist_item(self, code: str) -> ChecklistItem:
        for item in self.checklist_items:
            if item.code == code:
                return item
        raise KeyError(f"unknown checklist item {code!r}")


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: 'field.path: message'."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'entry'}: {problem['msg']}"
        for problem in error.errors()
    )


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    """Validate a parsed catalogue file; the error names the offending entry."""
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from error
