"""Intake's configuration as data: the catalogue codes it accepts and the channel rules.

The catalogue is the shared one (`HOTRO_CATALOGUE_FILE`, packaged in `shared/reference/`):
intake reads only the product and category codes with its own small model.
Loading happens in the composition root, never at import time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hotro.shared.reference import CATALOGUE_FILE

DEFAULT_CHANNEL_RULES = str(Path(__file__).parent / "config" / "channel_rules.toml")

ChannelName = Literal["counter", "hotline", "email", "web"]


class ReferenceDataError(ValueError):
    pass


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str = Field(min_length=1)


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    products: tuple[_Entry, ...] = ()
    categories: tuple[_Entry, ...] = ()

    def product_codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.products)

    def category_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.categories)


class ChannelRule(BaseModel):
    """Requests matching (kind, product or category) must come through `channel`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["complaint", "advice"] | None = None
    product: str | None = None
    category: str | None = None
    channel: ChannelName
    requirement_vi: str = Field(min_length=1)
    requirement_en: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.product is None) == (self.category is None):
            raise ValueError("give exactly one of product or category")
        return self

    def matches(self, kind: str, product: str | None, category: str | None) -> bool:
        if self.kind is not None and self.kind != kind:
            return False
        if self.product is not None:
            return self.product == product
        return self.category == category


class ChannelRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[ChannelRule, ...] = ()

    def rule_for(self, kind: str, product: str | None,
                 category: str | None) -> ChannelRule | None:
        """A product rule wins over a category rule."""
        matching = [r for r in self.rules if r.matches(kind, product, category)]
        matching.sort(key=lambda r: r.product is None)
        return matching[0] if matching else None


def _load(model: type[BaseModel], path: str | Path) -> BaseModel:
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
        return model.model_validate(raw)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ReferenceDataError(f"{file}: {exc}") from None


def load_catalogue(path: str | Path = CATALOGUE_FILE) -> Catalogue:
    catalogue = _load(Catalogue, path)
    assert isinstance(catalogue, Catalogue)
    return catalogue


def load_channel_rules(path: str | Path = DEFAULT_CHANNEL_RULES) -> ChannelRules:
    rules = _load(ChannelRules, path)
    assert isinstance(rules, ChannelRules)
    return rules
