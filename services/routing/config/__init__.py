"""Routing's reference data (catalogue.toml) and triage rules (triage.toml).

A package only so that the TOML files ship with the distribution."""

from pathlib import Path

CONFIG_DIR = Path(__file__).parent
CATALOGUE_PATH = CONFIG_DIR / "catalogue.toml"
TRIAGE_RULES_PATH = CONFIG_DIR / "triage.toml"
