"""Routing's triage rules (triage.toml); the catalogue is shared (``hotro.shared.reference``).

A package only so that the TOML files ship with the distribution."""

from pathlib import Path

CONFIG_DIR = Path(__file__).parent
TRIAGE_RULES_PATH = CONFIG_DIR / "triage.toml"
