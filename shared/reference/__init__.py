"""Reference data every service reads: the product and category catalogue.

One file, one setting (``HOTRO_CATALOGUE_FILE``, default: the packaged ``catalogue.toml``
beside this module); each service parses the part it needs with its own small model."""

from __future__ import annotations

from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")
