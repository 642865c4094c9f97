"""Intake's configuration files: the catalogue codes it accepts and the channel rules.

The catalogue is the shared one (`HOTRO_CATALOGUE_FILE`, packaged in `shared/reference/`):
intake reads only the product and category codes with its own small model. The channel
rules are intake's own (`config/channel_rules.toml`).
Loading happens in the composition root, never at import time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotro.services.intake.domain.channel_rules import ChannelRules
from hotro.shared.reference import CATALOGUE_FILE

M = TypeVar("M", bound=BaseModel)

DEFAULT_CHANNEL_RULES = str(Path(__file__).parents[1] / "config" / "channel_rules.toml")


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


def _load(model: type[M], path: str | Path) -> M:
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
        return model.model_validate(raw)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ReferenceDataError(f"{file}: {exc}") from None


def load_catalogue(path: str | Path = CATALOGUE_FILE) -> Catalogue:
    return _load(Catalogue, path)


def load_channel_rules(path: str | Path = DEFAULT_CHANNEL_RULES) -> ChannelRules:
    return _load(ChannelRules, path)
