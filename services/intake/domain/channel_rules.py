"""Requests of some products or categories must come through one channel (e.g. a warranty
claim at the counter): the rules, and which one applies."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

ChannelName = Literal["counter", "hotline", "email", "web"]


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
