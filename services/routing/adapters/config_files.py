"""Read the catalogue and triage files; the domain validates what was read. Every error is
a ``ConfigError`` naming the file (and the entry, when the content is wrong)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from hotro.services.routing.domain.catalogue import Catalogue, ConfigError, parse_catalogue
from hotro.services.routing.domain.triage import TriageRules, parse_triage_rules
from hotro.shared.reference import CATALOGUE_FILE


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error


def load_catalogue(path: Path) -> Catalogue:
    raw = read_toml(path)
    try:
        return parse_catalogue(raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def load_triage_rules(path: Path, catalogue: Catalogue | None = None) -> TriageRules:
    """Load and validate ``path``. Without ``catalogue``, the packaged shared catalogue
    supplies the known codes."""
    if catalogue is None:
        catalogue = load_catalogue(CATALOGUE_FILE)
    raw = read_toml(path)
    try:
        return parse_triage_rules(raw, catalogue)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error
