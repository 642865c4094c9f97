"""JSON-schema snapshots of the wire contracts (``shared/contracts/schemas``).

An incompatible change to a contract changes its schema, so the snapshot test fails until
someone renews the snapshot on purpose (``hotro contracts --write``) — or, better, adds a
new ``SCHEMA_VERSION`` for the changed event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hotro.shared.contracts.envelope import Envelope
from hotro.shared.contracts.events import PAYLOAD_TYPES

SCHEMA_DIR = Path(__file__).parent / "schemas"


def current_schemas() -> dict[str, dict[str, Any]]:
    schemas = {f"Envelope.v{1}.json": Envelope.model_json_schema()}
    for cls in PAYLOAD_TYPES:
        schemas[f"{cls.EVENT_TYPE}.v{cls.SCHEMA_VERSION}.json"] = cls.model_json_schema()
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_snapshots(directory: Path = SCHEMA_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in current_schemas().items():
        (directory / name).write_text(render(schema), encoding="utf-8")
        written.append(name)
    return written
